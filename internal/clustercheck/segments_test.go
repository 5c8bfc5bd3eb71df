package clustercheck

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/remarket/remarket/feeds"
	"github.com/remarket/remarket/internal/chdb"
	"github.com/remarket/remarket/internal/config"
	"github.com/remarket/remarket/internal/runcheck"
	rmsql "github.com/remarket/remarket/sql"
)

// demoSite is the site `remarket demo` makes.
const demoSite = "demo"

// demoVisitors is how many shoppers the demo simulates (make
// bench-cluster takes BENCH_CLUSTER_VISITORS).
var demoVisitors = 400

var demo struct {
	once sync.Once
	cfg  config.Config
	now  time.Time // a minute after the simulation's last hit
	took time.Duration
	err  error
	out  string
}

// demoOnCluster runs `remarket demo --no-serve` on the cluster once:
// the collect API and the pixel through the spool into the Distributed
// events table, the catalog into the replicated catalog, a segment run.
func demoOnCluster(t testing.TB) (config.Config, time.Time) {
	t.Helper()
	migrated(t)
	demo.once.Do(func() {
		bin, err := buildRemarket()
		if err != nil {
			demo.err = err
			return
		}
		start := time.Now()
		cfgPath := runcheck.RunDemo(t, bin, cluster.DSN(database, cluster.Node(2, 1), cluster.Node(1, 1)),
			[]string{"REMARKET_CLICKHOUSE_CLUSTER=" + clusterName}, "--visitors", strconv.Itoa(demoVisitors))
		demo.took = time.Since(start)
		if demo.cfg, demo.err = config.Load(cfgPath, true); demo.err != nil {
			return
		}
		db, err := chdb.OpenCluster(context.Background(), cluster.DSN(database, cluster.Node(1, 2)), clusterName)
		if err != nil {
			demo.err = err
			return
		}
		defer db.Close()
		var anchor time.Time
		demo.err = db.QueryRow(context.Background(), "SELECT max(anchor) FROM demo_runs WHERE site = ?", demoSite).Scan(&anchor)
		demo.now = anchor.Add(time.Minute)
	})
	if demo.err != nil {
		t.Fatal(demo.err)
	}
	return demo.cfg, demo.now
}

// The demo's events, catalog, joins, redemptions and offer windows (the
// demo's campaign read the feeds) copied from the cluster to a single
// node: a segment run and an evaluation with the same clock on both show
// the same audience sizes, members, interests, profiles, related
// products, recommendations, audience product lists, feeds and
// evaluation figures.
func TestSegmentRunsShowWhatOneNodeShows(t *testing.T) {
	cfg, now := demoOnCluster(t)
	t.Logf("remarket demo on the cluster took %s", demo.took.Round(time.Millisecond))
	ctx := context.Background()
	clustered := openCluster(t, cluster.DSN(database, cluster.Node(1, 2), cluster.Node(2, 2)))
	one, err := chdb.Open(ctx, single.DSN("same"))
	if err != nil {
		t.Fatal(err)
	}
	defer one.Close()
	if _, err := rmsql.Migrate(ctx, one); err != nil {
		t.Fatal(err)
	}
	for _, table := range []string{"events", "catalog_products", "catalog_versions", "feed_discount_rules", "seg_member_joins", "offer_redemptions", "feed_offer_windows"} {
		runcheck.CopyTable(t, cluster.Node(1, 1), database, single, "same", table, "site = '"+demoSite+"'")
	}
	start := time.Now()
	a := runcheck.Compute(t, cfg, one, "one node", demoSite, now)
	t.Logf("one node: run and evaluation in %s", time.Since(start).Round(time.Millisecond))
	start = time.Now()
	b := runcheck.Compute(t, cfg, clustered, "the cluster", demoSite, now)
	t.Logf("the cluster: run and evaluation in %s", time.Since(start).Round(time.Millisecond))
	runcheck.Compare(t, a, b)
}

// Feeds and member exports answer the same through every node: each
// reads the current-run pointer on its own replica, the run's rows from
// every shard.
func TestFeedsAndMembersFromEveryNode(t *testing.T) {
	cfg, now := demoOnCluster(t)
	site, _ := cfg.Site(demoSite)
	var first map[string]string
	for i, n := range cluster.Nodes {
		db := openCluster(t, cluster.DSN(database, n))
		api := feeds.NewAPI(cfg, db, slog.New(slog.NewTextHandler(io.Discard, nil)))
		api.Now = func() time.Time { return now }
		gin.SetMode(gin.ReleaseMode)
		r := gin.New()
		api.Register(r)
		got := map[string]string{}
		for _, path := range []string{
			"/feeds/demo/viewed_not_bought/google.xml?token=" + url.QueryEscape(site.FeedToken),
			"/feeds/demo/cart_abandoners/feed.json?token=" + url.QueryEscape(site.FeedToken),
			"/api/sites/demo/audiences/viewed_not_bought/members?format=csv",
		} {
			w := httptest.NewRecorder()
			req := httptest.NewRequest(http.MethodGet, path, nil)
			req.Header.Set("Authorization", "Bearer "+site.AdminToken)
			r.ServeHTTP(w, req)
			if w.Code != http.StatusOK || w.Body.Len() < 100 {
				t.Fatalf("node %d: %s answered %d: %.300s", i+1, path, w.Code, w.Body.String())
			}
			got[path] = w.Body.String()
		}
		api.Close()
		if i == 0 {
			first = got
			continue
		}
		for path, body := range got {
			if body != first[path] {
				t.Errorf("node %d answers %s otherwise than node 1", i+1, path)
			}
		}
	}
}
