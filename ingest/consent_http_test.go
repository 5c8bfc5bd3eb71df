package ingest

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"testing"
)

// TestConsentRefusalsInEveryShape: false, "false", 0 and "0" refuse
// consent wherever a consent flag is read, JSON API and pixel alike;
// true, "true" and 1 do not.
func TestConsentRefusalsInEveryShape(t *testing.T) {
	env := mustCollectEnv(t, nil)
	refused := map[string]string{
		"bool":                   `false`,
		"string":                 `"false"`,
		"number":                 `0`,
		"number string":          `"0"`,
		"advertising string":     `{"advertising": "false"}`,
		"advertising number":     `{"advertising": 0}`,
		"advertising num string": `{"advertising": "0"}`,
		"preferences string":     `{"categoryPreferences": {"Advertising": "false", "Analytics": true}}`,
		"preferences number":     `{"categoryPreferences": {"advertising": 0}}`,
	}
	granted := map[string]string{
		"true": `true`, "string true": `"true"`, "one": `1`, "advertising true": `{"advertising": true}`,
		"advertising one": `{"advertising": "1"}`, "preferences true": `{"categoryPreferences": {"Advertising": true}}`,
	}
	want := map[string]uint8{}
	for cases, optedOut := range map[*map[string]string]uint8{&refused: 1, &granted: 0} {
		for name, consent := range *cases {
			vid := "api " + name
			body := fmt.Sprintf(`{"writeKey": "wk_open", "anonymousId": %q, "event": "Product Viewed", "context": {"consent": %s}}`, vid, consent)
			if resp, got := env.do(t, "POST", "/v1/track", jsonHeader(), body); resp.StatusCode != http.StatusOK {
				t.Fatalf("%s: %d %s", name, resp.StatusCode, got)
			}
			want[vid] = optedOut

			vid = "pixel data " + name
			data := base64.StdEncoding.EncodeToString(fmt.Appendf(nil, `{"event": "Product Viewed", "anonymousId": %q, "context": {"consent": %s}}`, vid, consent))
			resp, got := env.do(t, "GET", "/p.gif?k=wk_open&data="+url.QueryEscape(data), nil, "")
			checkGIF(t, resp, got)
			want[vid] = optedOut
		}
	}
	for c, optedOut := range map[string]uint8{"0": 1, "false": 1, "no": 1, "1": 0, "true": 0} {
		vid := "pixel c=" + c
		resp, got := env.do(t, "GET", "/p.gif?k=wk_open&c="+c+"&vid="+url.QueryEscape(vid), nil, "")
		checkGIF(t, resp, got)
		want[vid] = optedOut
	}
	env.flush(t)
	rows := env.storedEvents(t, "open")
	if len(rows) != len(want) {
		t.Fatalf("stored %d events, want %d", len(rows), len(want))
	}
	for _, r := range rows {
		if r.OptedOut != want[r.VisitorID] {
			t.Errorf("%s: stored opted_out=%d, want %d", r.VisitorID, r.OptedOut, want[r.VisitorID])
		}
	}
}
