// Package runcheck compares what segment runs show users on two
// ClickHouse setups (18.16 and 26.x in internal/crosscheck; one node and
// a cluster in internal/clustercheck): the same inputs and clock must give
// the same audience sizes, members, interests, profiles, related
// products, recommendations, audience product lists, feeds and
// evaluation figures. For tests only.
package runcheck

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/gin-gonic/gin"

	"github.com/remarket/remarket/feeds"
	"github.com/remarket/remarket/internal/chdb"
	"github.com/remarket/remarket/internal/chserver"
	"github.com/remarket/remarket/internal/config"
	"github.com/remarket/remarket/segment"
)

// Snapshot is everything a run shows users, as comparable rows.
type Snapshot struct {
	Engine   string             // which ClickHouse, for messages
	Tables   map[string][][]any // name → rows sorted by their text
	Eval     segment.EvalResult
	NextItem segment.NextItemResult // remarket eval --next-item
	Feeds    map[string]string      // audience/file → body with the run id masked
}

// Compute runs a segment run and the evaluations of site with the clock
// at now, and reads what they show: the analysts' views of the run (every
// column but run_id), the product snapshot, every feed of every audience
// and the evaluations' figures (leave-last-out and next-item). engine names db in messages.
// Every view of the run must have rows (the demo has them all), so that
// a comparison cannot pass by comparing nothing.
func Compute(t testing.TB, cfg config.Config, db *chdb.DB, engine, site string, now time.Time) Snapshot {
	t.Helper()
	s := ComputeRun(t, cfg, db, engine, site, now)
	for name, rows := range s.Tables {
		if len(rows) == 0 {
			t.Errorf("%s: %s of the run is empty", engine, name)
		}
	}
	return s
}

// ComputeRun is Compute for a shop that need not have a row in every
// view (one without offer redemptions, say).
func ComputeRun(t testing.TB, cfg config.Config, db *chdb.DB, engine, site string, now time.Time) Snapshot {
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
		t.Fatalf("segment run on %s: %v", engine, err)
	}
	PinFinish(t, db, site, res.RunID, now)
	s := Read(t, cfg, db, api, engine, site, res.RunID)
	if s.Eval, err = eng.Evaluate(ctx, site, 10); err != nil {
		t.Fatalf("eval on %s: %v", engine, err)
	}
	// remarket eval --next-item: the last day's sessions held out.
	if s.NextItem, err = eng.EvaluateNextItem(ctx, site, segment.NextItemOptions{}); err != nil {
		t.Fatalf("next-item eval on %s: %v", engine, err)
	}
	if s.NextItem.Pairs == 0 {
		t.Errorf("%s: the next-item eval replayed no next items", engine)
	}
	s.NextItem.Took = 0
	return s
}

// PinFinish sets the time run runID finished to now: feeds date offer
// windows from when the run finished, a wall-clock time that differs
// between any two runs.
func PinFinish(t testing.TB, db *chdb.DB, site, runID string, now time.Time) {
	t.Helper()
	err := db.Exec(context.Background(), `INSERT INTO seg_runs (site, run_id, started_at, finished_at, status, error, as_of, audiences, updated)
		SELECT site, run_id, started_at, toDateTime(@now), status, error, as_of, audiences, updated + 1
		FROM seg_runs WHERE site = @site AND run_id = @run ORDER BY updated DESC LIMIT 1`,
		clickhouse.Named("site", site), clickhouse.Named("run", runID), clickhouse.Named("now", now.Unix()))
	if err != nil {
		t.Fatalf("cannot pin the finish of run %s: %v", runID, err)
	}
}

// Read reads what run runID of site shows users: the analysts' views of
// the run (every column but run_id), the product snapshot and, when the
// run is the site's current one, every feed of its audiences from api.
func Read(t testing.TB, cfg config.Config, db *chdb.DB, api *feeds.API, engine, site, runID string) Snapshot {
	t.Helper()
	s := Snapshot{Engine: engine, Tables: map[string][][]any{}, Feeds: map[string]string{}}
	// Every column but run_id, which is random per run.
	views := map[string]string{
		"v_audience_sizes":          "SELECT audience, size FROM v_audience_sizes WHERE site = ? AND run_id = ?",
		"v_audience_members":        "SELECT audience, visitor_id, user_id, email_sha256, stage, customer_type, trigger_time, opted_out, grp FROM v_audience_members WHERE site = ? AND run_id = ?",
		"v_visitor_interests":       "SELECT visitor_id, kind, key, category, depth, score, events, last_time, stage, viewed_at, carted_at, purchased_at FROM v_visitor_interests WHERE site = ? AND run_id = ?",
		"v_visitor_profiles":        "SELECT visitor_id, user_id, email_sha256, customer_type, customer_type_source, price_band, avg_price, opted_out, first_seen, last_seen, events FROM v_visitor_profiles WHERE site = ? AND run_id = ?",
		"v_related_products":        "SELECT product_id, related_id, kind, score, rank, strategy, together, reason, motivation, position FROM v_related_products WHERE site = ? AND run_id = ?",
		"v_visitor_recommendations": "SELECT audience, visitor_id, product_id, anchor_id, strategy, reason, motivation, score, rank FROM v_visitor_recommendations WHERE site = ? AND run_id = ?",
		"v_audience_products":       "SELECT audience, product_id, anchor_id, strategy, reason, motivation, score, rank, members FROM v_audience_products WHERE site = ? AND run_id = ?",
		"seg_products":              "SELECT product_id, idx, known, category, price, in_stock, views, buyers, units, motivation FROM seg_products WHERE site = ? AND run_id = ?",
		// The co-occurrence sums the next incremental run updates.
		"seg_pairs":           "SELECT kind, x, y, k11, w FROM seg_pairs WHERE site = ? AND run_id = ?",
		"v_audience_outcomes": "SELECT audience, day_joined, grp, members, converters, revenue, discount_cost, orders, revenue_sq, redemptions, complete FROM v_audience_outcomes WHERE site = ? AND run_id = ?",
		// Redemptions are not per run: those up to the run's time.
		"v_offer_redemptions": "SELECT order_id, product_id, audience, rule_key, rule, visitor_id, user_id, redeemed_at, quantity, revenue, discount, currency, source FROM v_offer_redemptions WHERE site = ? AND redeemed_at <= (SELECT as_of FROM v_segment_runs WHERE run_id = ?)",
	}
	for name, q := range views {
		s.Tables[name] = rows(t, db, q, site, runID)
	}

	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	api.Register(r)
	sc, _ := cfg.Site(site)
	for _, audience := range audiences(t, db, site, runID) {
		for _, file := range []string{"google.xml", "meta.csv", "feed.json"} {
			w := httptest.NewRecorder()
			req := httptest.NewRequest(http.MethodGet, "/feeds/"+site+"/"+audience+"/"+file+"?token="+url.QueryEscape(sc.FeedToken), nil)
			r.ServeHTTP(w, req)
			if w.Code != http.StatusOK {
				t.Fatalf("%s: %s/%s answered %d: %s", engine, audience, file, w.Code, w.Body.String())
			}
			s.Feeds[audience+"/"+file] = strings.ReplaceAll(w.Body.String(), runID, "RUN")
		}
	}
	return s
}

// audiences are the audiences run runID sized.
func audiences(t testing.TB, db *chdb.DB, site, runID string) []string {
	t.Helper()
	var out []string
	for _, r := range rows(t, db, "SELECT audience FROM seg_audience_sizes WHERE site = ? AND run_id = ?", site, runID) {
		out = append(out, r[0].(string))
	}
	return out
}

// Compare reports every difference between two snapshots: rows (floats
// to 1e-9 relative), feeds byte for byte, evaluation figures.
func Compare(t testing.TB, a, b Snapshot) {
	t.Helper()
	names := make([]string, 0, len(a.Tables))
	for n := range a.Tables {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, name := range names {
		ra, rb := a.Tables[name], b.Tables[name]
		if len(ra) != len(rb) {
			t.Errorf("%s: %d rows on %s, %d on %s", name, len(ra), a.Engine, len(rb), b.Engine)
		}
		diffs := 0
		for i := range min(len(ra), len(rb)) {
			if !sameRow(ra[i], rb[i]) {
				if diffs < 5 {
					t.Errorf("%s row %d differs:\n  %s: %v\n  %s: %v", name, i, a.Engine, ra[i], b.Engine, rb[i])
				}
				diffs++
			}
		}
		if diffs > 0 {
			t.Errorf("%s: %d of %d rows differ", name, diffs, len(ra))
		}
		t.Logf("%s: %d rows compared", name, len(ra))
	}
	feedNames := make([]string, 0, len(a.Feeds))
	for n := range a.Feeds {
		feedNames = append(feedNames, n)
	}
	slices.Sort(feedNames)
	for _, n := range feedNames {
		if fa, fb := a.Feeds[n], b.Feeds[n]; fa != fb {
			t.Errorf("feed %s differs: %s", n, firstDifference(fa, fb))
		}
	}
	if len(a.Feeds) != len(b.Feeds) {
		t.Errorf("%d feeds on %s, %d on %s", len(a.Feeds), a.Engine, len(b.Feeds), b.Engine)
	}
	t.Logf("%d feeds compared", len(a.Feeds))
	ea, eb := a.Eval, b.Eval
	ea.Took, eb.Took = 0, 0
	if !sameEval(ea, eb) {
		t.Errorf("eval differs:\n  %s: %+v\n  %s: %+v", a.Engine, ea, b.Engine, eb)
	}
	if !sameNextItem(a.NextItem, b.NextItem) {
		t.Errorf("next-item eval differs:\n  %s: %+v\n  %s: %+v", a.Engine, a.NextItem, b.Engine, b.NextItem)
	}
	t.Logf("next-item eval compared: %d sessions, %d next items", a.NextItem.Sessions, a.NextItem.Pairs)
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
func rows(t testing.TB, db *chdb.DB, q string, args ...any) [][]any {
	t.Helper()
	rs, err := db.Query(context.Background(), q, args...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rs.Close()
	type keyed struct {
		key string
		row []any
	}
	var read []keyed
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
		read = append(read, keyed{sortKey(vals), vals})
	}
	if err := rs.Err(); err != nil {
		t.Fatal(err)
	}
	// Each row's key is printed once: printed at every comparison, they
	// took 10 s for 100,000 rows.
	slices.SortStableFunc(read, func(x, y keyed) int { return strings.Compare(x.key, y.key) })
	out := make([][]any, len(read))
	for i, r := range read {
		out[i] = r.row
	}
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

// CopyTable copies a table's rows (those where holds, unless it is
// empty) from one server's database to another's, in ClickHouse's Native
// format over HTTP (the current server's remote() sends settings 18.16
// refuses). Into a cluster's Distributed table the insert is synchronous.
func CopyTable(t testing.TB, from *chserver.Server, fromDB string, to *chserver.Server, toDB, table, where string) {
	t.Helper()
	q := "SELECT * FROM " + table
	if where != "" {
		q += " WHERE " + where
	}
	// Identifiers and conditions are the tests' constants.
	get, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/?database=%s&query=%s", from.HTTPPort, fromDB,
		url.QueryEscape(q+" FORMAT Native")))
	if err != nil {
		t.Fatal(err)
	}
	defer get.Body.Close()
	if get.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(get.Body)
		t.Fatalf("cannot read %s: %s", table, msg)
	}
	put, err := http.Post(fmt.Sprintf("http://127.0.0.1:%d/?database=%s&insert_distributed_sync=1&query=%s", to.HTTPPort, toDB,
		url.QueryEscape("INSERT INTO "+table+" FORMAT Native")), "application/octet-stream", get.Body)
	if err != nil {
		t.Fatal(err)
	}
	defer put.Body.Close()
	if msg, _ := io.ReadAll(put.Body); put.StatusCode != http.StatusOK {
		t.Fatalf("cannot write %s: %s", table, msg)
	}
}

// RunDemo runs `remarket demo --no-serve` (and args) against dsn, with
// env added to the process's, and returns the config file it wrote.
func RunDemo(t testing.TB, bin, dsn string, env []string, args ...string) string {
	t.Helper()
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "remarket.yaml")
	cmd := exec.Command(bin, append([]string{"demo", "--no-serve", "--config", cfgPath}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), "CLICKHOUSE_DSN="+dsn, "REMARKET_LISTEN=127.0.0.1:0", "REMARKET_SPOOL_DIR="+filepath.Join(dir, "spool")), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("remarket demo --no-serve on %s: %v\n%s", dsn, err, out.String())
	}
	return cfgPath
}

// BuildRemarket builds the binary into a test's temp dir.
func BuildRemarket(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "remarket")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/remarket/remarket/cmd/remarket")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("cannot build remarket: %v\n%s", err, out)
	}
	return bin
}

func newOf(t reflect.Type) any { return reflect.New(t).Interface() }

func deref(p any) any { return reflect.ValueOf(p).Elem().Interface() }
