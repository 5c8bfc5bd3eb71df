package clustercheck

import (
	"context"
	"testing"
	"time"

	"github.com/remarket/remarket/internal/chdb"
	"github.com/remarket/remarket/internal/runcheck"
	"github.com/remarket/remarket/segment"
)

// A run on replicas that have not fetched the newest events (their
// fetches stopped, the replicas that have them down) leaves them out,
// and sets its watermark back by the replicas' delay: the next run,
// incremental with no insert margin, recomputes their visitors, and shows
// what a full run shows: nothing missed, nothing counted twice.
func TestARunOnLaggingReplicasMissesNothingNext(t *testing.T) {
	migrated(t)
	ctx := context.Background()
	const site = "lag"
	db := openCluster(t, cluster.DSN(database, cluster.Node(1, 1), cluster.Node(2, 1), cluster.Node(1, 2), cluster.Node(2, 2)))
	// Events of visitors v0…v79 from number from to to, written into
	// each shard's table on node (shard, replica 1), as the Distributed
	// table would send them (sharding key cityHash64(visitor_id)).
	insert := func(from, to int) {
		t.Helper()
		for shard := 1; shard <= 2; shard++ {
			err := openNode(t, cluster.Node(shard, 1)).Exec(ctx, `INSERT INTO `+database+chdb.LocalSuffix+`.events
					(site, event_id, event_time, received_at, type, visitor_id, product_id, category, price, quantity)
				SELECT @site, generateUUIDv4(), now() - 7200 + number, now() - 7200 + number, if(number % 5 = 0, 'add_to_cart', 'product_view'),
					concat('v', toString(number % 80)) AS v, concat('p', toString(number % 11)), concat('C', toString(number % 3)), 100 + number % 11, 1
				FROM (SELECT number FROM system.numbers LIMIT @to)
				WHERE number >= @from AND cityHash64(v) % 2 = @s`,
				named("site", site), named("from", from), named("to", to), named("s", shard-1))
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	insert(0, 800)
	cfg := oneSite(site, 3)
	cfg.Segments.IncrementalMaxNewEventsPercent = 100
	eng := quietEngine(cfg, db)
	if _, err := eng.Run(ctx, site, segment.RunOptions{Full: true}); err != nil {
		t.Fatal(err)
	}
	nodes, err := db.Nodes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, replicas := range chdb.ShardReplicas(nodes) {
		if _, err := converged(ctx, replicas, "events", site, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	// Replicas 2 stop fetching; new events go to replicas 1.
	lagging := []int{1, 3}
	fresh := []int{0, 2}
	for _, i := range lagging {
		if err := openNode(t, cluster.Nodes[i]).Exec(ctx, "SYSTEM STOP FETCHES "+database+chdb.LocalSuffix+".events"); err != nil {
			t.Fatal(err)
		}
	}
	insert(800, 1100)
	time.Sleep(2 * time.Second) // a delay of whole seconds
	for _, i := range fresh {
		cluster.Nodes[i].Kill()
	}
	for _, i := range lagging {
		var delay, pointer, maxIndex uint64
		var queue, inserts uint32
		var expired uint8
		var updated time.Time
		err := openNode(t, cluster.Nodes[i]).QueryRow(ctx, `SELECT absolute_delay, queue_size, inserts_in_queue, log_pointer, log_max_index, is_session_expired, last_queue_update
			FROM system.replicas WHERE database = ? AND table = 'events'`, database+chdb.LocalSuffix).Scan(&delay, &queue, &inserts, &pointer, &maxIndex, &expired, &updated)
		t.Logf("lagging replica %d: absolute_delay %d, queue %d (inserts %d), log_pointer %d of log_max_index %d, session expired %d, queue updated %s ago (%v)",
			i, delay, queue, inserts, pointer, maxIndex, expired, time.Since(updated).Round(time.Second), err)
	}
	res, err := eng.Run(ctx, site, segment.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var seen uint64
	if err := db.QueryRow(ctx, "SELECT count() FROM events WHERE site = ?", site).Scan(&seen); err != nil {
		t.Fatal(err)
	}
	t.Logf("the run on the lagging replicas was %s (%s) and saw %d of 1100 events", res.Mode, res.Reason, seen)
	if seen == 1100 {
		t.Fatal("the lagging replicas had every event: the test shows nothing")
	}
	for _, i := range fresh {
		if err := cluster.Recover(ctx, cluster.Nodes[i]); err != nil {
			t.Fatal(err)
		}
	}
	for _, i := range lagging {
		if err := openNode(t, cluster.Nodes[i]).Exec(ctx, "SYSTEM START FETCHES "+database+chdb.LocalSuffix+".events"); err != nil {
			t.Fatal(err)
		}
	}
	if nodes, err = db.Nodes(ctx); err != nil {
		t.Fatal(err)
	}
	for _, replicas := range chdb.ShardReplicas(nodes) {
		if _, err := converged(ctx, replicas, "events", site, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(time.Second)
	at := time.Now().Add(time.Second)
	inc, b := runAndRead(t, cfg, db, "the cluster, incremental after the lagging run", site, at, false)
	if inc.Mode != segment.ModeIncremental {
		t.Fatalf("the run after the lagging one was %s: %s", inc.Mode, inc.Reason)
	}
	_, a := runAndRead(t, cfg, db, "the cluster, full", site, at, true)
	runcheck.Compare(t, a, b)
}
