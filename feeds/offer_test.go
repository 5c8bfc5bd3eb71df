package feeds_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/remarket/remarket/feeds"
	"github.com/remarket/remarket/internal/config"
)

func TestVerifyOffer(t *testing.T) {
	cfg := testConfig(t)
	shop, _ := cfg.Site("shop")
	now := runFinished.Add(time.Hour)
	offer := feeds.Offer{Site: "shop", Audience: "cart", Visitor: "v1", Product: "amp", Percent: 10, Currency: "USD",
		NotBefore: runFinished.Unix(), Expires: runFinished.Add(48 * time.Hour).Unix()}
	valid, _ := feeds.SignOffer(shop.OfferKeys, offer)
	oldKey, _ := feeds.SignOffer(shop.OfferKeys[1:], offer) // signed before k2 was added
	retired, _ := feeds.SignOffer([]config.OfferKey{{ID: "k0", Secret: "retired-secret-0123456789abcdef012345"}}, offer)
	forged, _ := feeds.SignOffer([]config.OfferKey{{ID: "k2", Secret: "attacker-secret-0123456789abcdef01234"}}, offer)
	unknownSite := offer
	unknownSite.Site = "ghost"
	ghost, _ := feeds.SignOffer(shop.OfferKeys, unknownSite)

	// Tampered: raise the discount in the payload, keep the signature.
	payload, sig, _ := strings.Cut(valid, ".")
	raw, _ := base64.RawURLEncoding.DecodeString(payload)
	var m map[string]any
	json.Unmarshal(raw, &m)
	m["pc"] = 90
	raw, _ = json.Marshal(m)
	tampered := base64.RawURLEncoding.EncodeToString(raw) + "." + sig

	cases := []struct {
		name, token string
		at          time.Time
		reason      string
		status      int
	}{
		{"valid", valid, now, "", 200},
		{"signed with an older key still listed", oldKey, now, "", 200},
		{"last second of the window", valid, runFinished.Add(48*time.Hour - time.Second), "", 200},
		{"at the expiry instant", valid, runFinished.Add(48 * time.Hour), feeds.ReasonExpired, 410},
		{"before the window", valid, runFinished.Add(-time.Second), feeds.ReasonNotYetValid, 403},
		{"tampered payload", tampered, now, feeds.ReasonBadSignature, 403},
		{"forged with a guessed key", forged, now, feeds.ReasonBadSignature, 403},
		{"rotated-out key", retired, now, feeds.ReasonUnknownKey, 403},
		{"unknown site", ghost, now, feeds.ReasonUnknownSite, 404},
		{"not a token", "hello", now, feeds.ReasonMalformed, 400},
		{"empty", "", now, feeds.ReasonMalformed, 400},
		{"bad base64", "!!!.???", now, feeds.ReasonMalformed, 400},
	}
	s := newServer(t, cfg)
	for _, c := range cases {
		o, err := feeds.VerifyOffer(cfg.Site, c.token, c.at)
		switch {
		case c.reason == "" && err != nil:
			t.Errorf("%s: refused: %v", c.name, err)
		case c.reason == "" && (o.Product != "amp" || o.Percent != 10 || o.Visitor != "v1"):
			t.Errorf("%s: offer %+v", c.name, o)
		case c.reason != "" && (err == nil || err.Reason != c.reason):
			t.Errorf("%s: got %v, want %s", c.name, err, c.reason)
		}
		s.now = c.at
		rec := s.get("/api/offers/verify?token=" + url.QueryEscape(c.token))
		var body struct {
			Valid  bool
			Reason string
			Offer  feeds.OfferJSON
		}
		json.Unmarshal(rec.Body.Bytes(), &body)
		if rec.Code != c.status || body.Reason != c.reason || body.Valid != (c.reason == "") {
			t.Errorf("%s: HTTP %d %s", c.name, rec.Code, rec.Body)
		}
		if c.reason == "" && (body.Offer.Product != "amp" || !body.Offer.ValidUntil.Equal(runFinished.Add(48*time.Hour))) {
			t.Errorf("%s: offer JSON %+v", c.name, body.Offer)
		}
	}
}

// The token on a feed's landing link is what the checkout verifies.
func TestFeedLinkCarriesVerifiableOffer(t *testing.T) {
	s := newServer(t, testConfig(t))
	s.seedHard()
	feed := parseGoogle(t, s.get("/feeds/shop/cart/google.xml?token="+feedToken).Body.Bytes())
	var jpy googleItem
	for _, it := range feed.Items {
		if it.ID == "jpy" {
			jpy = it
		}
	}
	u, _ := url.Parse(jpy.Link)
	rec := s.get("/api/offers/verify?token=" + url.QueryEscape(u.Query().Get("rm_offer")))
	var body struct{ Offer feeds.OfferJSON }
	json.Unmarshal(rec.Body.Bytes(), &body)
	o := body.Offer
	if rec.Code != http.StatusOK || o.Product != "jpy" || o.Audience != "cart" || o.SalePrice != "1495" || o.Amount != "5" ||
		o.BundlePercent != 15 || o.Anchor != "amp" || o.KeyID != "k2" || !o.ValidUntil.Equal(runFinished.Add(168*time.Hour)) {
		t.Fatalf("verify %d: %+v", rec.Code, o)
	}
}
