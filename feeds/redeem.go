package feeds

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/remarket/remarket/internal/chdb"
	"github.com/remarket/remarket/internal/config"
)

// A redemption is an offer used in an order: a purchase that carries a
// valid offer token (the snippet attaches the landing page's token to the
// events that follow) and holds the offered product, or a checkout's
// POST /api/offers/redeem. An order redeems an offered product once,
// however many events and calls report it (offer_redemptions, 072).

// Redemption sources.
const (
	FromEvent = "event"
	FromAPI   = "api"
)

// Redemption is one order line bought with an offer.
type Redemption struct {
	Site       string    `json:"site"`
	OrderID    string    `json:"order_id"`
	ProductID  string    `json:"product_id"`
	Audience   string    `json:"audience"`
	RuleKey    string    `json:"rule_key,omitempty"`
	Rule       string    `json:"rule,omitempty"`
	VisitorID  string    `json:"visitor_id,omitempty"`
	UserID     string    `json:"user_id,omitempty"`
	RedeemedAt time.Time `json:"redeemed_at"`
	Quantity   uint32    `json:"quantity"`
	Revenue    float64   `json:"revenue"`
	Discount   float64   `json:"discount"`
	Currency   string    `json:"currency,omitempty"`
	Source     string    `json:"source"`
	KeyID      string    `json:"-"`
}

// order is what a redemption needs of an order: who, when, and its lines.
type order struct {
	ID, VisitorID, UserID string
	At                    time.Time
	Currency              string
	Lines                 []orderLine
}

type orderLine struct {
	Product  string
	Price    float64 // unit price as reported; 0 when unknown
	Quantity uint32
}

// redeem makes the redemption of offer o in ord; ok is false when the
// order does not hold the offered product or used no discount.
func redeem(o Offer, ord order, source string) (Redemption, bool) {
	var qty uint32
	var unit, revenue float64
	bundled := false
	for _, l := range ord.Lines {
		q := max(l.Quantity, 1)
		if l.Product == o.Product {
			qty += q
			revenue += l.Price * float64(q)
			unit = max(unit, l.Price)
		}
		if o.Anchor != "" && l.Product == o.Anchor {
			bundled = true
		}
	}
	if qty == 0 {
		return Redemption{}, false
	}
	cur := cmpOr(o.Currency, ord.Currency)
	if revenue == 0 { // the shop reported no price: the offer's
		unit = parseAmount(cmpOr(o.SalePrice, o.ListPrice))
		revenue = unit * float64(qty)
	}
	off := roundMoney(amountOff(o, unit, bundled)*float64(qty), cur)
	if !finite(revenue) || !finite(off) {
		// Ingest and the redeem API bound the numbers they take, but a
		// purchase written to events another way may not be: an infinite
		// amount could be neither answered as JSON nor summed by the lift
		// report once stored.
		return Redemption{}, false
	}
	if off <= 0 {
		return Redemption{}, false // e.g. a bundle price bought without its anchor: no discount was used
	}
	return Redemption{
		Site: o.Site, OrderID: ord.ID, ProductID: o.Product, Audience: o.Audience, RuleKey: o.Rule,
		VisitorID: ord.VisitorID, UserID: ord.UserID, RedeemedAt: ord.At.UTC().Truncate(time.Second),
		Quantity: qty, Revenue: roundMoney(revenue, cur),
		Discount: off,
		Currency: cur, Source: source, KeyID: o.KeyID,
	}, true
}

// amountOff is what the offer takes off one unit: the bundle percent of
// the list price when the anchor is in the same order, else the fixed
// amount, else list price minus sale price. Tokens from before list
// prices were signed use the line's price as the list price.
func amountOff(o Offer, unit float64, bundled bool) float64 {
	list := parseAmount(o.ListPrice)
	if list == 0 {
		list = unit
	}
	switch {
	case bundled && o.BundlePercent > 0:
		return list * o.BundlePercent / 100
	case o.Amount != "":
		return parseAmount(o.Amount)
	case o.SalePrice != "" && o.ListPrice != "":
		return max(list-parseAmount(o.SalePrice), 0)
	case o.Percent > 0:
		return list * o.Percent / 100
	}
	return 0
}

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

func parseAmount(s string) float64 {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 {
		return 0
	}
	return f
}

// roundMoney rounds to the currency's minor unit (2 decimals when unknown).
func roundMoney(x float64, currency string) float64 {
	p := pow10[min(decimalsOf(strings.ToUpper(currency)), 2)]
	return math.Round(x*p) / p
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// describeRule names a discount rule for people: "cart_abandoners,
// reminder: 10% off for 48h".
func describeRule(r config.DiscountRule) string {
	var sel []string
	for _, s := range []string{r.Audience, r.Motivation, r.Strategy} {
		if s != "" {
			sel = append(sel, s)
		}
	}
	var what []string
	if r.Percent > 0 {
		what = append(what, strconv.FormatFloat(r.Percent, 'f', -1, 64)+"% off")
	}
	if r.Amount > 0 {
		what = append(what, strconv.FormatFloat(r.Amount, 'f', -1, 64)+" off")
	}
	if r.BundlePercent > 0 {
		what = append(what, strconv.FormatFloat(r.BundlePercent, 'f', -1, 64)+"% as a bundle")
	}
	s := strings.Join(what, ", ") + " for " + config.Duration(r.Duration).String()
	if len(sel) == 0 {
		return "any item: " + s
	}
	return strings.Join(sel, ", ") + ": " + s
}

// ruleNames maps the rule keys of the site's effective rules to their
// descriptions.
func (a *API) ruleNames(ctx context.Context, site config.Site) map[string]string {
	out := map[string]string{}
	rules, err := a.rules.effective(ctx, site)
	if err != nil {
		a.log.Warn("redemptions: cannot read discount rules; rules are named by key only", "site", site.ID, "err", err)
		return out
	}
	for _, r := range rules {
		out[ruleKey(r)] = describeRule(r)
	}
	return out
}

// storeRedemptions writes rs in one batch.
func storeRedemptions(ctx context.Context, db *chdb.DB, rs []Redemption, now time.Time) error {
	if len(rs) == 0 {
		return nil
	}
	b, err := db.PrepareBatch(ctx, `INSERT INTO offer_redemptions (site, order_id, product_id, audience, rule_key, rule,
		visitor_id, user_id, redeemed_at, quantity, revenue, discount, currency, source, key_id, recorded_at, version)`)
	if err != nil {
		return fmt.Errorf("cannot store redemptions: %w", err)
	}
	version := uint64(now.UnixNano())
	for i, r := range rs {
		if err := b.Append(r.Site, r.OrderID, r.ProductID, r.Audience, r.RuleKey, r.Rule, r.VisitorID, r.UserID,
			r.RedeemedAt, r.Quantity, r.Revenue, r.Discount, r.Currency, r.Source, r.KeyID, now.UTC(), version+uint64(i)); err != nil {
			b.Abort()
			return fmt.Errorf("cannot store redemptions: %w", err)
		}
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("cannot store redemptions: %w", err)
	}
	return nil
}

// redemptionKey is an order's offered product.
type redemptionKey struct{ order, product string }

// recordedSince lists the site's redemptions of orders redeemed after
// since (what a sync must not record again).
func recordedSince(ctx context.Context, db *chdb.DB, site string, since time.Time) (map[redemptionKey]bool, error) {
	// Recorded redemptions of a site since a time.
	rows, err := db.Query(ctx, `SELECT DISTINCT order_id, product_id FROM offer_redemptions WHERE site = ? AND redeemed_at >= ?`, site, since.UTC())
	if err != nil {
		return nil, fmt.Errorf("cannot read redemptions: %w", err)
	}
	defer rows.Close()
	out := map[redemptionKey]bool{}
	for rows.Next() {
		var k redemptionKey
		if err := rows.Scan(&k.order, &k.product); err != nil {
			return nil, err
		}
		out[k] = true
	}
	return out, rows.Err()
}

// redemptionLookback bounds the purchases a sync reads: no offer lasts
// longer than 90 days (DiscountRule.Validate) and ingest takes events at
// most ingest.max_past late; a sync runs with every segment run.
const redemptionLookback = 120 * 24 * time.Hour

// tokenPurchases are the site's purchases between two times whose
// properties carry an offer token (the snippet's property is named like
// the landing page's parameter, feeds.offer_param), with their lines.
const tokenPurchases = `SELECT toString(event_id), order_id, visitor_id, user_id, event_time, currency,
    product_id, price, quantity, item_product_ids, item_prices, item_quantities,
    visitParamExtractString(properties, ?) AS token
FROM v_events
WHERE site = ? AND type = 'purchase' AND is_bot = 0 AND event_time > ? AND event_time <= ?
    AND visitParamExtractString(properties, ?) != ''
ORDER BY event_time, order_id, visitor_id`

// SyncRedemptions records the redemptions carried by the site's purchase
// events up to until that are not recorded yet: each purchase whose
// token verifies at the purchase's time and whose order holds the offered
// product. A segment run calls it before computing outcomes.
func (a *API) SyncRedemptions(ctx context.Context, siteID string, until time.Time) error {
	site, ok := a.cfg.Site(siteID)
	if !ok {
		return fmt.Errorf("unknown site %q", siteID)
	}
	since := until.Add(-redemptionLookback).UTC()
	done, err := recordedSince(ctx, a.db, siteID, since)
	if err != nil {
		return err
	}
	param := a.cfg.Feeds.OfferParam
	rows, err := a.db.Query(ctx, tokenPurchases, param, siteID, since, until.UTC(), param)
	if err != nil {
		return fmt.Errorf("cannot read purchases with offers: %w", err)
	}
	defer rows.Close()
	var found []Redemption
	for rows.Next() {
		var eventID, token string
		var ord order
		var pid string
		var price float64
		var qty uint32
		var ids []string
		var prices []float64
		var qtys []uint32
		if err := rows.Scan(&eventID, &ord.ID, &ord.VisitorID, &ord.UserID, &ord.At, &ord.Currency,
			&pid, &price, &qty, &ids, &prices, &qtys, &token); err != nil {
			return fmt.Errorf("cannot read purchases with offers: %w", err)
		}
		if ord.ID == "" {
			ord.ID = "event:" + eventID
		}
		for i, id := range ids {
			ord.Lines = append(ord.Lines, orderLine{id, prices[i], qtys[i]})
		}
		if len(ids) == 0 && pid != "" {
			ord.Lines = []orderLine{{pid, price, qty}}
		}
		o, verr := VerifyOffer(a.cfg.Site, token, ord.At)
		if verr != nil || o.Site != siteID {
			continue // not a valid offer when bought: no redemption
		}
		r, ok := redeem(o, ord, FromEvent)
		if !ok || done[redemptionKey{r.OrderID, r.ProductID}] {
			continue
		}
		done[redemptionKey{r.OrderID, r.ProductID}] = true
		found = append(found, r)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("cannot read purchases with offers: %w", err)
	}
	if len(found) == 0 {
		return nil
	}
	names := a.ruleNames(ctx, site)
	for i := range found {
		found[i].Rule = names[found[i].RuleKey]
	}
	slices.SortFunc(found, func(x, y Redemption) int {
		return strings.Compare(x.OrderID+"\x00"+x.ProductID, y.OrderID+"\x00"+y.ProductID)
	})
	return storeRedemptions(ctx, a.db, found, a.Now())
}
