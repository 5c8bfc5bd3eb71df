package clustercheck

import (
	"context"
	"testing"
	"time"

	"github.com/remarket/remarket/internal/chdb"
	"github.com/remarket/remarket/internal/config"
	"github.com/remarket/remarket/internal/runcheck"
	rmsql "github.com/remarket/remarket/sql"
)

// demoSite is the site `remarket demo` makes.
const demoSite = "demo"

var demoRun struct {
	cfg config.Config
	now time.Time
}

// The demo, end to end on the cluster (collect API and pixel through the
// spool into the Distributed events table, catalog import into the
// replicated catalog, a segment run), then its events and catalog copied
// to a single node: a segment run and an evaluation with the same clock
// on both show the same audience sizes, members, interests, profiles,
// related products, recommendations, audience product lists, feeds and
// evaluation figures.
func TestSegmentRunsShowWhatOneNodeShows(t *testing.T) {
	migrated(t)
	ctx := context.Background()
	bin, err := buildRemarket()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	cfgPath := runcheck.RunDemo(t, bin, cluster.DSN(database, cluster.Node(2, 1), cluster.Node(1, 1)),
		[]string{"REMARKET_CLICKHOUSE_CLUSTER=" + clusterName}, "--visitors", "400")
	t.Logf("remarket demo on the cluster took %s", time.Since(start).Round(time.Millisecond))
	cfg, err := config.Load(cfgPath, true)
	if err != nil {
		t.Fatal(err)
	}
	clustered := openCluster(t, cluster.DSN(database, cluster.Node(1, 2), cluster.Node(2, 2)))
	var anchor time.Time
	if err := clustered.QueryRow(ctx, "SELECT max(anchor) FROM demo_runs WHERE site = ?", demoSite).Scan(&anchor); err != nil {
		t.Fatal(err)
	}
	// One clock for both: a minute after the simulation's last hit.
	now := anchor.Add(time.Minute)

	one, err := chdb.Open(ctx, single.DSN("same"))
	if err != nil {
		t.Fatal(err)
	}
	defer one.Close()
	if _, err := rmsql.Migrate(ctx, one); err != nil {
		t.Fatal(err)
	}
	for _, table := range []string{"events", "catalog_products", "catalog_versions", "feed_discount_rules"} {
		runcheck.CopyTable(t, cluster.Node(1, 1), database, single, "same", table, "site = '"+demoSite+"'")
	}
	start = time.Now()
	a := runcheck.Compute(t, cfg, one, "one node", demoSite, now)
	t.Logf("one node: run and evaluation in %s", time.Since(start).Round(time.Millisecond))
	start = time.Now()
	b := runcheck.Compute(t, cfg, clustered, "the cluster", demoSite, now)
	t.Logf("the cluster: run and evaluation in %s", time.Since(start).Round(time.Millisecond))
	runcheck.Compare(t, a, b)
	demoRun.cfg, demoRun.now = cfg, now
}
