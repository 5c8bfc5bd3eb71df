package feeds_test

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/remarket/remarket/feeds"
)

// One offer has exactly one token, and a checkout that names its site
// gets only that site's offers.
func TestVerifyOfferIsStrictAndHonoursSite(t *testing.T) {
	cfg := testConfig(t)
	shop, _ := cfg.Site("shop")
	s := newServer(t, cfg)
	s.now = runFinished.Add(time.Hour)
	token, _ := feeds.SignOffer(shop.OfferKeys, feeds.Offer{Site: "shop", Audience: "cart", Product: "amp", Percent: 10,
		NotBefore: runFinished.Unix(), Expires: runFinished.Add(48 * time.Hour).Unix()})
	payload, sig, _ := strings.Cut(token, ".")
	// The last base64 character carries bits beyond the data (2 of 6 for
	// the 32-byte signature): setting them gives another string that a
	// lenient decoder reads as the same bytes.
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	loose := func(s string) string {
		last := strings.IndexByte(alphabet, s[len(s)-1])
		return s[:len(s)-1] + string(alphabet[last|1])
	}
	if loose(sig) == sig {
		t.Fatal("the test's signature already has its spare bit set")
	}
	cases := []struct {
		name, query, reason string
		status              int
	}{
		{"as signed", "token=" + token, "", 200},
		{"its own site", "token=" + token + "&site=shop", "", 200},
		{"another site's checkout", "token=" + token + "&site=other", feeds.ReasonWrongSite, 403},
		{"a site this server lacks", "token=" + token + "&site=ghost", feeds.ReasonWrongSite, 403},
		{"spare bits of the signature set", "token=" + payload + "." + loose(sig), feeds.ReasonMalformed, 400},
		{"a line break inside", "token=" + url.QueryEscape(payload[:10]+"\n"+payload[10:]+"."+sig), feeds.ReasonMalformed, 400},
		{"padding", "token=" + payload + "." + sig + "=", feeds.ReasonMalformed, 400},
	}
	for _, c := range cases {
		rec := s.get("/api/offers/verify?" + c.query)
		var body struct {
			Valid  bool
			Reason string
		}
		json.Unmarshal(rec.Body.Bytes(), &body)
		if rec.Code != c.status || body.Reason != c.reason || body.Valid != (c.reason == "") {
			t.Errorf("%s: HTTP %d %s, want %d %q", c.name, rec.Code, rec.Body, c.status, c.reason)
		}
	}
}
