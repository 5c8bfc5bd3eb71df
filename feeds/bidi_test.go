package feeds_test

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// Bidirectional-text controls in catalog text (a "Trojan Source" title
// that reads "gpj.exe" as "exe.jpg") never reach a feed, in any field or
// format; right-to-left letters themselves stay.
func TestFeedsStripBidiControls(t *testing.T) {
	s := newServer(t, testConfig(t))
	controls := []string{"\u202A", "\u202B", "\u202C", "\u202D", "\u202E", "\u2066", "\u2067", "\u2068", "\u2069", "\u200E", "\u200F", "\u061C"}
	evil := strings.Join(controls, "x")
	s.fx.products("shop",
		product{ID: "bidi", Title: "Photo \u202Egpj.exe\u202C " + evil, Description: "<p>\u2067שלום\u2069 " + evil + "</p>",
			Link: "https://shop.example/b", Image: "https://cdn.example/b.jpg", Price: 10, Currency: "USD",
			Brand: "\u200FBrand\u200E", GTIN: "\u202D123", Category: "Cameras \u2066> Lenses"},
		product{ID: "anchor", Title: "Anchor \u202E" + evil, Link: "https://shop.example/a", Image: "https://cdn.example/a.jpg", Price: 20, Currency: "USD"},
	)
	s.fx.run("shop", "r1", runFinished, "cart", 3)
	s.fx.list("shop", "r1", "cart",
		listed{Product: "bidi", Anchor: "anchor", Strategy: "cross_sell", Reason: "Goes with \u202E" + evil, Motivation: "new\u200F", Rank: 1})
	s.now = runFinished.Add(time.Hour)
	for _, file := range []string{"google.xml", "meta.csv", "feed.json"} {
		rec := s.get("/feeds/shop/cart/" + file + "?token=" + feedToken)
		if rec.Code != http.StatusOK {
			t.Fatalf("%s: %d %s", file, rec.Code, rec.Body)
		}
		body := rec.Body.String()
		for _, c := range controls {
			if i := strings.Index(body, c); i >= 0 {
				t.Errorf("%s keeps %U: …%q…", file, []rune(c)[0], body[max(0, i-30):min(len(body), i+30)])
			}
		}
		if !strings.Contains(body, "Photo gpj.exe") || !strings.Contains(body, "שלום") {
			t.Errorf("%s lost the text around the controls: %s", file, body)
		}
	}
}
