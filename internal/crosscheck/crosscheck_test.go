// Package crosscheck proves that remarket gives the same results on the
// ClickHouse our machines run (Debian's clickhouse-server 18.16) and on the
// one production users run (ClickHouse 26.x, from the chDB library).
//
// `remarket demo --no-serve` runs against both engines. Then the 18.16
// demo's inputs (events and catalog) are copied into a fresh database on
// the current engine, a segment run and an evaluation with the same clock
// run on both, and every output a user sees is compared row by row:
// audience sizes, members, interests, profiles, related products,
// recommendations, audience product lists, eval figures (leave-last-out
// and next-item) and every item of every feed (Google XML, Meta CSV,
// JSON).
package crosscheck

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"math"
	"os"
	"testing"
	"time"

	"github.com/remarket/remarket/internal/chdb"
	"github.com/remarket/remarket/internal/chserver"
	"github.com/remarket/remarket/internal/config"
	"github.com/remarket/remarket/internal/runcheck"
	"github.com/remarket/remarket/segment"
	rmsql "github.com/remarket/remarket/sql"
)

const site = "demo"

func TestDemoGivesTheSameResultsOnBothClickHouses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two ClickHouse engines and runs the demo on each")
	}
	ctx := context.Background()
	bin := runcheck.BuildRemarket(t)
	old := startEngine(t, chserver.EngineServer)
	cur := startEngine(t, chserver.EngineChDB)

	// The demo, end to end through ingest, on each engine.
	cfgPath := runcheck.RunDemo(t, bin, old.DSN("demo_old"), nil)
	runcheck.RunDemo(t, bin, cur.DSN("demo_cur"), nil)
	cfg, err := config.Load(cfgPath, true)
	if err != nil {
		t.Fatal(err)
	}

	// The same inputs on both: the 18.16 demo's events and catalog.
	oldDB := open(t, old.DSN("demo_old"))
	curDB := open(t, cur.DSN("same"))
	if _, err := rmsql.Migrate(ctx, curDB); err != nil {
		t.Fatal(err)
	}
	// Outcomes also need who joined when, and the redemptions recorded;
	// feeds the offer windows the demo's campaign opened (and closed).
	for _, table := range []string{"events", "catalog_products", "catalog_versions", "feed_discount_rules", "seg_member_joins", "offer_redemptions",
		"feed_offer_windows"} {
		copyTable(t, old, "demo_old", cur, "same", table)
	}
	var anchor time.Time
	if err := oldDB.QueryRow(ctx, "SELECT max(anchor) FROM demo_runs WHERE site = ?", site).Scan(&anchor); err != nil {
		t.Fatal(err)
	}
	// One clock for both: a minute after the simulation's last hit.
	now := anchor.Add(time.Minute)

	results := make([]runcheck.Snapshot, 2)
	nextItems := make([]segment.NextItemResult, 2)
	for i, db := range []*chdb.DB{oldDB, curDB} {
		results[i] = compute(t, cfg, db, now)
	}
	compareSnapshots(t, results[0], results[1])
}

// snapshot is everything a run shows users, as comparable rows.
type snapshot struct {
	engine string
	tables map[string][][]any // name → rows sorted by their text
	eval   segment.EvalResult
	feeds  map[string]string // audience/file → body with the run id masked
}

func compute(t *testing.T, cfg config.Config, db *chdb.DB, now time.Time) snapshot {
	t.Helper()
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	api := feeds.NewAPI(cfg, db, log)
	defer api.Close()
	api.Now = func() time.Time { return now }
	eng := segment.New(cfg, db, log)
	eng.Now = func() time.Time { return now }
	eng.SetRedemptions(api)
	res, err := eng.Run(ctx, site, segment.RunOptions{})
	if err != nil {
		t.Fatalf("segment run on ClickHouse %s: %v", db.Version, err)
	}
	// Offer windows start when a run finished (wall clock, which differs
	// between the two runs): both runs are recorded as finished at the
	// test's clock.
	if err := db.Exec(ctx, `INSERT INTO seg_runs (site, run_id, started_at, finished_at, status, error, as_of, audiences, updated)
		SELECT site, run_id, started_at, toDateTime(?), status, error, as_of, audiences, updated + 1
		FROM seg_runs WHERE site = ? AND run_id = ? ORDER BY updated DESC LIMIT 1`, now.Unix(), site, res.RunID); err != nil {
		t.Fatal(err)
	}
	s := snapshot{engine: db.Version.String(), tables: map[string][][]any{}, feeds: map[string]string{}}
	// Every column but run_id, which is random per run.
	views := map[string]string{
		"v_audience_sizes":          "SELECT audience, size FROM v_audience_sizes WHERE site = ? AND run_id = ?",
		"v_audience_members":        "SELECT audience, visitor_id, user_id, email_sha256, stage, customer_type, trigger_time, opted_out, grp FROM v_audience_members WHERE site = ? AND run_id = ?",
		"v_visitor_interests":       "SELECT visitor_id, kind, key, category, depth, score, events, last_time, stage, viewed_at, carted_at, purchased_at FROM v_visitor_interests WHERE site = ? AND run_id = ?",
		"v_visitor_profiles":        "SELECT visitor_id, user_id, email_sha256, customer_type, customer_type_source, price_band, avg_price, opted_out, first_seen, last_seen, events FROM v_visitor_profiles WHERE site = ? AND run_id = ?",
		"v_related_products":        "SELECT product_id, related_id, kind, score, rank, strategy, together, reason, motivation FROM v_related_products WHERE site = ? AND run_id = ?",
		"v_visitor_recommendations": "SELECT audience, visitor_id, product_id, anchor_id, strategy, reason, motivation, score, rank FROM v_visitor_recommendations WHERE site = ? AND run_id = ?",
		"v_audience_products":       "SELECT audience, product_id, anchor_id, strategy, reason, motivation, score, rank, members FROM v_audience_products WHERE site = ? AND run_id = ?",
		"seg_products":              "SELECT product_id, idx, known, category, price, in_stock, views, buyers, units, motivation FROM seg_products WHERE site = ? AND run_id = ?",
		"v_audience_outcomes":       "SELECT audience, day_joined, grp, members, converters, revenue, discount_cost, orders, revenue_sq, redemptions, complete FROM v_audience_outcomes WHERE site = ? AND run_id = ?",
		// Redemptions are not per run: those up to the run's time.
		"v_offer_redemptions": "SELECT order_id, product_id, audience, rule_key, rule, visitor_id, user_id, redeemed_at, quantity, revenue, discount, currency, source FROM v_offer_redemptions WHERE site = ? AND redeemed_at <= (SELECT as_of FROM v_segment_runs WHERE run_id = ?)",
	}
	for name, q := range views {
		s.tables[name] = rows(t, db, q, site, res.RunID)
		if len(s.tables[name]) == 0 {
			t.Errorf("ClickHouse %s: %s of the run is empty", db.Version, name)
		}
	}

	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	api.Register(r)
	sc, _ := cfg.Site(site)
	for audience := range res.Sizes {
		for _, file := range []string{"google.xml", "meta.csv", "feed.json"} {
			w := httptest.NewRecorder()
			req := httptest.NewRequest(http.MethodGet, "/feeds/"+site+"/"+audience+"/"+file+"?token="+url.QueryEscape(sc.FeedToken), nil)
			r.ServeHTTP(w, req)
			if w.Code != http.StatusOK {
				t.Fatalf("ClickHouse %s: %s/%s answered %d: %s", db.Version, audience, file, w.Code, w.Body.String())
			}
			s.feeds[audience+"/"+file] = strings.ReplaceAll(w.Body.String(), res.RunID, "RUN")
		}
	}

	if s.eval, err = eng.Evaluate(ctx, site, 10); err != nil {
		t.Fatalf("eval on ClickHouse %s: %v", db.Version, err)
	}
	return s
}

func compareSnapshots(t *testing.T, a, b snapshot) {
	t.Helper()
	names := make([]string, 0, len(a.tables))
	for n := range a.tables {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, name := range names {
		ra, rb := a.tables[name], b.tables[name]
		if len(ra) != len(rb) {
			t.Errorf("%s: %d rows on ClickHouse %s, %d on %s", name, len(ra), a.engine, len(rb), b.engine)
		}
		diffs := 0
		for i := range min(len(ra), len(rb)) {
			if !sameRow(ra[i], rb[i]) {
				if diffs < 5 {
					t.Errorf("%s row %d differs:\n  %s: %v\n  %s: %v", name, i, a.engine, ra[i], b.engine, rb[i])
				}
				diffs++
			}
		}
		if diffs > 0 {
			t.Errorf("%s: %d of %d rows differ", name, diffs, len(ra))
		}
		t.Logf("%s: %d rows compared", name, len(ra))
	}
	feedNames := make([]string, 0, len(a.feeds))
	for n := range a.feeds {
		feedNames = append(feedNames, n)
	}
	slices.Sort(feedNames)
	for _, n := range feedNames {
		if fa, fb := a.feeds[n], b.feeds[n]; fa != fb {
			t.Errorf("feed %s differs: %s", n, firstDifference(fa, fb))
		}
	}
	if len(a.feeds) != len(b.feeds) {
		t.Errorf("%d feeds on ClickHouse %s, %d on %s", len(a.feeds), a.engine, len(b.feeds), b.engine)
	}
	t.Logf("%d feeds compared", len(a.feeds))
	ea, eb := a.eval, b.eval
	ea.Took, eb.Took = 0, 0
	if !sameEval(ea, eb) {
		t.Errorf("eval differs:\n  %s: %+v\n  %s: %+v", a.engine, ea, b.engine, eb)
	}
}

func sameEval(a, b segment.EvalResult) bool {
	near := func(x, y float64) bool { return math.Abs(x-y) <= 1e-9*math.Max(1, math.Abs(x)) }
	return a.Visitors == b.Visitors && a.Products == b.Products &&
		near(a.Model.HitRate, b.Model.HitRate) && near(a.Model.NDCG, b.Model.NDCG) && near(a.Model.Coverage, b.Model.Coverage) &&
		near(a.Baseline.HitRate, b.Baseline.HitRate) && near(a.Baseline.NDCG, b.Baseline.NDCG) && near(a.Baseline.Coverage, b.Baseline.Coverage)
}

// sameRow compares column by column; floats (sums of decayed scores, whose
// order of addition is the server's) agree to 1e-9 relative.
func sameRow(a, b []any) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		fa, aok := a[i].(float64)
		fb, bok := b[i].(float64)
		if aok && bok {
			if math.Abs(fa-fb) > 1e-9*math.Max(1, math.Abs(fa)) {
				return false
			}
			continue
		}
		if fmt.Sprint(a[i]) != fmt.Sprint(b[i]) {
			return false
		}
	}
	return true
}

func firstDifference(a, b string) string {
	la, lb := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := range min(len(la), len(lb)) {
		if la[i] != lb[i] {
			return fmt.Sprintf("line %d:\n  %q\n  %q", i+1, la[i], lb[i])
		}
	}
	return fmt.Sprintf("%d lines against %d", len(la), len(lb))
}

// rows reads a query's rows, sorted by their printed form (floats rounded
// so that last-bit differences do not reorder them).
func rows(t *testing.T, db *chdb.DB, q string, args ...any) [][]any {
	t.Helper()
	rs, err := db.Query(context.Background(), q, args...)
	if err != nil {
		t.Fatalf("ClickHouse %s: %s: %v", db.Version, q, err)
	}
	defer rs.Close()
	var out [][]any
	for rs.Next() {
		vals := make([]any, len(rs.ColumnTypes()))
		for i, ct := range rs.ColumnTypes() {
			vals[i] = newOf(ct.ScanType())
		}
		if err := rs.Scan(vals...); err != nil {
			t.Fatal(err)
		}
		for i := range vals {
			vals[i] = deref(vals[i])
		}
		out = append(out, vals)
	}
	if err := rs.Err(); err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(out, func(x, y []any) int { return strings.Compare(sortKey(x), sortKey(y)) })
	return out
}

func sortKey(r []any) string {
	var b strings.Builder
	for _, v := range r {
		if f, ok := v.(float64); ok {
			fmt.Fprintf(&b, "%.6g\x00", f)
			continue
		}
		fmt.Fprintf(&b, "%v\x00", v)
	}
	return b.String()
}

// copyTable copies a table's rows from one server's database to
// another's, in ClickHouse's Native format over HTTP (the current server's
// remote() sends settings 18.16 refuses).
func copyTable(t *testing.T, from *chserver.Server, fromDB string, to *chserver.Server, toDB, table string) {
	t.Helper()
	// Identifiers are this test's constants.
	get, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/?database=%s&query=%s", from.HTTPPort, fromDB,
		url.QueryEscape("SELECT * FROM "+table+" FORMAT Native")))
	if err != nil {
		t.Fatal(err)
	}
	defer get.Body.Close()
	if get.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(get.Body)
		t.Fatalf("cannot read %s: %s", table, msg)
	}
	put, err := http.Post(fmt.Sprintf("http://127.0.0.1:%d/?database=%s&query=%s", to.HTTPPort, toDB,
		url.QueryEscape("INSERT INTO "+table+" FORMAT Native")), "application/octet-stream", get.Body)
	if err != nil {
		t.Fatal(err)
	}
	defer put.Body.Close()
	if msg, _ := io.ReadAll(put.Body); put.StatusCode != http.StatusOK {
		t.Fatalf("cannot write %s: %s", table, msg)
	}
	runcheck.Compare(t, results[0], results[1])
	if !sameNextItem(nextItems[0], nextItems[1]) {
		t.Errorf("next-item eval differs:\n  %s: %+v\n  %s: %+v", oldDB.Version, nextItems[0], curDB.Version, nextItems[1])
	}
}

// sameNextItem compares counts exactly and rates to 1e-9 (MRR sums
// 1/rank in the server's order).
func sameNextItem(a, b segment.NextItemResult) bool {
	near := func(x, y float64) bool { return math.Abs(x-y) <= 1e-9*math.Max(1, math.Abs(x)) }
	same := func(x, y segment.NextItemMethod) bool {
		return near(x.All.HitRate, y.All.HitRate) && near(x.All.MRR, y.All.MRR) &&
			near(x.Allowed.HitRate, y.Allowed.HitRate) && near(x.Allowed.MRR, y.Allowed.MRR)
	}
	return a.Sessions == b.Sessions && a.Pairs == b.Pairs && a.AllowedPairs == b.AllowedPairs &&
		a.Viewed == b.Viewed && a.Covered == b.Covered && a.InStock == b.InStock && a.Listed == b.Listed &&
		same(a.Remarket, b.Remarket) && same(a.ItemKNN, b.ItemKNN) && same(a.MostPopular, b.MostPopular)
}

func open(t *testing.T, dsn string) *chdb.DB {
	t.Helper()
	db, err := chdb.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func startEngine(t *testing.T, e chserver.Engine) *chserver.Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	s, err := chserver.Start(ctx, chserver.Options{Engine: e})
	if err != nil {
		if os.Getenv("CI") == "" && (errors.Is(err, chserver.ErrNoBinary) || errors.Is(err, chserver.ErrNoChDB)) {
			t.Skipf("%s: %v", e, err)
		}
		t.Fatalf("cannot start %s: %v", e, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
