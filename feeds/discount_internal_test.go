package feeds

import (
	"testing"
	"time"

	"github.com/remarket/remarket/internal/config"
)

func TestWindowAcrossDSTIsComputedInUTC(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	// Berlin leaves summer time at 03:00 CEST on Sun 25 Oct 2026.
	cases := []struct {
		name        string
		run         time.Time
		dur         time.Duration
		wantEnd     time.Time
		wantUntil   string
		wantGoogle  string
		wantMetaEnd string
	}{
		{"48h across the change lasts 48 real hours",
			time.Date(2026, 10, 24, 12, 0, 0, 0, time.UTC), 48 * time.Hour,
			time.Date(2026, 10, 26, 12, 0, 0, 0, time.UTC), "Mon 26 Oct",
			"2026-10-24T12:00+0000/2026-10-26T12:00+0000", "2026-10-26T12:00+00:00"},
		{"end just after local midnight names the local day",
			time.Date(2026, 10, 24, 23, 30, 0, 0, time.UTC), 24 * time.Hour,
			time.Date(2026, 10, 25, 23, 30, 0, 0, time.UTC), "Mon 26 Oct",
			"2026-10-24T23:30+0000/2026-10-25T23:30+0000", "2026-10-25T23:30+00:00"},
		{"end at local midnight names the day before",
			time.Date(2026, 10, 24, 22, 0, 0, 0, time.UTC), 25 * time.Hour, // 22:00Z+25h = 23:00Z = 00:00 CET
			time.Date(2026, 10, 25, 23, 0, 0, 0, time.UTC), "Sun 25 Oct",
			"2026-10-24T22:00+0000/2026-10-25T23:00+0000", "2026-10-25T23:00+00:00"},
		{"seconds are cut to the minute the formats carry",
			time.Date(2026, 3, 28, 12, 0, 59, 0, time.UTC), 36 * time.Hour, // across the spring change
			time.Date(2026, 3, 30, 0, 0, 0, 0, time.UTC), "Mon 30 Mar",
			"2026-03-28T12:00+0000/2026-03-30T00:00+0000", "2026-03-30T00:00+00:00"},
	}
	for _, c := range cases {
		w := windowOf(config.DiscountRule{Percent: 10, Duration: c.dur}, c.run.In(berlin), time.Time{})
		if !w.End.Equal(c.wantEnd) || w.End.Location() != time.UTC {
			t.Errorf("%s: end %v, want %v", c.name, w.End, c.wantEnd)
		}
		if got := w.until(berlin); got != c.wantUntil {
			t.Errorf("%s: until %q, want %q", c.name, got, c.wantUntil)
		}
		if got := w.google(); got != c.wantGoogle {
			t.Errorf("%s: google %q, want %q", c.name, got, c.wantGoogle)
		}
		if got := w.meta(); got[len(got)-len(c.wantMetaEnd):] != c.wantMetaEnd {
			t.Errorf("%s: meta %q", c.name, got)
		}
	}
}

func TestWindowStartsAtTriggerWhenAsked(t *testing.T) {
	run := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	trigger := run.Add(-20 * time.Hour)
	r := config.DiscountRule{Percent: 10, Duration: 24 * time.Hour, Start: "trigger"}
	if w := windowOf(r, run, trigger); !w.Start.Equal(trigger) || !w.End.Equal(trigger.Add(24*time.Hour)) {
		t.Fatalf("trigger window %+v", w)
	}
	if w := windowOf(r, run, time.Time{}); !w.Start.Equal(run) {
		t.Fatalf("without a trigger the run starts it: %+v", w)
	}
}

func TestWindowActiveAroundItsEdges(t *testing.T) {
	start := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	w := Window{Start: start, End: start.Add(48 * time.Hour)}
	for _, c := range []struct {
		at   time.Time
		want bool
	}{
		{start.Add(-time.Nanosecond), false},
		{start, true},
		{w.End.Add(-time.Nanosecond), true},
		{w.End, false},
	} {
		if got := w.Active(c.at); got != c.want {
			t.Errorf("Active(%v) = %v", c.at, got)
		}
	}
}

func TestBuilderHidesExpiredAndFutureDiscounts(t *testing.T) {
	run := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	site := config.Site{ID: "s", SiteFeeds: config.SiteFeeds{OfferKeys: []config.OfferKey{{ID: "k", Secret: "0123456789abcdef0123456789abcdef"}}}}
	row := Row{ProductID: "p", Title: "T", Link: "https://x.example/p", Image: "https://x.example/i.jpg", Price: 100, Currency: "USD", Strategy: "upsell"}
	for _, c := range []struct {
		now  time.Time
		sale bool
	}{
		{run.Add(-time.Second), false}, // clock behind the run: not yet valid
		{run, true},
		{run.Add(48*time.Hour - time.Second), true},
		{run.Add(48 * time.Hour), false},
	} {
		rule := config.DiscountRule{Strategy: "upsell", Percent: 10, Duration: 48 * time.Hour}
		b := &Builder{Site: site, Audience: "a", Now: c.now, OfferParam: "rm_offer",
			Rules: []config.DiscountRule{rule}, Windows: map[string]Window{"p": windowOf(rule, run, time.Time{})}}
		it, skip := b.Build(&row)
		if skip != "" {
			t.Fatal(skip)
		}
		if it.HasSale() != c.sale || (it.OfferToken != "") != c.sale || (it.Labels[3] != "") != c.sale {
			t.Errorf("at %v: sale %v token %q label %q", c.now, it.Sale, it.OfferToken, it.Labels[3])
		}
	}
}

func TestDiscounted(t *testing.T) {
	usd := func(minor int64) Money { return Money{minor, "USD"} }
	cases := []struct {
		name          string
		price         Money
		pct, amt, max float64
		want          int64
		ok            bool
	}{
		{"10% of 1234.50", usd(123450), 10, 0, 30, 111105, true},
		{"rounds to the cent", usd(999), 15, 0, 30, 849, true},
		{"capped by the site max", usd(1000), 50, 0, 30, 700, true},
		{"amount", usd(1000), 0, 2.5, 30, 750, true},
		{"amount capped", usd(1000), 0, 9, 30, 700, true},
		{"JPY whole yen", Money{1500, "JPY"}, 10, 0, 30, 1350, true},
		{"JPY amount", Money{1500, "JPY"}, 0, 5, 30, 1495, true},
		{"too small to discount", usd(1), 10, 0, 30, 0, false},
		{"zero percent", usd(1000), 0, 0, 30, 0, false},
		{"max zero", usd(1000), 10, 0, 0, 0, false},
	}
	for _, c := range cases {
		got, ok := discounted(c.price, c.pct, c.amt, c.max)
		if ok != c.ok || got.Minor != c.want {
			t.Errorf("%s: %v %v, want %d %v", c.name, got, ok, c.want, c.ok)
		}
		if ok && (got.Minor >= c.price.Minor || got.Minor <= 0) {
			t.Errorf("%s: sale %d not strictly below %d", c.name, got.Minor, c.price.Minor)
		}
	}
}

// TestSaleIsBelowPriceAsWritten: three-decimal currencies are written
// with two decimals, so a sale is kept only when it is strictly below the
// price, and above zero, as the feed writes both.
func TestSaleIsBelowPriceAsWritten(t *testing.T) {
	cases := []struct {
		name          string
		price         Money
		pct, amt, max float64
		sale          string // "" for no sale
	}{
		{"5% of 0.100 KWD is 0.095, written 0.10", Money{100, "KWD"}, 5, 0, 30, ""},
		{"10% of 0.100 KWD", Money{100, "KWD"}, 10, 0, 30, "0.09 KWD"},
		{"0.004 BHD off 1.000 is written 1.00", Money{1000, "BHD"}, 0, 0.004, 30, ""},
		{"0.5% of 1.004 OMR: 0.999, both written 1.00", Money{1004, "OMR"}, 0.5, 0, 30, ""},
		{"a sale written 0.00 JOD", Money{10, "JOD"}, 90, 0, 90, ""},
		{"5% of 0.150 BHD rounds to 0.142, written 0.14", Money{150, "BHD"}, 5, 0, 30, "0.14 BHD"},
		{"4 decimals: 1% of 1.0000 CLF", Money{10000, "CLF"}, 1, 0, 30, "0.99 CLF"},
		{"4 decimals: 0.1% of 1.0000 CLF", Money{10000, "CLF"}, 0.1, 0, 30, ""},
	}
	for _, c := range cases {
		got, ok := discounted(c.price, c.pct, c.amt, c.max)
		if ok != (c.sale != "") || (ok && got.String() != c.sale) {
			t.Errorf("%s: sale %q (%v), want %q", c.name, got, ok, c.sale)
		}
	}
	// The item then has no sale, no offer text and no token.
	rule := config.DiscountRule{Strategy: "upsell", Percent: 5, Duration: 48 * time.Hour}
	run := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	b := &Builder{Site: offerSite(), Audience: "a", Now: run.Add(time.Hour), OfferParam: "rm_offer",
		Rules: []config.DiscountRule{rule}, Windows: map[string]Window{"kwd": windowOf(rule, run, time.Time{})}}
	row := validRow("kwd")
	row.Price, row.Currency, row.Strategy = 0.1, "KWD", "upsell"
	it, skip := b.Build(&row)
	if skip != "" || it.HasSale() || it.Labels[3] != "" || it.OfferToken != "" {
		t.Errorf("0.100 KWD, 5%% off: price %s, sale %s, offer %q, token %q (%s)", it.Price, it.Sale, it.Labels[3], it.OfferToken, skip)
	}
}

func TestMatchRuleMostSpecificWins(t *testing.T) {
	rules := []config.DiscountRule{
		{Percent: 5},
		{Strategy: "upsell", Percent: 10},
		{Audience: "cart", Strategy: "upsell", Percent: 15},
		{Audience: "cart", Motivation: "overstock", Percent: 20},
		{Audience: "other", Percent: 25},
	}
	for _, c := range []struct {
		aud, mot, strat string
		want            float64
	}{
		{"cart", "", "upsell", 15},
		{"cart", "overstock", "upsell", 15}, // tie of two: the earlier rule
		{"cart", "overstock", "cross_sell", 20},
		{"x", "", "upsell", 10},
		{"x", "", "winback", 5},
		{"other", "", "winback", 25},
	} {
		r, ok := matchRule(rules, c.aud, c.mot, c.strat)
		if !ok || r.Percent != c.want {
			t.Errorf("%s/%s/%s: %v %v, want %v", c.aud, c.mot, c.strat, r.Percent, ok, c.want)
		}
	}
	if _, ok := matchRule(rules[4:], "cart", "", "upsell"); ok {
		t.Error("a rule for another audience matched")
	}
}
