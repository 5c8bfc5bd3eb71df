package segment

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/gin-gonic/gin"

	"github.com/remarket/remarket/internal/chdb"
	"github.com/remarket/remarket/internal/config"
	"github.com/remarket/remarket/internal/httpx"
)

// API serves audience definitions, per-visitor interests and
// recommendations, and on-demand runs. Every route needs the site's admin
// token.
type API struct {
	cfg    config.Config
	db     *chdb.DB
	log    *slog.Logger
	engine *Engine
	// On-demand runs go on in the background under runCtx, so a request
	// never waits for one and the server can stop them; runs tracks them
	// so the server can wait for them (Wait) before closing ClickHouse.
	runCtx context.Context
	runs   sync.WaitGroup
}

// NewAPI builds the segment API.
func NewAPI(cfg config.Config, db *chdb.DB, log *slog.Logger) *API {
	return &API{cfg: cfg, db: db, log: log, engine: New(cfg, db, log), runCtx: context.Background()}
}

// WithRedemptions has the API's runs record offer redemptions first
// (Engine.SetRedemptions).
func (a *API) WithRedemptions(r Redemptions) *API {
	a.engine.SetRedemptions(r)
	return a
}

// Engine is the engine behind the API (tests pin its clock).
func (a *API) Engine() *Engine { return a.engine }

// WithRunContext ties on-demand runs to ctx (serve's background context),
// so they stop on shutdown.
func (a *API) WithRunContext(ctx context.Context) *API {
	a.runCtx = ctx
	return a
}

// Wait returns once every on-demand run started so far has returned,
// including its clean-up after a cancellation.
func (a *API) Wait() { a.runs.Wait() }

// Register adds the routes under /api/sites/:site.
func (a *API) Register(r gin.IRouter) {
	g := r.Group("/api/sites/:site", httpx.RequireAdmin(a.cfg))
	g.GET("/audiences", a.listAudiences)
	g.GET("/audiences/:audience", a.getAudience)
	g.PUT("/audiences/:audience", a.putAudience)
	g.DELETE("/audiences/:audience", a.deleteAudience)
	g.GET("/audiences/:audience/lift", a.lift)
	g.POST("/audiences/:audience/dry-run", a.dryRun)
	// A visitor id may hold "/" (percent-encoded in the URL): the id is
	// everything between /visitors/ and the last segment.
	g.GET("/visitors/*rest", a.visitor)
	g.POST("/segments/run", a.run)
}

type audienceInfo struct {
	Name        string          `json:"name"`
	Strategy    string          `json:"strategy"`
	Description string          `json:"description"`
	Source      string          `json:"source"`
	Size        uint64          `json:"size"`
	LastRun     *time.Time      `json:"last_run"`
	RunID       string          `json:"run_id,omitempty"`
	Definition  config.Audience `json:"definition"`
}

// listAudiences answers GET /api/sites/:site/audiences: each definition
// with its size in the current run and when that run finished.
func (a *API) listAudiences(c *gin.Context) {
	ctx := c.Request.Context()
	site := httpx.CurrentSite(c).ID
	infos, err := a.audienceInfos(ctx, site)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"site": site, "audiences": infos})
}

func (a *API) audienceInfos(ctx context.Context, site string) ([]audienceInfo, error) {
	defs, err := a.engine.Definitions(ctx, site)
	if err != nil {
		return nil, err
	}
	var runID string
	var finished time.Time
	cur, err := a.db.Query(ctx, "SELECT run_id, finished_at FROM v_current_runs WHERE site = @site LIMIT 1", clickhouse.Named("site", site))
	if err != nil {
		return nil, err
	}
	for cur.Next() { // none before the site's first run
		if err := cur.Scan(&runID, &finished); err != nil {
			cur.Close()
			return nil, err
		}
	}
	cur.Close()
	sizes := map[string]uint64{}
	if runID != "" {
		// The current run is recorded ok before readers are switched to
		// it, so its sizes are read by run (v_audience_sizes groups every run).
		rows, err := a.db.Query(ctx, "SELECT audience, size FROM v_audience_sizes_by_run WHERE site = @site AND run_id = @run",
			clickhouse.Named("site", site), clickhouse.Named("run", runID))
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var n string
			var s uint64
			if err := rows.Scan(&n, &s); err != nil {
				rows.Close()
				return nil, err
			}
			sizes[n] = s
		}
		rows.Close()
	}
	out := make([]audienceInfo, 0, len(defs))
	for _, d := range defs {
		info := audienceInfo{Name: d.Name, Strategy: d.Strategy, Description: d.Description, Source: d.Source, Definition: d.Audience}
		if s, ok := sizes[d.Name]; ok {
			t := finished.UTC()
			info.Size, info.LastRun, info.RunID = s, &t, runID
		}
		out = append(out, info)
	}
	return out, nil
}

func (a *API) getAudience(c *gin.Context) {
	infos, err := a.audienceInfos(c.Request.Context(), httpx.CurrentSite(c).ID)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	for _, i := range infos {
		if i.Name == c.Param("audience") {
			c.JSON(http.StatusOK, i)
			return
		}
	}
	httpx.Fail(c, httpx.Errorf(httpx.NotFound, "no audience "+quote(c.Param("audience"))))
}

// readDefinition reads the definition in a request's body; the name in
// the path wins over (and must agree with) one in the body. Unknown
// fields are 400.
func readDefinition(c *gin.Context) (config.Audience, bool) {
	name := c.Param("audience")
	if !config.ValidAudienceName(name) {
		httpx.Fail(c, httpx.Errorf(httpx.Invalid, "name: use 1-64 of a-z, 0-9, '_' or '-'"))
		return config.Audience{}, false
	}
	body, err := httpx.ReadBody(c, 64<<10)
	if err != nil {
		httpx.Fail(c, err)
		return config.Audience{}, false
	}
	def, err := DecodeAudience(body)
	if err != nil {
		httpx.Fail(c, invalid(err))
		return config.Audience{}, false
	}
	if def.Name != "" && def.Name != name {
		httpx.Fail(c, httpx.Errorf(httpx.Invalid, "name: body says "+quote(def.Name)+", path says "+quote(name)))
		return config.Audience{}, false
	}
	def.Name = name
	return def, true
}

// putAudience stores a definition.
func (a *API) putAudience(c *gin.Context) {
	def, ok := readDefinition(c)
	if !ok {
		return
	}
	name := def.Name
	if err := a.engine.PutAudience(c.Request.Context(), httpx.CurrentSite(c).ID, def); err != nil {
		httpx.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"name": name, "stored": true, "definition": def,
		"note": "members are computed by the next segment run (POST /api/sites/:site/segments/run to run now)"})
}

// dryRun answers POST /api/sites/:site/audiences/:audience/dry-run: the
// members the definition in the body would have now, by group, without
// storing or publishing anything (the editor's preview).
func (a *API) dryRun(c *gin.Context) {
	def, ok := readDefinition(c)
	if !ok {
		return
	}
	r, err := a.engine.DryRun(c.Request.Context(), httpx.CurrentSite(c).ID, def)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"name": def.Name, "members": r.Members, "treatment": r.Treatment, "holdout": r.Holdout,
		"holdout_percent": def.Holdout(), "as_of": r.AsOf, "took_ms": r.Took.Milliseconds()})
}

func (a *API) deleteAudience(c *gin.Context) {
	if err := a.engine.DeleteAudience(c.Request.Context(), httpx.CurrentSite(c).ID, c.Param("audience")); err != nil {
		httpx.Fail(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// visitor answers GET …/visitors/{vid}/interests and …/recommendations.
func (a *API) visitor(c *gin.Context) {
	rest := httpx.RestParam(c, "rest")
	i := strings.LastIndexByte(rest, '/')
	if i <= 0 {
		httpx.Fail(c, errVisitorRoute)
		return
	}
	switch vid, what := rest[:i], rest[i+1:]; what {
	case "interests":
		a.interests(c, vid)
	case "recommendations":
		a.recommendations(c, vid)
	default:
		httpx.Fail(c, errVisitorRoute)
	}
}

var errVisitorRoute = httpx.Errorf(httpx.NotFound, "no such route: use /visitors/{visitor id}/interests or /visitors/{visitor id}/recommendations")

// interests answers a visitor's top category and product interests in the
// current run, with their profile.
func (a *API) interests(c *gin.Context, vid string) {
	ctx := c.Request.Context()
	site := httpx.CurrentSite(c).ID
	p := []any{clickhouse.Named("site", site), clickhouse.Named("vid", vid)}
	type interest struct {
		Kind        string     `json:"kind"`
		Key         string     `json:"key"`
		Category    string     `json:"category"`
		Depth       uint8      `json:"depth,omitempty"`
		Score       float64    `json:"score"`
		Events      uint64     `json:"events"`
		LastTime    time.Time  `json:"last_time"`
		Stage       string     `json:"stage,omitempty"`
		ViewedAt    *time.Time `json:"viewed_at,omitempty"`
		CartedAt    *time.Time `json:"carted_at,omitempty"`
		PurchasedAt *time.Time `json:"purchased_at,omitempty"`
	}
	rows, err := a.db.Query(ctx, visitorInterestsSQL, p...)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	defer rows.Close()
	var cats, prods []interest
	for rows.Next() {
		var i interest
		var v, ca, pu time.Time
		if err := rows.Scan(&i.Kind, &i.Key, &i.Category, &i.Depth, &i.Score, &i.Events, &i.LastTime, &i.Stage, &v, &ca, &pu); err != nil {
			httpx.Fail(c, err)
			return
		}
		i.ViewedAt, i.CartedAt, i.PurchasedAt = when(v), when(ca), when(pu)
		if i.Kind == "category" {
			cats = append(cats, i)
		} else {
			prods = append(prods, i)
		}
	}
	if err := rows.Err(); err != nil {
		httpx.Fail(c, err)
		return
	}
	var prof struct {
		UserID       string  `json:"user_id"`
		CustomerType string  `json:"customer_type"`
		Source       string  `json:"customer_type_source"`
		PriceBand    string  `json:"price_band"`
		AvgPrice     float64 `json:"avg_price"`
	}
	err = a.db.QueryRow(ctx, `SELECT user_id, customer_type, customer_type_source, price_band, avg_price
		FROM seg_profiles WHERE site = @site AND run_id GLOBAL IN (`+currentRunSQL+`)
			AND vh = cityHash64(@vid) AND visitor_id = @vid AND opted_out = 0 LIMIT 1`, p...).
		Scan(&prof.UserID, &prof.CustomerType, &prof.Source, &prof.PriceBand, &prof.AvgPrice)
	if err != nil {
		if len(cats)+len(prods) == 0 {
			httpx.Fail(c, httpx.Errorf(httpx.NotFound, "no interests for this visitor in the current run (unknown, opted out, or no run yet)"))
			return
		}
	}
	c.JSON(http.StatusOK, gin.H{"visitor_id": vid, "profile": prof, "categories": nonNil(cats), "products": nonNil(prods)})
}

// recommendations answers the visitor's ranked products in every
// audience they are in (current run) and not held out of, each with
// strategy and reason.
func (a *API) recommendations(c *gin.Context, vid string) {
	ctx := c.Request.Context()
	site := httpx.CurrentSite(c).ID
	type item struct {
		Audience   string  `json:"audience"`
		Rank       uint32  `json:"rank"`
		ProductID  string  `json:"product_id"`
		AnchorID   string  `json:"anchor_id"`
		Strategy   string  `json:"strategy"`
		Reason     string  `json:"reason"`
		Motivation string  `json:"motivation"`
		Score      float64 `json:"score"`
	}
	// A person who opted out since the run is not targeted either, as in
	// the member export.
	if out, err := a.optedOutSinceRun(ctx, site, vid); err != nil || out {
		if err != nil {
			httpx.Fail(c, err)
			return
		}
		c.JSON(http.StatusOK, gin.H{"visitor_id": vid, "items": []item{}})
		return
	}
	// Audiences that hold the visitor out are left out: the holdout is
	// never targeted, here no more than in exports.
	rows, err := a.db.Query(ctx, `SELECT audience, rank, product_id, anchor_id, strategy, reason, motivation, score
		FROM seg_recommendations WHERE site = @site AND run_id GLOBAL IN (`+currentRunSQL+`)
			AND vh = cityHash64(@vid) AND visitor_id = @vid
			AND audience GLOBAL NOT IN (SELECT audience FROM seg_members WHERE site = @site AND run_id GLOBAL IN (`+currentRunSQL+`)
				AND visitor_id = @vid AND grp = '`+Holdout+`')
		ORDER BY audience, rank`, clickhouse.Named("site", site), clickhouse.Named("vid", vid))
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	defer rows.Close()
	items := []item{}
	for rows.Next() {
		var i item
		if err := rows.Scan(&i.Audience, &i.Rank, &i.ProductID, &i.AnchorID, &i.Strategy, &i.Reason, &i.Motivation, &i.Score); err != nil {
			httpx.Fail(c, err)
			return
		}
		items = append(items, i)
	}
	if err := rows.Err(); err != nil {
		httpx.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"visitor_id": vid, "items": items})
}

// optedOutSinceRun reports whether the visitor, or a person it belongs to,
// has an opted-out event: the run left out those opted out when it read
// the events, and the member export checks again; this does the same for
// one visitor. The visitor's own events are read by the table's key;
// only a visitor seen with a user id costs a look at the site's user ids
// (opt-out follows the person: another device of the user, or the user
// id itself, may have opted out).
func (a *API) optedOutSinceRun(ctx context.Context, site, vid string) (bool, error) {
	p := []any{clickhouse.Named("site", site), clickhouse.Named("vid", vid)}
	var optedOut uint8
	var users []string
	err := a.db.QueryRow(ctx, `SELECT max(opted_out), groupUniqArrayIf(user_id, user_id != '') FROM events
		WHERE site = @site AND cityHash64(visitor_id) = cityHash64(@vid) AND visitor_id = @vid`, p...).Scan(&optedOut, &users)
	if err != nil || optedOut == 1 || len(users) == 0 {
		return optedOut == 1, err
	}
	p = append(p, clickhouse.Named("users", users))
	err = a.db.QueryRow(ctx, `SELECT count() > 0 FROM events
		WHERE site = @site AND opted_out = 1 AND (has(@users, user_id)
			OR visitor_id GLOBAL IN (SELECT visitor_id FROM events WHERE site = @site AND has(@users, user_id)))`, p...).Scan(&optedOut)
	return optedOut == 1, err
}

// run starts a run in the background and answers 202; ?wait=1 waits for
// it and answers its result. ?audience= narrows it; ?full=1 rebuilds
// from all events.
func (a *API) run(c *gin.Context) {
	site := httpx.CurrentSite(c).ID
	opt := RunOptions{Audience: c.Query("audience"), Full: c.Query("full") == "1" || c.Query("full") == "true"}
	if opt.Audience != "" {
		defs, err := a.engine.Audiences(c.Request.Context(), site)
		if err != nil {
			httpx.Fail(c, err)
			return
		}
		if !slices.ContainsFunc(defs, func(d config.Audience) bool { return d.Name == opt.Audience }) {
			httpx.Fail(c, httpx.Errorf(httpx.NotFound, fmt.Sprintf("audience %q: no such audience", opt.Audience)))
			return
		}
	}
	busy := httpx.Errorf(httpx.Conflict, ErrBusy.Error()+"; retry when it is done")
	if c.Query("wait") == "1" || c.Query("wait") == "true" {
		res, err := a.engine.Run(c.Request.Context(), site, opt)
		switch {
		case errors.Is(err, ErrBusy):
			httpx.Fail(c, busy)
			return
		case errors.Is(err, ErrNoAudience): // deleted since the check above
			httpx.Fail(c, httpx.Errorf(httpx.NotFound, err.Error()))
			return
		}
		if err != nil {
			httpx.Fail(c, err)
			return
		}
		c.JSON(http.StatusOK, gin.H{"run_id": res.RunID, "took_ms": res.Took.Milliseconds(), "sizes": res.Sizes,
			"mode": res.Mode, "cause": res.Cause, "reason": res.Reason, "recomputed_visitors": res.Affected})
		return
	}
	// The lock is taken before answering: "started" must not be said of
	// a run that would find another going and not happen.
	if !a.engine.lockForRun(c.Request.Context(), site) {
		observeRun(RunResult{Site: site}, ErrBusy)
		httpx.Fail(c, busy)
		return
	}
	a.runs.Add(1)
	go func() {
		defer a.runs.Done()
		if _, err := a.engine.runLocked(a.runCtx, site, opt); err != nil {
			a.log.Error("on-demand segment run failed", "site", site, "err", err)
		}
	}()
	c.JSON(http.StatusAccepted, gin.H{"started": true, "status": "GET /api/sites/" + site + "/audiences shows sizes and last_run when it is done"})
}

func when(t time.Time) *time.Time {
	if t.Unix() <= 0 {
		return nil
	}
	u := t.UTC()
	return &u
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func quote(s string) string { return `"` + s + `"` }

// The per-visitor reads go to the current run's rows by the visitor's
// hash (what the tables are keyed by) rather than through the views,
// which resolve every visitor of the run. The pointer is read GLOBAL:
// on a cluster, once, where the query arrives, and the run id sent to the
// shards (a shard would look for seg_current in its default database,
// and one shard could see a newer pointer than another); on one node
// GLOBAL IN is IN.
const currentRunSQL = `SELECT argMax(run_id, switched) FROM seg_current WHERE site = @site`

// visitorInterestsSQL is v_visitor_interests for one visitor: category
// rows summed per prefix level, then product rows, each by score, equal
// scores by key. Ties are common (every level of a one-product path scores
// the same), and without the key they came in the grouping's hash order,
// which differs between servers.
var visitorInterestsSQL = `SELECT kind, key, category, depth, score, events, last_time, stage, viewed_at, carted_at, purchased_at
FROM (
    SELECT 'category' AS kind, prefix AS key, prefix AS category, toUInt8(length(splitByString(' > ', prefix))) AS depth,
        sum(score) AS score, sum(events) AS events, max(last_time) AS last_time, '' AS stage,
        toDateTime(0) AS viewed_at, toDateTime(0) AS carted_at, toDateTime(0) AS purchased_at
    FROM (
        SELECT score, events, last_time,
            arrayJoin(` + prefixes("category") + `) AS prefix
        FROM seg_interests
        WHERE site = @site AND run_id GLOBAL IN (` + currentRunSQL + `) AND vh = cityHash64(@vid) AND category != ''
    )
    GROUP BY prefix
    UNION ALL
    SELECT 'product' AS kind, product_id AS key, category, toUInt8(0) AS depth, score, events, last_time, stage,
        viewed_at, carted_at, purchased_at
    FROM (
        SELECT ph, category, score, events, last_time, stage, viewed_at, carted_at, purchased_at
        FROM seg_interests
        WHERE site = @site AND run_id GLOBAL IN (` + currentRunSQL + `) AND vh = cityHash64(@vid) AND ph != 0
    ) AS interests ANY LEFT JOIN (
        SELECT ph, product_id FROM seg_products WHERE site = @site AND run_id GLOBAL IN (` + currentRunSQL + `)
    ) AS products USING ph
)
ORDER BY kind, score DESC, key LIMIT 200`
