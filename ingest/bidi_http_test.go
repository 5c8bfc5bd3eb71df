package ingest

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// bidiControls are the Unicode bidirectional controls (embeddings,
// overrides, isolates and marks) that can make stored text display as
// something else, e.g. "<U+202E>gpj.exe" shows as "exe.jpg".
var bidiControls = []string{"\u202A", "\u202B", "\u202C", "\u202D", "\u202E", "\u2066", "\u2067", "\u2068", "\u2069", "\u200E", "\u200F", "\u061C"}

func TestBidiControlsAreStrippedFromStoredText(t *testing.T) {
	env := mustCollectEnv(t, nil)
	all := strings.Join(bidiControls, "")
	body := `{"writeKey": "wk_open", "anonymousId": "api` + all + `", "userId": "u` + all + `", "event": "Product Viewed", "context": {"page": {"title": "Shop` + all + `", "url": "https://shop.example/` + all + `"}},
		"properties": {"product_id": "P` + all + `1", "category": "Cameras ` + all + `> DSLR", "name": "Canon\u202egpj.exe", "nested": {"list": ["a` + all + `"]}}}`
	if resp, got := env.do(t, "POST", "/v1/track", jsonHeader(), body); resp.StatusCode != http.StatusOK {
		t.Fatalf("%d %s", resp.StatusCode, got)
	}
	resp, got := env.do(t, "GET", "/p.gif?k=wk_open&vid=pixel&title="+url.QueryEscape("Sale"+all)+"&colour="+url.QueryEscape("red"+all), nil, "")
	checkGIF(t, resp, got)
	env.flush(t)
	rows := env.storedEvents(t, "open")
	if len(rows) != 2 {
		t.Fatalf("stored %d events, want 2", len(rows))
	}
	for _, r := range rows {
		fields := map[string]string{"visitor_id": r.VisitorID, "user_id": r.UserID, "title": r.Title, "url": r.URL,
			"product_id": r.ProductID, "category": r.Category, "properties": r.Properties}
		for name, v := range fields {
			for _, c := range bidiControls {
				if strings.Contains(v, c) {
					t.Errorf("%s %q keeps U+%04X", name, v, []rune(c)[0])
				}
			}
		}
	}
	if r := rows[0]; r.VisitorID == "api" && (r.ProductID != "P1" || r.Category != "Cameras > DSLR" || !strings.Contains(r.Properties, `"name":"Canongpj.exe"`)) {
		t.Errorf("stored product %q, category %q, properties %s", r.ProductID, r.Category, r.Properties)
	}
}
