package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"time"
)

// The campaign: the demo's shop responds to the ads. After the 60 days
// of shoppers, segment runs as of every third day of the last weeks make
// people join audiences; each time, the shop simulates what the people
// who just joined do next. The effect is stated, not emergent:
//
//   - every member, treated or held out, comes back on their own and
//     buys the product they were interested in with probability
//     OrganicRate, at its regular price;
//   - a treated member (the ads reach them) also clicks the audience's
//     feed link and buys with probability AdRate: they land with the
//     offer token (rm_offer) the snippet keeps, so the order carries it,
//     and pay the sale price when the feed showed one;
//   - held-out members never see an ad.
//
// So among the people a run makes join, treated ones buy at
// 1 − (1 − OrganicRate)(1 − AdRate) = 47.75% and held-out ones at 5%: a
// true lift of 42.75 percentage points. remarket measures less, as it
// would in a shop: the shop's own traffic adds purchases to both groups;
// a person held out of one audience may be treated in another and come
// back through its ads; and those who joined in the demo's last run have
// had no time to buy yet (both groups alike). The measured lift of the
// largest audience is still clearly positive, and the holdout of a small
// audience is too small to show anything: the dashboard says so.
const (
	OrganicRate = 0.05
	AdRate      = 0.45
)

// Joiner is a person who joined an audience in a campaign run, and what
// the audience's feed shows them.
type Joiner struct {
	Audience, VisitorID, UserID, Group string
	Product                            *Product // the feed item of their top recommendation
	Link                               string   // the feed item's landing link (UTM, and the offer token if any)
	SalePrice                          float64  // 0 without a sale price
	Token                              string   // the offer token in Link
}

// Order is one order the campaign placed with an offer token, for the
// shop's checkout to report.
type Order struct {
	ID, Token, VisitorID, UserID string
	At                           time.Time
	Price                        float64
	Currency                     string
}

// Respond plans what the joiners of campaign run number run (as of at) do
// before until: visitors with their hits, and the orders that carried an
// offer. The same seed and run give the same responses.
func Respond(seed uint64, run int, at, until time.Time, joiners []Joiner) ([]Visitor, []Order) {
	rng := rand.New(rand.NewPCG(seed^0xad5, uint64(run)))
	var visitors []Visitor
	var orders []Order
	byID := map[string]int{} // one Visitor per id: event ids count its hits
	for i, j := range joiners {
		organic := rng.Float64() < OrganicRate
		ad := j.Group == "treatment" && j.Link != "" && rng.Float64() < AdRate
		when := at.Add(time.Duration((0.1 + rng.Float64()*2.3) * float64(24*time.Hour)))
		if (!organic && !ad) || j.Product == nil || !when.Before(until) {
			continue
		}
		k, seen := byID[j.VisitorID]
		if !seen {
			k = len(visitors)
			byID[j.VisitorID] = k
			visitors = append(visitors, Visitor{ID: j.VisitorID, UserID: j.UserID, Persona: "responder", UserAgent: browsers[rng.IntN(len(browsers))]})
		}
		v := &visitors[k]
		pr := *j.Product
		price, landing, token := pr.Price, pr.Link, ""
		if ad {
			landing, token = j.Link, j.Token
			if j.SalePrice > 0 {
				price = j.SalePrice
			}
		}
		props := func(m map[string]any) map[string]any {
			if token != "" {
				m["rm_offer"] = token // what the snippet adds while it keeps the offer
			}
			return m
		}
		t := when
		next := func() time.Time { t = t.Add(time.Duration(20+rng.IntN(120)) * time.Second); return t }
		line := productProps(&pr, 1)
		line["price"] = price
		id := fmt.Sprintf("C%d-%04d-%d", run, i, seed)
		v.Hits = append(v.Hits,
			Hit{At: next(), Call: "page", URL: landing, Title: pr.Title + " – Shop Example", Props: props(map[string]any{})},
			Hit{At: next(), Call: "track", Event: "Product Viewed", URL: landing, Title: pr.Title, Props: props(productProps(&pr, 0))},
			Hit{At: next(), Call: "track", Event: "Product Added", URL: landing, Title: pr.Title, Props: props(productProps(&pr, 1))},
			Hit{At: next(), Call: "track", Event: "Order Completed", URL: shop + "/checkout/thanks", Title: "Thank you", Server: true,
				Props: props(map[string]any{"order_id": id, "revenue": price, "value": price, "currency": pr.Currency, "products": []any{line}})},
		)
		if token != "" {
			orders = append(orders, Order{ID: id, Token: token, VisitorID: v.ID, UserID: v.UserID, At: t, Price: price, Currency: pr.Currency})
		}
	}
	return visitors, orders
}

// ReportOrders has the shop's checkout report every other order that
// used an offer through POST /api/offers/redeem (the purchase events
// carry the token too, so each of them is a redemption twice over, and
// remarket counts it once).
func ReportOrders(ctx context.Context, client *http.Client, base, adminToken string, orders []Order) (int, error) {
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	reported := 0
	for i, o := range orders {
		if i%2 == 1 {
			continue
		}
		body, _ := json.Marshal(map[string]any{"token": o.Token, "order_id": o.ID, "visitor_id": o.VisitorID, "user_id": o.UserID,
			"quantity": 1, "price": o.Price, "currency": o.Currency, "redeemed_at": o.At.UTC().Format(time.RFC3339)})
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/offers/redeem", bytes.NewReader(body))
		if err != nil {
			return reported, err
		}
		req.Header.Set("Authorization", "Bearer "+adminToken)
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err != nil {
			return reported, fmt.Errorf("demo: cannot report an order: %w", err)
		}
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		// An offer that was not valid any more is the checkout's answer, not an error.
		if resp.StatusCode >= 500 || resp.StatusCode == http.StatusUnauthorized {
			return reported, fmt.Errorf("demo: POST /api/offers/redeem: %s: %s", resp.Status, bytes.TrimSpace(msg))
		}
		if resp.StatusCode == http.StatusOK {
			reported++
		}
	}
	return reported, nil
}

// offerToken is the offer parameter of a landing link ("" when none).
func offerToken(link, param string) string {
	u, err := url.Parse(link)
	if err != nil {
		return ""
	}
	return u.Query().Get(param)
}

// FeedItem is what the campaign reads of a feed.json item.
type FeedItem struct {
	ID        string `json:"id"`
	Link      string `json:"link"`
	SalePrice string `json:"sale_price"`
}

// JoinerFrom fills a joiner's feed side from the item of their product.
func (c *Catalog) JoinerFrom(j Joiner, item FeedItem, offerParam string) Joiner {
	j.Product = c.ByID[item.ID]
	j.Link = item.Link
	j.Token = offerToken(item.Link, offerParam)
	if item.SalePrice != "" {
		var amount float64
		var cur string
		if _, err := fmt.Sscanf(item.SalePrice, "%g %s", &amount, &cur); err == nil {
			j.SalePrice = amount
		}
	}
	return j
}
