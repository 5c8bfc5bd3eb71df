package ingest

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// TestNumbersMustBeDecimal: prices, order values and quantities written
// as hexadecimal floats, with digit separators or as Inf/NaN are refused
// by the JSON API and dropped by the pixel, never stored as numbers.
func TestNumbersMustBeDecimal(t *testing.T) {
	env := mustCollectEnv(t, nil)
	for _, c := range []struct{ field, value string }{
		{"price", `"0x1p10"`}, {"price", `"1_000"`}, {"price", `"Infinity"`}, {"revenue", `"0x10"`},
		{"quantity", `"0x2"`}, {"quantity", `"1_0"`},
	} {
		body := fmt.Sprintf(`{"writeKey": "wk_open", "anonymousId": "a", "event": "Order Completed", "properties": {"product_id": "P1", %q: %s}}`, c.field, c.value)
		resp, got := env.do(t, "POST", "/v1/track", jsonHeader(), body)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(got, "properties."+c.field) {
			t.Errorf("%s %s: %d %s; want 400 naming properties.%s", c.field, c.value, resp.StatusCode, got, c.field)
		}
	}
	if resp, got := env.do(t, "POST", "/v1/track", jsonHeader(),
		`{"writeKey": "wk_open", "anonymousId": "a", "event": "Order Completed", "properties": {"product_id": "P1", "price": "12.50", "quantity": "2", "revenue": 25}}`); resp.StatusCode != http.StatusOK {
		t.Fatalf("decimal numbers refused: %d %s", resp.StatusCode, got)
	}
	resp, got := env.do(t, "GET", "/p.gif?k=wk_open&vid=pixel&e=product_view&pid=P2&price=0x1p10&qty=1_000&rev=1e3", nil, "")
	checkGIF(t, resp, got)
	env.flush(t)
	for _, r := range env.storedEvents(t, "open") {
		switch r.VisitorID {
		case "a":
			if r.Price != 12.5 || r.Quantity != 2 || r.Revenue != 25 {
				t.Errorf("API event stored price %v quantity %v revenue %v", r.Price, r.Quantity, r.Revenue)
			}
		case "pixel":
			if r.Price != 0 || r.Quantity != 0 || r.Revenue != 1000 {
				t.Errorf("pixel hit stored price %v quantity %v revenue %v; want 0, 0, 1000", r.Price, r.Quantity, r.Revenue)
			}
		}
	}
}
