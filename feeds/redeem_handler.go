package feeds

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/remarket/remarket/internal/httpx"
)

// RedeemRequest is the body of POST /api/offers/redeem: a checkout
// reports that an order used an offer.
type RedeemRequest struct {
	Token     string `json:"token"`
	OrderID   string `json:"order_id"`
	VisitorID string `json:"visitor_id,omitempty"`
	UserID    string `json:"user_id,omitempty"`
	// Quantity of the offered product in the order (default 1) and the
	// unit price paid (default: the offer's sale or list price).
	Quantity uint32  `json:"quantity,omitempty"`
	Price    float64 `json:"price,omitempty"`
	Currency string  `json:"currency,omitempty"`
	// Products are the order's other product ids: a bundle price
	// applies when the offer's anchor is among them.
	Products []string `json:"products,omitempty"`
	// RedeemedAt is when the order was placed (default now); the offer
	// must be valid then.
	RedeemedAt *time.Time `json:"redeemed_at,omitempty"`
}

// Bounds of a reported order line. maxOrderAmount is ingest's bound for a
// price or an order's revenue, so both ways of learning of a redemption
// take the same numbers; it keeps revenue and discount finite, which
// JSON, the stored row and the lift report's sums need.
const (
	maxRedeemQuantity = 100000
	maxOrderAmount    = 1e9
)

// redeemOffer answers POST /api/offers/redeem. It is called by the shop's
// server with the site's admin token (the offer names the site), checks
// the offer as /api/offers/verify does at the order's time, and records
// one redemption per order and offered product: repeating the call
// answers the redemption already recorded, with "recorded": false.
func (a *API) redeemOffer(c *gin.Context) {
	var req RedeemRequest
	httpx.LimitBody(c, 64<<10)
	dec := json.NewDecoder(c.Request.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		if e := httpx.BodyError(err); e != nil {
			httpx.Fail(c, e)
			return
		}
		httpx.Fail(c, httpx.Errorf(httpx.Invalid, "body: want JSON {\"token\", \"order_id\", ...}: "+strings.TrimPrefix(err.Error(), "json: ")))
		return
	}
	now := a.Now()
	at := now
	if req.RedeemedAt != nil {
		at = *req.RedeemedAt
	}
	switch {
	case req.OrderID == "" || len(req.OrderID) > 100:
		httpx.Fail(c, httpx.Errorf(httpx.Invalid, "order_id: required, at most 100 characters"))
		return
	case at.After(now.Add(10*time.Minute)) || at.Before(now.Add(-30*24*time.Hour)):
		httpx.Fail(c, httpx.Errorf(httpx.Invalid, "redeemed_at: want a time within the last 30 days"))
		return
	case req.Quantity > maxRedeemQuantity:
		httpx.Fail(c, httpx.Errorf(httpx.Invalid, fmt.Sprintf("quantity: want 0-%d units", maxRedeemQuantity)))
		return
	case !(req.Price >= 0 && req.Price <= maxOrderAmount): // also NaN and ±Inf
		httpx.Fail(c, httpx.Errorf(httpx.Invalid, fmt.Sprintf("price: want a unit price between 0 and %.0f", maxOrderAmount)))
		return
	case req.Price*float64(max(req.Quantity, 1)) > maxOrderAmount:
		httpx.Fail(c, httpx.Errorf(httpx.Invalid, fmt.Sprintf("price × quantity: want an order line of at most %.0f", maxOrderAmount)))
		return
	case len(req.Products) > 1000:
		httpx.Fail(c, httpx.Errorf(httpx.Invalid, "products: at most 1000"))
		return
	}
	o, verr := VerifyOffer(a.cfg.Site, req.Token, at)
	if verr != nil {
		c.JSON(reasonStatus[verr.Reason], gin.H{"recorded": false, "reason": verr.Reason, "error": verr.Message})
		return
	}
	site, _ := a.cfg.Site(o.Site)
	// Wrong admin tokens are throttled as on the admin API (httpx.RequireAdmin):
	// offers are in every ad's landing URL, so anyone can ask.
	token, bearer := strings.CutPrefix(c.GetHeader("Authorization"), "Bearer ")
	if a.admins.Throttled(c, o.Site, "admin tokens") {
		return
	}
	if !bearer || !httpx.Equal(token, site.AdminToken) {
		if token != "" {
			a.admins.Failed(httpx.ClientIP(c.Request), o.Site)
		}
		httpx.Fail(c, httpx.Errorf(httpx.Unauthorized, "send the offer's site admin token: Authorization: Bearer <admin_token>"))
		return
	}
	ctx := c.Request.Context()
	if prev, found, err := a.redemption(ctx, o.Site, req.OrderID, o.Product); err != nil || found {
		if err != nil {
			httpx.Fail(c, err)
			return
		}
		c.JSON(http.StatusOK, gin.H{"recorded": false, "redemption": prev})
		return
	}
	ord := order{ID: req.OrderID, VisitorID: req.VisitorID, UserID: req.UserID, At: at, Currency: strings.ToUpper(req.Currency),
		Lines: []orderLine{{o.Product, req.Price, max(req.Quantity, 1)}}}
	for _, p := range req.Products {
		if p != o.Product {
			ord.Lines = append(ord.Lines, orderLine{Product: p, Quantity: 1})
		}
	}
	r, ok := redeem(o, ord, FromAPI)
	if !ok {
		httpx.Fail(c, httpx.Errorf(httpx.Invalid, "products: the order used no discount of this offer (a bundle price needs its anchor, bundle_with_product_id, among the order's products)"))
		return
	}
	r.Rule = a.ruleNames(ctx, site)[r.RuleKey]
	if err := storeRedemptions(ctx, a.db, []Redemption{r}, now); err != nil {
		httpx.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"recorded": true, "redemption": r})
}

// redemption reads the recorded redemption of an order's product.
func (a *API) redemption(ctx context.Context, site, orderID, product string) (Redemption, bool, error) {
	// One order's redemption of one product, as analysts see it.
	rows, err := a.db.Query(ctx, `SELECT audience, rule_key, rule, visitor_id, user_id, redeemed_at, quantity, revenue, discount, currency, source
		FROM v_offer_redemptions WHERE site = ? AND order_id = ? AND product_id = ?`, site, orderID, product)
	if err != nil {
		return Redemption{}, false, fmt.Errorf("cannot read redemptions: %w", err)
	}
	defer rows.Close()
	r := Redemption{Site: site, OrderID: orderID, ProductID: product}
	if !rows.Next() {
		return r, false, rows.Err()
	}
	if err := rows.Scan(&r.Audience, &r.RuleKey, &r.Rule, &r.VisitorID, &r.UserID, &r.RedeemedAt, &r.Quantity,
		&r.Revenue, &r.Discount, &r.Currency, &r.Source); err != nil {
		return r, false, err
	}
	r.RedeemedAt = r.RedeemedAt.UTC()
	return r, true, nil
}
