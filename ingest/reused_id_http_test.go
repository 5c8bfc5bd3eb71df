package ingest

import (
	"context"
	"net/http"
	"testing"
	"time"
)

// TestReusedEventIDCannotReplaceAPurchase: the write key is public, so
// anyone can post an event with another visitor's event id. Through the
// collect API, a page view re-using a buyer's messageId neither replaces
// the buyer's purchase when sent as another visitor, nor when sent as the
// buyer later on (the copy received first is the event); the forger's
// page view is its own event. Before events were keyed by visitor and
// the first copy won, the page view replaced the purchase.
func TestReusedEventIDCannotReplaceAPurchase(t *testing.T) {
	env := mustCollectEnv(t, nil)
	send := func(visitor, typ, event string) {
		t.Helper()
		body := `{"writeKey": "wk_open", "type": "` + typ + `", "messageId": "order-1", "anonymousId": "` + visitor + `"`
		if typ == "track" {
			body += `, "event": "` + event + `", "properties": {"order_id": "O1", "revenue": 120}`
		}
		body += `}`
		if resp, got := env.do(t, "POST", "/v1/"+typ, jsonHeader(), body); resp.StatusCode != http.StatusOK {
			t.Fatalf("%s %s: %d %s", visitor, typ, resp.StatusCode, got)
		}
	}
	send("buyer", "track", "Order Completed")
	env.flush(t)
	// received_at has a resolution of one second: let the forgeries
	// arrive in a later one, as they would.
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(1100 * time.Millisecond)))
	send("forger", "page", "")
	send("buyer", "page", "")
	env.flush(t)
	if err := env.db.Exec(context.Background(), "OPTIMIZE TABLE events FINAL"); err != nil {
		t.Fatal(err)
	}

	rows := env.storedEvents(t, "open")
	got := map[string]string{}
	for _, r := range rows {
		if _, dup := got[r.VisitorID]; dup {
			t.Fatalf("two events for %s: %+v", r.VisitorID, rows)
		}
		got[r.VisitorID] = r.Type
	}
	if got["buyer"] != "purchase" || got["forger"] != "page_view" || len(got) != 2 {
		t.Fatalf("stored %v, want the buyer's purchase kept and the forger's page view beside it", got)
	}
	var revenue float64
	if err := env.db.QueryRow(context.Background(), "SELECT sum(revenue) FROM v_events WHERE site = 'open' AND visitor_id = 'buyer'").Scan(&revenue); err != nil {
		t.Fatal(err)
	}
	if revenue != 120 {
		t.Fatalf("the buyer's revenue in v_events is %v, want 120", revenue)
	}
}
