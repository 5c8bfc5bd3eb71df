package config_test

import (
	"strings"
	"testing"
	"time"

	"github.com/remarket/remarket/internal/config"
)

const withFeeds = minimal + `    max_discount_percent: 20
    time_zone: Europe/Berlin
    discounts:
      - {audience: cart, percent: 10, duration: 48h}
      - {motivation: overstock, amount: 5, bundle_percent: 15, duration: 72h, start: trigger}
    offer_keys:
      - {id: k2, secret: 0123456789abcdef0123456789abcdef-new}
      - {id: k1, secret: 0123456789abcdef0123456789abcdef-old}
`

func TestParseFeedsSection(t *testing.T) {
	cfg, err := config.Parse([]byte(withFeeds), nil)
	if err != nil {
		t.Fatal(err)
	}
	f := cfg.Sites[0].SiteFeeds
	if len(f.Discounts) != 2 || f.Discounts[0].Duration != 48*time.Hour || f.Discounts[1].Start != "trigger" {
		t.Fatalf("discounts = %+v", f.Discounts)
	}
	if f.MaxDiscount() != 20 || f.Location().String() != "Europe/Berlin" || f.OfferKeys[0].ID != "k2" {
		t.Fatalf("site feeds = %+v", f)
	}
	if cfg.Feeds.MaxItems != 10000 || cfg.Feeds.UTMSource["meta"] != "facebook" {
		t.Fatalf("feeds defaults = %+v", cfg.Feeds)
	}
}

func TestFeedsRejects(t *testing.T) {
	cases := map[string]string{
		"over max":       "    discounts: [{percent: 40, duration: 1h}]\n",
		"both kinds":     "    discounts: [{percent: 10, amount: 3, duration: 1h}]\n",
		"no duration":    "    discounts: [{percent: 10}]\n",
		"bad strategy":   "    discounts: [{strategy: spam, percent: 10, duration: 1h}]\n",
		"shallow bundle": "    discounts: [{percent: 10, bundle_percent: 5, duration: 1h}]\n",
		"short key":      "    offer_keys: [{id: k1, secret: short}]\n",
		"dup key":        "    offer_keys: [{id: k1, secret: 0123456789abcdef0123456789abcdef}, {id: k1, secret: 0123456789abcdef0123456789abcdef}]\n",
		"bad zone":       "    time_zone: Mars/Olympus\n",
		"max too high":   "    max_discount_percent: 95\n",
	}
	for name, extra := range cases {
		if _, err := config.Parse([]byte(minimal+extra), nil); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestRedactedHidesOfferKeys(t *testing.T) {
	cfg, err := config.Parse([]byte(withFeeds), nil)
	if err != nil {
		t.Fatal(err)
	}
	r := cfg.Redacted()
	for _, k := range r.Sites[0].OfferKeys {
		if strings.Contains(k.Secret, "0123456789abcdef") {
			t.Fatalf("redacted offer key %s shows its secret", k.ID)
		}
	}
	if cfg.Sites[0].OfferKeys[0].Secret != "0123456789abcdef0123456789abcdef-new" {
		t.Fatal("Redacted changed the original offer keys")
	}
}

func TestStarterHasDiscountsAndOfferKey(t *testing.T) {
	s, err := config.Starter("shop")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse([]byte(s), nil)
	if err != nil {
		t.Fatal(err)
	}
	f := cfg.Sites[0].SiteFeeds
	if len(f.Discounts) == 0 || len(f.OfferKeys) != 1 {
		t.Fatalf("starter feeds = %+v", f)
	}
	other, _ := config.Starter("shop")
	if strings.Contains(other, f.OfferKeys[0].Secret) {
		t.Fatal("two starters share an offer key")
	}
}
