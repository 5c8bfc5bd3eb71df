package dashboard

import (
	"encoding/json"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/remarket/remarket/internal/config"
	"github.com/remarket/remarket/internal/httpx"
)

func site(c *gin.Context) config.Site { return c.MustGet(sessionSite).(config.Site) }

// overview: traffic now and over the period, rejects, spool, last run.
func (u *UI) overview(c *gin.Context) {
	ctx, s := c.Request.Context(), site(c)
	out := gin.H{"site": s.ID}
	var err error
	// Events received per minute over the last hour.
	if out["per_minute"], err = u.rows(ctx, `SELECT toStartOfMinute(received_at) AS t, count() AS n FROM v_events WHERE site = ? AND received_at >= now() - 3600 GROUP BY t ORDER BY t`, s.ID); err != nil {
		httpx.Fail(c, err)
		return
	}
	// Events per day by event time over the last 60 days (humans, bots, opted out).
	if out["per_day"], err = u.rows(ctx, `SELECT toDate(event_time) AS t, count() AS n, countIf(is_bot = 1) AS bots, countIf(opted_out = 1) AS opted_out FROM v_events WHERE site = ? AND event_time >= now() - 60 * 86400 GROUP BY t ORDER BY t`, s.ID); err != nil {
		httpx.Fail(c, err)
		return
	}
	// Totals by event type over 30 days, equal counts by type.
	if out["by_type"], err = u.rows(ctx, `SELECT type, count() AS n, uniqExact(visitor_id) AS visitors FROM v_events WHERE site = ? AND event_time >= now() - 30 * 86400 GROUP BY type ORDER BY n DESC, type`, s.ID); err != nil {
		httpx.Fail(c, err)
		return
	}
	// The site's latest segment runs, read by seg_runs' key: v_segment_runs
	// groups every site's runs on 18.16 before it filters.
	// A run still going has no finish time yet (1970) and no duration.
	runs, err := u.rows(ctx, `SELECT run_id, status, started_at, finished_at,
			if(status = 'running', toInt64(0), toInt64(finished_at) - toInt64(started_at)) AS seconds, error,
			toUInt8(run_id IN (SELECT run_id FROM v_current_runs WHERE site = ?)) AS is_current
		FROM (
			SELECT run_id, argMax(status, updated) AS status, any(started_at) AS started_at,
				argMax(finished_at, updated) AS finished_at, argMax(error, updated) AS error
			FROM seg_runs
			WHERE site = ? AND run_id IN (SELECT run_id FROM seg_runs WHERE site = ? GROUP BY run_id ORDER BY any(started_at) DESC, run_id DESC LIMIT 5)
			GROUP BY run_id)
		ORDER BY started_at DESC, run_id DESC`, s.ID, s.ID, s.ID)
	if err != nil {
		u.log.Warn("dashboard: segment runs", "err", err)
		runs = []map[string]any{}
	}
	out["runs"] = runs
	out["rejects"], out["spool"] = metrics()
	c.JSON(http.StatusOK, out)
}

// metrics reads rejects by reason and the spool gauges from this
// process's Prometheus registry (what /metrics shows).
func metrics() ([]gin.H, map[string]float64) {
	rejects := []gin.H{}
	spool := map[string]float64{}
	families, _ := prometheus.DefaultGatherer.Gather()
	for _, f := range families {
		name := f.GetName()
		for _, m := range f.GetMetric() {
			v := m.GetCounter().GetValue() + m.GetGauge().GetValue()
			switch {
			case name == "remarket_events_rejected_total" || name == "remarket_pixel_dropped_total":
				reason := ""
				for _, l := range m.GetLabel() {
					if l.GetName() == "reason" {
						reason = l.GetValue()
					}
				}
				source := "api"
				if strings.HasPrefix(name, "remarket_pixel") {
					source = "pixel"
				}
				rejects = append(rejects, gin.H{"source": source, "reason": reason, "n": v})
			case strings.HasPrefix(name, "remarket_spool_") || strings.HasPrefix(name, "remarket_shipped_") || strings.HasPrefix(name, "remarket_ship_errors") || name == "remarket_events_accepted_total":
				if m.GetHistogram() == nil {
					spool[name] += v
				}
			}
		}
	}
	sort.Slice(rejects, func(i, j int) bool { return rejects[i]["n"].(float64) > rejects[j]["n"].(float64) })
	return rejects, spool
}

// audiences: the audiences API's list with each audience's size history
// (the last 90 days, sizeHistory) and the discount rules that apply to it.
func (u *UI) audiences(c *gin.Context) {
	ctx, s := c.Request.Context(), site(c)
	list, err := u.audienceList(c, s)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	hist, err := u.sizeHistory(ctx, s.ID, "", time.Now())
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	rules, err := u.discountRules(c, s)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	for _, a := range list {
		name, _ := a["name"].(string)
		strategy, _ := a["strategy"].(string)
		a["history"] = nil
		if points := hist[name]; len(points) > 0 {
			times, sizes := make([]time.Time, len(points)), make([]uint64, len(points))
			for i, p := range points {
				times[i], sizes[i] = p.RunTime, p.Size
			}
			a["history"] = gin.H{"audience": name, "times": times, "sizes": sizes}
		}
		a["discounts"] = discountsFor(rules, name, strategy)
	}
	c.JSON(http.StatusOK, gin.H{"audiences": list})
}

// audienceList asks the audiences API (GET /api/sites/:site/audiences).
func (u *UI) audienceList(c *gin.Context, s config.Site) ([]map[string]any, error) {
	status, body, err := u.call(c.Request.Context(), s, http.MethodGet, sitePath(s, "/audiences"), false)
	if err != nil {
		return nil, err
	}
	if status == http.StatusNotFound {
		return u.audiencesFromViews(c, s)
	}
	if status != http.StatusOK {
		return nil, httpx.Errorf(httpx.Unavailable, "the audiences API answered "+http.StatusText(status))
	}
	var list []map[string]any
	if json.Unmarshal(body, &list) != nil {
		var wrapped struct {
			Audiences []map[string]any `json:"audiences"`
		}
		if err := json.Unmarshal(body, &wrapped); err != nil {
			return nil, err
		}
		list = wrapped.Audiences
	}
	return list, nil
}

// audiencesFromViews is the list without the audiences API (a build
// without it): the configured definitions with their current sizes.
func (u *UI) audiencesFromViews(c *gin.Context, s config.Site) ([]map[string]any, error) {
	ctx := c.Request.Context()
	// Members per audience in the current run.
	sizes, err := u.rows(ctx, `SELECT audience, count() AS size FROM v_audience_members WHERE site = ? GROUP BY audience`, s.ID)
	if err != nil {
		return nil, err
	}
	// The current run's finish time.
	runs, err := u.rows(ctx, `SELECT finished_at FROM v_current_runs WHERE site = ?`, s.ID)
	if err != nil {
		return nil, err
	}
	bySize := map[string]uint64{}
	for _, r := range sizes {
		bySize[r["audience"].(string)] = r["size"].(uint64)
	}
	list := []map[string]any{}
	for _, a := range s.Audiences {
		item := map[string]any{"name": a.Name, "strategy": a.Strategy, "description": a.Description, "size": bySize[a.Name], "definition": a}
		if len(runs) > 0 {
			item["last_run"] = runs[0]["finished_at"]
		}
		list = append(list, item)
	}
	return list, nil
}

// discountRules are the site's effective discount rules, as the
// discounts API gives them: the rules stored through it replace YAML
// rules with their selector (only the YAML rules were shown, so a
// replaced rule was shown as the one in effect). Without that API (a
// build without feeds), the YAML rules.
func (u *UI) discountRules(c *gin.Context, s config.Site) ([]map[string]any, error) {
	status, body, err := u.call(c.Request.Context(), s, http.MethodGet, sitePath(s, "/discounts"), false)
	if err != nil {
		return nil, err
	}
	if status == http.StatusNotFound {
		body, err = json.Marshal(map[string]any{"effective_rules": s.Discounts})
		if err != nil {
			return nil, err
		}
	} else if status != http.StatusOK {
		return nil, httpx.Errorf(httpx.Unavailable, "the discounts API answered "+http.StatusText(status))
	}
	var got struct {
		Rules []map[string]any `json:"effective_rules"`
	}
	if err := json.Unmarshal(body, &got); err != nil {
		return nil, err
	}
	return got.Rules, nil
}

// discountsFor lists the rules that can apply to an audience.
func discountsFor(rules []map[string]any, audience, strategy string) []map[string]any {
	out := []map[string]any{}
	for _, r := range rules {
		ra, _ := r["audience"].(string)
		rs, _ := r["strategy"].(string)
		if ra == "" {
			ra, _ = r["Audience"].(string) // config.DiscountRule's own JSON
		}
		if rs == "" {
			rs, _ = r["Strategy"].(string)
		}
		if (ra == "" || ra == audience) && (rs == "" || rs == strategy) {
			out = append(out, r)
		}
	}
	return out
}

// audience: definition, size history, sample members, top products and
// the first items of its feed.
func (u *UI) audience(c *gin.Context) {
	ctx, s, name := c.Request.Context(), site(c), c.Param("name")
	if !config.ValidAudienceName(name) {
		httpx.Fail(c, httpx.Errorf(httpx.Invalid, "bad audience name"))
		return
	}
	list, err := u.audienceList(c, s)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	var def map[string]any
	for _, a := range list {
		if a["name"] == name {
			def = a
		}
	}
	if def == nil {
		httpx.Fail(c, httpx.Errorf(httpx.NotFound, "no audience "+name))
		return
	}
	strategy, _ := def["strategy"].(string)
	rules, err := u.discountRules(c, s)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	out := gin.H{"audience": def, "discounts": discountsFor(rules, name, strategy)}
	// A definition stored through the API overrides the YAML one of its
	// name: the YAML one was shown all the same.
	if src, _ := def["source"].(string); src != "api" {
		for _, cfgAud := range s.Audiences {
			if cfgAud.Name == name {
				out["definition"] = cfgAud
			}
		}
	}
	queries := []struct{ key, sql string }{
		// A sample of the current members, most recently triggered first.
		{"members", `SELECT visitor_id, user_id, email_sha256 != '' AS has_email, stage, customer_type, trigger_time, grp FROM v_audience_members WHERE site = ? AND audience = ? ORDER BY trigger_time DESC, visitor_id LIMIT 25`},
		// The audience's ranked products (what the feed advertises).
		{"products", `SELECT rank, product_id, anchor_id, strategy, reason, motivation, score, members FROM v_audience_products WHERE site = ? AND audience = ? ORDER BY rank LIMIT 25`},
	}
	for _, q := range queries {
		if out[q.key], err = u.rows(ctx, q.sql, s.ID, name); err != nil {
			httpx.Fail(c, err)
			return
		}
	}
	hist, err := u.sizeHistory(ctx, s.ID, name, time.Now())
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	out["history"] = append([]sizePoint{}, hist[name]...)
	if err := u.addTitles(c, s, out["products"].([]map[string]any), "product_id", "anchor_id"); err != nil {
		httpx.Fail(c, err)
		return
	}
	base := strings.TrimRight(u.cfg.PublicURL, "/")
	feeds := gin.H{}
	for _, f := range []string{"google.xml", "meta.csv", "feed.json"} {
		feeds[f] = base + "/feeds/" + url.PathEscape(s.ID) + "/" + name + "/" + f + "?token=" + url.QueryEscape(s.FeedToken)
	}
	out["feeds"] = feeds
	out["members_export"] = base + sitePath(s, "/audiences/%s/members", name)
	out["preview"] = u.feedPreview(c, s, name)
	c.JSON(http.StatusOK, out)
}

// feedPreview is the first items of the audience's JSON feed, fetched
// through the feed handler itself.
func (u *UI) feedPreview(c *gin.Context, s config.Site, audience string) gin.H {
	status, body, err := u.call(c.Request.Context(), s, http.MethodGet, "/feeds/"+url.PathEscape(s.ID)+"/"+audience+"/feed.json", true)
	if err != nil || status != http.StatusOK {
		return gin.H{"status": status, "items": []any{}}
	}
	var feed map[string]any
	if err := json.Unmarshal(body, &feed); err != nil {
		return gin.H{"status": status, "items": []any{}}
	}
	items, _ := feed["items"].([]any)
	total := len(items)
	if len(items) > 10 {
		items = items[:10]
	}
	return gin.H{"status": status, "items": items, "total": total}
}

// addTitles sets <field>_title and <field>_price on rows from v_products.
func (u *UI) addTitles(c *gin.Context, s config.Site, rows []map[string]any, fields ...string) error {
	var ids []string
	for _, r := range rows {
		for _, f := range fields {
			if id, _ := r[f].(string); id != "" {
				ids = append(ids, id)
			}
		}
	}
	if len(ids) == 0 {
		return nil
	}
	// Titles and prices of the products shown.
	prods, err := u.rows(c.Request.Context(), `SELECT product_id, title, price, currency, availability FROM v_products WHERE site = ? AND has(?, product_id)`, s.ID, ids)
	if err != nil {
		return err
	}
	byID := map[string]map[string]any{}
	for _, p := range prods {
		byID[p["product_id"].(string)] = p
	}
	for _, r := range rows {
		for _, f := range fields {
			if p := byID[r[f].(string)]; p != nil {
				r[f+"_title"], r[f+"_price"], r[f+"_currency"] = p["title"], p["price"], p["currency"]
				r[f+"_availability"] = p["availability"]
			}
		}
	}
	return nil
}

// visitor: timeline, interests and recommendations of one visitor id (or
// of every visitor id of a user id).
func (u *UI) visitor(c *gin.Context) {
	ctx, s, id := c.Request.Context(), site(c), strings.TrimSpace(httpx.RestParam(c, "vid"))
	// A blank id would match every event without a user id (user_id = ''):
	// unrelated visitors shown as one, after a scan of the whole history.
	// The bounds are the erase API's.
	if id == "" || len(id) > 200 {
		httpx.Fail(c, httpx.Errorf(httpx.Invalid, "visitor id must be 1-200 characters"))
		return
	}
	// The visitor ids to show: the id itself, or those seen with it as user
	// id (the first 20 by id, the same 20 on every load).
	ids, err := u.rows(ctx, `SELECT DISTINCT visitor_id FROM v_events WHERE site = ? AND (visitor_id = ? OR user_id = ?) ORDER BY visitor_id LIMIT 20`, s.ID, id, id)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	vids := []string{id}
	for _, r := range ids {
		if v := r["visitor_id"].(string); v != id {
			vids = append(vids, v)
		}
	}
	// Whether the id is also a user id, which the page can erase as one.
	users, err := u.rows(ctx, `SELECT count() AS n FROM v_events WHERE site = ? AND user_id = ?`, s.ID, id)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	out := gin.H{"query": id, "visitor_ids": vids, "user": len(users) > 0 && users[0]["n"].(uint64) > 0}
	// Every order is total, so a load shows the same rows in the same
	// order on every server: ties (events of one second, every level of a
	// one-product category path scoring alike, the devices of one user)
	// otherwise come in the order the server read or grouped them.
	queries := []struct{ key, sql string }{
		// Newest events first.
		{"events", `SELECT event_time, type, name, visitor_id, user_id, product_id, category, price, currency, quantity, order_id, revenue, url, is_bot, opted_out FROM v_events WHERE site = ? AND has(?, visitor_id) ORDER BY event_time DESC, received_at DESC, event_id LIMIT 200`},
		// Strongest interests of the current run.
		{"interests", `SELECT kind, key, score, events, stage, last_time FROM v_visitor_interests WHERE site = ? AND has(?, visitor_id) ORDER BY score DESC, kind, key, visitor_id LIMIT 30`},
		// Recommendations of the current run, per audience in rank order.
		{"recommendations", `SELECT audience, rank, product_id, anchor_id, strategy, reason, motivation, score FROM v_visitor_recommendations WHERE site = ? AND has(?, visitor_id) ORDER BY audience, rank, visitor_id LIMIT 60`},
		// Audiences the visitor belongs to now.
		{"audiences", `SELECT audience, stage, customer_type, trigger_time, grp FROM v_audience_members WHERE site = ? AND has(?, visitor_id) ORDER BY audience, visitor_id`},
	}
	for _, q := range queries {
		if out[q.key], err = u.rows(ctx, q.sql, s.ID, vids); err != nil {
			httpx.Fail(c, err)
			return
		}
	}
	if err := u.addTitles(c, s, out["recommendations"].([]map[string]any), "product_id", "anchor_id"); err != nil {
		httpx.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, out)
}

// eraseVisitor and eraseUser forward an erasure to the privacy API.
func (u *UI) eraseVisitor(c *gin.Context) { u.erase(c, "/visitors/%s", httpx.RestParam(c, "vid")) }
func (u *UI) eraseUser(c *gin.Context)    { u.erase(c, "/users/%s", httpx.RestParam(c, "uid")) }

func (u *UI) erase(c *gin.Context, path, id string) {
	s := site(c)
	status, body, err := u.call(c.Request.Context(), s, http.MethodDelete, sitePath(s, path, id), false)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	c.Data(status, "application/json; charset=utf-8", body)
}

// product: a catalog entry with its related products.
func (u *UI) product(c *gin.Context) {
	ctx, s, id := c.Request.Context(), site(c), httpx.RestParam(c, "pid")
	prod, err := u.rows(ctx, `SELECT product_id, title, brand, category, price, currency, availability, stock_quantity, launch_date, tags, complements, upgrades, link, image_link FROM v_products WHERE site = ? AND product_id = ?`, s.ID, id)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	if len(prod) == 0 {
		httpx.Fail(c, httpx.Errorf(httpx.NotFound, "no product "+id))
		return
	}
	// Related products of the current run, one row each in remarket's
	// order (position), with every kind that found it and its rank there.
	// All rows of a related product share its position and strategy; the
	// reason shown is its best-ranked kind's.
	related, err := u.rows(ctx, `SELECT related_id, min(position) AS position, min(strategy) AS strategy,
			arrayMap(x -> x.2, arraySort(groupArray((rank, kind)))) AS kinds, arraySort(groupArray(rank)) AS ranks,
			argMin(reason, (rank, kind)) AS reason, min(motivation) AS motivation
		FROM v_related_products WHERE site = ? AND product_id = ?
		GROUP BY related_id ORDER BY position LIMIT 60`, s.ID, id)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	if err := u.addTitles(c, s, related, "related_id"); err != nil {
		httpx.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"product": prod[0], "related": related})
}
