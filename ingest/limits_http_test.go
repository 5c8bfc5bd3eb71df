package ingest

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/remarket/remarket/internal/config"
)

// An order of more lines than an event may hold is refused by the API,
// not stored with its lines cut; the pixel keeps the first 200 and counts
// the rest.
func TestOrderLinesOverTheCap(t *testing.T) {
	env := mustCollectEnv(t, nil)
	var lines []string
	for i := range maxItems + 50 {
		lines = append(lines, fmt.Sprintf(`{"product_id":"P%d","price":1,"quantity":1}`, i))
	}
	body := `{"userId":"u1","event":"Order Completed","properties":{"order_id":"O1","revenue":250,"products":[` + strings.Join(lines, ",") + `]}}`
	resp, got := env.do(t, "POST", "/v1/track", jsonHeader("X-Write-Key", "wk_open"), body)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(got, "properties.products: 250 lines") {
		t.Fatalf("an order of 250 lines: %d %s; want 400 naming properties.products", resp.StatusCode, got)
	}

	dropped := counterValue(t, pixelFieldsDropped.WithLabelValues("products"))
	var pids []string
	for i := range maxItems + 50 {
		pids = append(pids, fmt.Sprintf("P%d", i))
	}
	resp, gif := env.do(t, "GET", "/p.gif?k=wk_open&vid=v1&e=purchase&oid=O2&pid="+strings.Join(pids, ","), nil, "")
	checkGIF(t, resp, gif)
	if d := counterValue(t, pixelFieldsDropped.WithLabelValues("products")) - dropped; d != 1 {
		t.Errorf("the pixel's cut order counted %v times, want 1", d)
	}
	env.flush(t)
	rows := env.storedEvents(t, "open")
	if len(rows) != 1 || rows[0].OrderID != "O2" || len(rows[0].Items) != maxItems {
		t.Fatalf("stored %+v; want only the pixel's order, with its first %d lines", rows, maxItems)
	}
}

// Two visitors whose ids share their first 200 bytes stay two: the pixel
// drops an over-long vid and the visitor is its cookie's.
func TestPixelRefusesAnOverLongVisitorID(t *testing.T) {
	env := mustCollectEnv(t, nil)
	dropped := counterValue(t, pixelFieldsDropped.WithLabelValues("anonymousId"))
	prefix := strings.Repeat("v", maxID)
	cookies := []string{"00000000-0000-4000-8000-000000000001", "00000000-0000-4000-8000-000000000002"}
	for i, vid := range []string{prefix + "-alice", prefix + "-bob"} {
		cookie := http.Header{"Cookie": {visitorCookie + "=" + cookies[i]}}
		resp, gif := env.do(t, "GET", "/p.gif?k=wk_open&e=product_view&pid=P1&vid="+vid, cookie, "")
		checkGIF(t, resp, gif)
	}
	if d := counterValue(t, pixelFieldsDropped.WithLabelValues("anonymousId")) - dropped; d != 2 {
		t.Errorf("over-long vids counted %v, want 2", d)
	}
	env.flush(t)
	var visitors []string
	for _, r := range env.storedEvents(t, "open") {
		visitors = append(visitors, r.VisitorID)
	}
	slices.Sort(visitors)
	if !slices.Equal(visitors, cookies) {
		t.Fatalf("stored visitors %q; want each hit under its cookie", visitors)
	}
}

// The copy of an id received first is the event, also when a later copy
// comes in the same request (the table would rank same-second copies by
// content, and could keep the later one).
func TestTheFirstCopyInARequestIsTheEvent(t *testing.T) {
	env := mustCollectEnv(t, nil)
	var orders []string
	for i := range 8 { // whichever copy the content ranks first, some pair would have lost its purchase
		orders = append(orders,
			fmt.Sprintf(`{"type":"track","messageId":"m%d","anonymousId":"a","event":"Order Completed","properties":{"order_id":"O%d","revenue":100}}`, i, i),
			fmt.Sprintf(`{"type":"track","messageId":"m%d","anonymousId":"a","event":"Product Viewed","properties":{"product_id":"P%d"}}`, i, i))
	}
	// The same id for another visitor is another event.
	orders = append(orders, `{"type":"track","messageId":"m0","anonymousId":"b","event":"Product Viewed","properties":{"product_id":"P0"}}`)
	resp, got := env.do(t, "POST", "/v1/batch", jsonHeader("X-Write-Key", "wk_open"), `{"batch":[`+strings.Join(orders, ",")+`]}`)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%d %s", resp.StatusCode, got)
	}
	env.flush(t)
	purchases, views := 0, 0
	for _, r := range env.storedEvents(t, "open") {
		switch {
		case r.Type == "purchase" && r.VisitorID == "a":
			purchases++
		case r.Type == "product_view" && r.VisitorID == "b":
			views++
		default:
			t.Errorf("stored a later copy: %+v", r)
		}
	}
	if purchases != 8 || views != 1 {
		t.Fatalf("stored %d purchases of a and %d views of b; want 8 and 1", purchases, views)
	}
}

// A window of decades (a bulk import's max_past) still cannot store a
// time event_time would wrap round.
func TestTimesOutsideWhatEventTimeHoldsAreRefused(t *testing.T) {
	env := mustCollectEnv(t, func(c *config.Config) { c.Ingest.MaxPast = 100 * 365 * 24 * time.Hour })
	resp, got := env.do(t, "POST", "/v1/track", jsonHeader("X-Write-Key", "wk_open"),
		`{"userId":"u","event":"old","timestamp":"1960-01-01T00:00:00Z"}`)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(got, "outside the times stored") {
		t.Fatalf("a 1960 event: %d %s; want 400", resp.StatusCode, got)
	}
	resp, got = env.do(t, "POST", "/v1/track", jsonHeader("X-Write-Key", "wk_open"),
		`{"userId":"u","event":"old","timestamp":"1971-01-01T00:00:00Z"}`)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("a 1971 event inside the window: %d %s", resp.StatusCode, got)
	}
	env.flush(t)
	if rows := env.storedEvents(t, "open"); len(rows) != 1 || rows[0].EventTime.Year() != 1971 {
		t.Fatalf("stored %+v; want the 1971 event only", rows)
	}
}

// x-gzip is gzip; a gzip'd body sent without a length whose compressed
// bytes pass the request limit is 413, like one with a length.
func TestGzipBodiesAndTheirLimit(t *testing.T) {
	env := mustCollectEnv(t, func(c *config.Config) { c.Ingest.MaxRequestBytes = 4000 })
	ok := `{"batch":[{"type":"track","event":"x","userId":"u"}]}`
	resp, got := env.do(t, "POST", "/v1/batch", jsonHeader("X-Write-Key", "wk_open", "Content-Encoding", "x-gzip"), gzipAt(t, ok, gzip.BestCompression))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("x-gzip: %d %s", resp.StatusCode, got)
	}
	// Stored blocks: JSON under the limit, its gzip a little over it.
	js := `{"batch":[{"type":"track","event":"x","userId":"u","properties":{"p":"` + strings.Repeat("a", 3910) + `"}}]}`
	wire := gzipAt(t, js, gzip.NoCompression)
	if len(js) > 4000 || len(wire) <= 4000 {
		t.Fatalf("the test body is %d bytes, %d gzip'd; want ≤ 4000 and > 4000", len(js), len(wire))
	}
	req, err := http.NewRequest("POST", env.srv.URL+"/v1/batch", io.NopCloser(strings.NewReader(wire))) // no length: chunked
	if err != nil {
		t.Fatal(err)
	}
	req.Header = jsonHeader("X-Write-Key", "wk_open", "Content-Encoding", "gzip")
	r, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(r.Body)
	r.Body.Close()
	if r.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(string(b), "max_request_bytes") {
		t.Fatalf("a chunked gzip body over the limit: %d %s; want 413", r.StatusCode, b)
	}
}

func gzipAt(t *testing.T, s string, level int) string {
	t.Helper()
	var b bytes.Buffer
	w, err := gzip.NewWriterLevel(&b, level)
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte(s))
	w.Close()
	return b.String()
}

// The 100 a messageId may have are characters, not bytes.
func TestAMessageIDOfAHundredCharactersIsTaken(t *testing.T) {
	env := mustCollectEnv(t, nil)
	id := strings.Repeat("順", maxMsgID)
	resp, got := env.do(t, "POST", "/v1/track", jsonHeader("X-Write-Key", "wk_open"), `{"userId":"u","event":"x","messageId":"`+id+`"}`)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("a messageId of %d characters (%d bytes): %d %s", maxMsgID, len(id), resp.StatusCode, got)
	}
}
