package feeds

import (
	"math"
	"strconv"
	"time"

	"github.com/remarket/remarket/internal/config"
)

// matchRule picks the rule for an item: the most specific one (each of
// audience, motivation and strategy that is set and equal counts; one
// that is set and different excludes the rule), ties to the earlier rule.
func matchRule(rules []config.DiscountRule, audience, motivation, strategy string) (config.DiscountRule, bool) {
	r, _, ok := matchRuleIndex(rules, audience, motivation, strategy)
	return r, ok
}

// matchRuleIndex is matchRule that also says which rule (its index).
func matchRuleIndex(rules []config.DiscountRule, audience, motivation, strategy string) (config.DiscountRule, int, bool) {
	best, bestScore := -1, -1
	for i, r := range rules {
		score := 0
		for _, sel := range [3][2]string{{r.Audience, audience}, {r.Motivation, motivation}, {r.Strategy, strategy}} {
			if sel[0] == "" {
				continue
			}
			if sel[0] != sel[1] {
				score = -1
				break
			}
			score++
		}
		if score > bestScore {
			best, bestScore = i, score
		}
	}
	if best < 0 {
		return config.DiscountRule{}, -1, false
	}
	return rules[best], best, true
}

// Window is when an offer is valid: [Start, End), both UTC and whole
// minutes, because the feed date formats carry minutes only and a window
// must mean the same thing in the feed, the token and the checkout.
type Window struct{ Start, End time.Time }

// windowOf is the window a rule would open now: it starts at the run's
// finish, or at the visitor's trigger event for rules that ask for it
// when one is known (audience feeds know none). Whether it opens is
// resolveWindows' decision. Arithmetic is in UTC, so a 48h offer lasts 48
// hours across a daylight-saving change.
func windowOf(r config.DiscountRule, runFinished, trigger time.Time) Window {
	start := runFinished
	if r.Start == "trigger" && !trigger.IsZero() {
		start = trigger
	}
	start = start.UTC().Truncate(time.Minute)
	return Window{Start: start, End: start.Add(r.Duration).Truncate(time.Minute)}
}

// Active reports whether now lies inside the window.
func (w Window) Active(now time.Time) bool {
	return w.End.After(w.Start) && !now.Before(w.Start) && now.Before(w.End)
}

// Google form: 2026-11-26T10:00+0000/2026-11-28T10:00+0000.
func (w Window) google() string {
	return w.Start.Format("2006-01-02T15:04-0700") + "/" + w.End.Format("2006-01-02T15:04-0700")
}

// Meta form: 2026-11-26T10:00+00:00/2026-11-28T10:00+00:00.
func (w Window) meta() string {
	return w.Start.Format("2006-01-02T15:04-07:00") + "/" + w.End.Format("2006-01-02T15:04-07:00")
}

// until names the last day of the window in the site's zone ("Fri 28
// Nov"); a window ending at midnight ends on the day before.
func (w Window) until(loc *time.Location) string {
	return w.End.Add(-time.Minute).In(loc).Format("Mon 2 Jan")
}

// discounted applies percent (or a fixed amount) to price, bounded by the
// site's maximum percent, rounded to the currency's minor unit. ok is
// false when nothing remains of the discount or of the price: a sale price
// is always strictly below the price and above zero as the feeds write
// them, which for three- and four-decimal currencies is rounded to two
// decimals (a 5% sale of 0.100 KWD is 0.095, written "0.10 KWD" like the
// price: no sale).
func discounted(price Money, percent, amount, maxPercent float64) (Money, bool) {
	var off int64
	switch {
	case percent > 0:
		off = int64(math.Round(float64(price.Minor) * percent / 100))
	case amount > 0:
		off = int64(math.Round(amount*pow10[decimalsOf(price.Currency)] + 1e-6))
	}
	if limit := int64(math.Floor(float64(price.Minor) * maxPercent / 100)); off > limit {
		off = limit
	}
	sale := Money{Minor: price.Minor - off, Currency: price.Currency}
	saleShown, _ := sale.shown()
	priceShown, _ := price.shown()
	if off <= 0 || saleShown <= 0 || saleShown >= priceShown {
		return Money{}, false
	}
	return sale, true
}

// saleLabel words a discount: "10% off" for a percentage (the site's
// maximum when the rule asked for more), "5.00 USD off" for an amount.
func saleLabel(price, sale Money, percent, maxPercent float64) string {
	if percent > 0 {
		return strconv.FormatFloat(math.Min(percent, maxPercent), 'f', -1, 64) + "% off"
	}
	return Money{Minor: price.Minor - sale.Minor, Currency: price.Currency}.String() + " off"
}

// offerText is custom_label_3, e.g. "10% off until Fri 28 Nov" or
// "10% off, 15% with Canon EOS 250D, until Fri 28 Nov". label is empty
// when only the bundle price applies.
func offerText(label string, bundlePercent float64, anchorTitle string, w Window, loc *time.Location) string {
	s := label
	if bundlePercent > 0 {
		with := "as a bundle"
		if anchorTitle != "" {
			with = "with " + anchorTitle
		}
		pct := strconv.FormatFloat(bundlePercent, 'f', -1, 64) + "%"
		if s == "" {
			s = pct + " off " + with
		} else {
			s += ", " + pct + " " + with + ","
		}
	}
	if s == "" {
		return ""
	}
	// A long anchor title is shortened, the date is kept.
	tail := " until " + w.until(loc)
	return truncate(s, maxLabel-len(tail)) + tail
}
