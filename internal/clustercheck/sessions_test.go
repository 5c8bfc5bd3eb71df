package clustercheck

import (
	"testing"
	"time"

	"github.com/remarket/remarket/internal/chdb"
	"github.com/remarket/remarket/internal/config"
	"github.com/remarket/remarket/internal/runcheck"
	"github.com/remarket/remarket/segment"
)

// On real sessions (runcheck.Sessions: YooChoose's training split, 53,000
// clicks on 2,900 items, with carts and orders added), incremental runs
// on the cluster, each shard recomputing its own visitors and the pair
// sums updated over every shard, show what one node's full run on the
// same events shows.
func TestIncrementalRunsOnTheClusterEqualOneNodeOnRealSessions(t *testing.T) {
	const shop = "yoochoose"
	cfg, _ := demoOnCluster(t)
	cfg.Sites = append(cfg.Sites, config.Site{ID: shop, WriteKey: "wk_yoochoose", AdminToken: "admin-token-0123456789", FeedToken: "feed-token-0123456789"})
	cfg.Sites[len(cfg.Sites)-1].Audiences = segment.Templates()
	cfg.Segments.IncrementalMaxNewEventsPercent = 100
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	clustered := openCluster(t, cluster.DSN(database, cluster.Node(1, 2), cluster.Node(2, 2)))
	now := time.Date(2024, 5, 20, 12, 0, 0, 0, time.UTC)
	products, events := runcheck.Sessions(t, now, "train.tsv")
	runcheck.ReplaceCatalog(t, clustered, shop, products...)

	runAt := func(db *chdb.DB, engine string, at time.Time, full bool) (segment.RunResult, runcheck.Snapshot) {
		res, snap := runAndRead(t, cfg, db, engine, shop, at, full)
		t.Logf("%s at %s: %s run in %s, %d visitors recomputed", engine, at.Format(time.DateTime), res.Mode, res.Took.Round(time.Millisecond), res.Affected)
		return res, snap
	}
	// 90% of the events as history, a full run; 1% more, an incremental
	// run; 3% more, copied to one node, then the run compared.
	cut := func(share float64) int { return int(share * float64(len(events))) }
	parts := []int{cut(0.90), cut(0.91), cut(0.94)}
	from := 0
	for i, to := range parts {
		runcheck.InsertSessionEvents(t, clustered, shop, events[from:to])
		from = to
		time.Sleep(time.Second) // insert times are seconds: the run must start after them
		if i < len(parts)-1 {
			runAt(clustered, "the cluster", events[to-1].At.Add(time.Second), i == 0)
		}
	}
	// Copied before the cluster's last run: both start from the same
	// joins.
	one := siteCopy(t, "sessions", shop)
	at := events[from-1].At.Add(time.Second)
	res, b := runAt(clustered, "the cluster", at, false)
	if res.Mode != segment.ModeIncremental {
		t.Fatalf("the cluster's last run was %s: %s", res.Mode, res.Reason)
	}
	_, a := runAt(one, "one node", at, true)
	runcheck.Compare(t, a, b)
}
