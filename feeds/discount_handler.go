package feeds

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/remarket/remarket/internal/config"
	"github.com/remarket/remarket/internal/httpx"
)

// DiscountsJSON is the body of GET and PUT /api/sites/:site/discounts.
// PUT reads only Rules (the admin set, replacing the previous one);
// GET also shows the YAML rules, the effective merge and the bound.
type DiscountsJSON struct {
	Rules              []RuleJSON `json:"rules"`
	YAML               []RuleJSON `json:"yaml_rules,omitempty"`
	Effective          []RuleJSON `json:"effective_rules,omitempty"`
	MaxDiscountPercent float64    `json:"max_discount_percent,omitempty"`
}

func rulesJSON(rs []config.DiscountRule) []RuleJSON {
	out := make([]RuleJSON, len(rs))
	for i, r := range rs {
		out[i] = ruleToJSON(r)
	}
	return out
}

func (a *API) getDiscounts(c *gin.Context) {
	site := httpx.CurrentSite(c)
	admin, err := a.rules.admin(c.Request.Context(), site.ID)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, DiscountsJSON{
		Rules: rulesJSON(admin), YAML: rulesJSON(site.Discounts),
		Effective: rulesJSON(mergeRules(site.Discounts, admin)), MaxDiscountPercent: site.MaxDiscount(),
	})
}

// putDiscounts replaces the site's admin rules; every rule is validated
// against the site's maximum discount before anything is stored.
func (a *API) putDiscounts(c *gin.Context) {
	site := httpx.CurrentSite(c)
	var body DiscountsJSON
	raw, err := httpx.ReadBody(c, 1<<20)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		httpx.Fail(c, httpx.Errorf(httpx.Invalid, "body must be {\"rules\": [...]}: "+err.Error()))
		return
	}
	// encoding/json keeps the last of two equal keys: a second "rules"
	// would silently replace the first set.
	if f := httpx.RepeatedKey(raw, nil); f != "" {
		httpx.Fail(c, httpx.Errorf(httpx.Invalid, f+": given twice (only the last would count)"))
		return
	}
	if len(body.Rules) > 1000 {
		httpx.Fail(c, httpx.Errorf(httpx.Invalid, "at most 1000 rules"))
		return
	}
	rules := make([]config.DiscountRule, 0, len(body.Rules))
	for i, j := range body.Rules {
		r, err := j.rule()
		if err == nil {
			err = r.Validate(site.MaxDiscount())
		}
		if k := r.SameSelector(rules); err == nil && k >= 0 {
			err = fmt.Errorf("same audience, motivation and strategy as rules[%d], so it would never apply", k)
		}
		if err != nil {
			httpx.Fail(c, httpx.Errorf(httpx.Invalid, fmt.Sprintf("rules[%d]: %v", i, err)))
			return
		}
		rules = append(rules, r)
	}
	if err := a.rules.put(c.Request.Context(), site.ID, rules, a.Now()); err != nil {
		httpx.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, DiscountsJSON{
		Rules: rulesJSON(rules), YAML: rulesJSON(site.Discounts),
		Effective: rulesJSON(mergeRules(site.Discounts, rules)), MaxDiscountPercent: site.MaxDiscount(),
	})
}
