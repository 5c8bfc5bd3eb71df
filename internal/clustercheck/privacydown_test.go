package clustercheck

// (The tests that kill ClickHouse servers live in files that sort after
// privacy_test.go, see the note at the top of replicas_test.go; these
// erasure tests come first among them, before others' kills can leave
// ClickHouse 18.16 a mutation it never finishes.)

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/remarket/remarket/internal/chdb"
	"github.com/remarket/remarket/internal/erasures"
	"github.com/remarket/remarket/privacy"
	"github.com/remarket/remarket/segment"
)

// An erasure asked for while one replica of a shard is down answers in
// seconds (running: the replica has yet to delete), a segment run in the
// meantime succeeds without the person, and once the replica is back the
// erasure finishes and no row of the person is left on any node, the
// returned replica included.
func TestErasureWhileAReplicaIsDown(t *testing.T) {
	migrated(t)
	ctx := context.Background()
	const site = "erasedown"
	// Through the replicas that stay up.
	db := openCluster(t, cluster.DSN(database, cluster.Node(1, 1), cluster.Node(2, 1), cluster.Node(2, 2)))
	// 600 product views by 60 visitors, visitor vN signed in as user uN%6:
	// each user has visitor ids on both shards.
	err := db.Exec(ctx, `INSERT INTO events (site, event_id, event_time, received_at, type, visitor_id, user_id, product_id, category, price, quantity)
		SELECT @site, generateUUIDv4(), now() - 3600 + number, now() - 3600 + number, 'product_view',
			concat('v', toString(number % 60)), concat('u', toString(number % 6)), concat('p', toString(number % 9)), 'Cameras', 100 + number % 9, 1
		FROM system.numbers LIMIT 600`, named("site", site))
	if err != nil {
		t.Fatal(err)
	}
	cfg := oneSite(site, 2)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
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
	const user = "u1"
	var visitors []string
	for i := 1; i < 60; i += 6 {
		visitors = append(visitors, fmt.Sprintf("v%d", i))
	}
	before := personRows(t, site, user, visitors)
	if before == 0 {
		t.Fatal("the person has no rows to erase")
	}

	down := cluster.Node(1, 2)
	down.Kill()
	recovered := false
	defer func() {
		if !recovered {
			if err := cluster.Recover(ctx, down); err != nil {
				t.Errorf("restart shard 1 replica 2: %v", err)
			}
		}
	}()
	er := privacy.NewEraser(cfg, db, log)
	er.Wait = 10 * time.Second
	ectx, cancel := context.WithTimeout(ctx, 90*time.Second)
	start := time.Now()
	res, err := er.Erase(ectx, privacy.Subject{Site: site, Kind: "user", ID: user}, "test")
	cancel()
	took := time.Since(start)
	if err != nil {
		t.Fatalf("erasure with shard 1's replica 2 down: %v after %s", err, took.Round(time.Second))
	}
	if res.Status != "running" || res.Visitors != len(visitors) {
		t.Errorf("erasure with a replica down: %+v after %s, want running with %d visitor ids", res, took.Round(time.Second), len(visitors))
	}
	t.Logf("the erasure answered %s after %s", res.Status, took.Round(time.Millisecond))

	// A run while the replica is down and the erasure unfinished.
	rctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	start = time.Now()
	run, err := eng.Run(rctx, site, segment.RunOptions{Full: true})
	cancel()
	if err != nil {
		t.Fatalf("segment run with a replica down and an erasure running: %v after %s", err, time.Since(start).Round(time.Second))
	}
	var members uint64
	if err := db.QueryRow(ctx, "SELECT count() FROM v_audience_members WHERE site = ? AND (user_id = ? OR has(?, visitor_id))",
		site, user, visitors).Scan(&members); err != nil || members != 0 {
		t.Errorf("run %s has %d members of the erased person (%v)", run.RunID, members, err)
	}

	if err := cluster.Recover(ctx, down); err != nil {
		t.Fatal(err)
	}
	recovered = true
	status := res.Status
	for deadline := time.Now().Add(3 * time.Minute); status != "done" && time.Now().Before(deadline); {
		time.Sleep(time.Second)
		erasures.Sweep(ctx, db, log)
		if err := db.QueryRow(ctx, "SELECT status FROM erasure_log WHERE erasure_id = toUUID(?) ORDER BY finished_at DESC LIMIT 1", res.ErasureID).Scan(&status); err != nil {
			t.Fatal(err)
		}
	}
	if status != "done" {
		logMutations(t)
		t.Fatalf("erasure %s still %s three minutes after the replica returned", res.ErasureID, status)
	}
	if left := personRows(t, site, user, visitors); left > 0 {
		logMutations(t)
		t.Errorf("%d of the person's %d rows are left on the nodes", left, before)
	}
}

// With both replicas of a shard down an erasure fails at once with an
// error naming the shard, one the API answers 503 (chdb.IsUnavailable).
func TestErasureWithAShardDown(t *testing.T) {
	migrated(t)
	ctx := context.Background()
	const site = "sharddown"
	db := openCluster(t, cluster.DSN(database, cluster.Node(1, 1), cluster.Node(1, 2)))
	cfg := oneSite(site, 0)
	for r := 1; r <= 2; r++ {
		cluster.Node(2, r).Kill()
	}
	defer func() {
		for r := 1; r <= 2; r++ {
			if err := cluster.Recover(context.Background(), cluster.Node(2, r)); err != nil {
				t.Errorf("restart shard 2 replica %d: %v", r, err)
			}
		}
	}()
	er := privacy.NewEraser(cfg, db, slog.New(slog.NewTextHandler(io.Discard, nil)))
	er.Wait = 10 * time.Second
	ectx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	start := time.Now()
	res, err := er.Erase(ectx, privacy.Subject{Site: site, Kind: "visitor", ID: "v1"}, "test")
	took := time.Since(start)
	t.Logf("erasure with shard 2 down: %v after %s", err, took.Round(time.Millisecond))
	if err == nil || !strings.Contains(err.Error(), "shard 2") || !chdb.IsUnavailable(err) || took > 30*time.Second {
		t.Errorf("erasure with shard 2 down: %+v, %v after %s; want an unavailable error naming shard 2 within 30 s", res, err, took.Round(time.Second))
	}
}

// Retention with one replica of a shard down drops the month at once on
// the replicas that answer, and on the returned replica once it is back.
func TestRetentionWhileAReplicaIsDown(t *testing.T) {
	migrated(t)
	ctx := context.Background()
	const site = "retdown"
	db := openCluster(t, cluster.DSN(database, cluster.Node(1, 1), cluster.Node(2, 2)))
	err := db.Exec(ctx, `INSERT INTO events (site, event_id, event_time, received_at, type, visitor_id)
		SELECT @site, generateUUIDv4(), toDateTime('2019-07-15 00:00:00') + number, toDateTime('2019-07-15 00:00:00') + number,
			'page_view', concat('v', toString(number % 50))
		FROM system.numbers LIMIT 400`, named("site", site))
	if err != nil {
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
	down := cluster.Node(1, 2)
	down.Kill()
	recovered := false
	defer func() {
		if !recovered {
			cluster.Recover(context.Background(), down)
		}
	}()
	cfg := oneSite(site, 0)
	cfg.Sites[0].RetentionDays = 30
	r := privacy.NewRetention(cfg, db, slog.New(slog.NewTextHandler(io.Discard, nil)))
	rctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	start := time.Now()
	months, err := r.Run(rctx, site, false)
	cancel()
	if err != nil {
		t.Fatalf("retention with shard 1's replica 2 down: %v after %s", err, time.Since(start).Round(time.Second))
	}
	dropped := 0
	for _, m := range months {
		if m.Dropped {
			dropped++
		}
	}
	if dropped != 1 {
		t.Errorf("dropped %d months, want 201907: %+v", dropped, months)
	}
	if err := cluster.Recover(ctx, down); err != nil {
		t.Fatal(err)
	}
	recovered = true
	deadline := time.Now().Add(time.Minute)
	for n := monthRows(t, 201907); n != [4]uint64{}; n = monthRows(t, 201907) {
		if time.Now().After(deadline) {
			t.Fatalf("July 2019 rows per node a minute after the replica returned: %v", n)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
