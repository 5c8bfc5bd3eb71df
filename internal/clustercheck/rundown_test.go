package clustercheck

import (
	"context"
	"testing"
	"time"

	"github.com/remarket/remarket/segment"
)

// A replica killed while a segment run computes: the run either fails
// with an error or succeeds, the current run is then the previous one or
// the new one whole, and once the replica is back the next run succeeds.
func TestARunWhileAReplicaDies(t *testing.T) {
	migrated(t)
	ctx := context.Background()
	const site = "rundown"
	db := openCluster(t, cluster.DSN(database, cluster.Node(2, 2), cluster.Node(1, 2)))
	err := db.Exec(ctx, `INSERT INTO events (site, event_id, event_time, received_at, type, visitor_id, product_id, category, price, quantity)
		SELECT @site, generateUUIDv4(), now() - 86400 + number, now() - 86400 + number, if(number % 5 = 0, 'add_to_cart', 'product_view'),
			concat('v', toString(number % 3000)), concat('p', toString(number % 40)), concat('C', toString(number % 4)), 100 + number % 40, 1
		FROM system.numbers LIMIT 30000`, named("site", site))
	if err != nil {
		t.Fatal(err)
	}
	cfg := oneSite(site, 3)
	eng := quietEngine(cfg, db)
	first, err := eng.Run(ctx, site, segment.RunOptions{Full: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("a full run takes %s", first.Took.Round(time.Millisecond))
	for _, victim := range []int{0, 1} { // shard 1's replica 1, then replica 2
		n := cluster.Nodes[victim]
		done := make(chan struct{})
		var res segment.RunResult
		var runErr error
		go func() {
			defer close(done)
			rctx, cancel := context.WithTimeout(ctx, 6*time.Minute)
			defer cancel()
			res, runErr = eng.Run(rctx, site, segment.RunOptions{Full: true})
		}()
		time.Sleep(first.Took / 3)
		n.Kill()
		<-done
		current, err := eng.CurrentRun(ctx, site)
		// The switch is one row, replicated: the node read may get it a
		// moment after the run returns (readers meanwhile see the
		// previous run whole).
		for deadline := time.Now().Add(30 * time.Second); err == nil && runErr == nil && current != res.RunID && time.Now().Before(deadline); {
			time.Sleep(200 * time.Millisecond)
			current, err = eng.CurrentRun(ctx, site)
		}
		t.Logf("node %d killed a third into a run: %v; current run %s", victim+1, runErr, current)
		switch {
		case err != nil:
			t.Errorf("current run: %v", err)
		case runErr == nil && current != res.RunID:
			t.Errorf("the run succeeded as %s, but %s is current", res.RunID, current)
		case runErr != nil && current != first.RunID:
			t.Errorf("the run failed, but %s is current, not %s", current, first.RunID)
		}
		if runErr == nil {
			first = res
		}
		if err := cluster.Recover(ctx, n); err != nil {
			t.Fatal(err)
		}
		rctx, cancel := context.WithTimeout(ctx, 6*time.Minute)
		next, err := eng.Run(rctx, site, segment.RunOptions{})
		cancel()
		if err != nil {
			t.Fatalf("the run after node %d returned: %v", victim+1, err)
		}
		first = next
	}
}
