package clustercheck

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/remarket/remarket/ingest"
	"github.com/remarket/remarket/internal/chdb"
	"github.com/remarket/remarket/segment"
)

// While ZooKeeper is down the replicated tables are read-only: the
// collect API still acknowledges events (the spool keeps them and the
// shipper retries), a segment run fails with ClickHouse's reason and
// leaves the previous run current, and once ZooKeeper is back every
// acknowledged event is in v_events exactly once and a run succeeds.
func TestIngestAndRunsWhileZooKeeperIsDown(t *testing.T) {
	migrated(t)
	ctx := context.Background()
	const site, perBatch = "zkdown", 50
	db := openCluster(t, cluster.DSN(database, cluster.Node(1, 1), cluster.Node(2, 2)))
	cfg := oneSite(site, 2)
	cfg.SpoolDir = t.TempDir()
	cfg.Spool.FlushInterval = 50 * time.Millisecond
	var logs lockedBuffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	svc, err := ingest.Open(ctx, ingest.Options{Config: cfg, DB: db, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close(context.Background())
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	svc.Register(r)
	srv := httptest.NewServer(r)
	defer srv.Close()

	var ids []string
	send := func(batches int) {
		t.Helper()
		now := time.Now().UTC()
		for b := range batches {
			var events []map[string]any
			for i := range perBatch {
				id := uuid.NewString()
				ids = append(ids, id)
				events = append(events, map[string]any{
					"type": "track", "event": "Product Viewed", "messageId": id,
					"anonymousId": fmt.Sprintf("v%d", (b*perBatch+i)%40),
					"timestamp":   now.Add(-time.Duration(b*perBatch+i) * time.Second).Format(time.RFC3339Nano),
					"properties":  map[string]any{"product_id": fmt.Sprintf("p%d", i%7), "category": "Cameras", "price": 100 + i%7},
				})
			}
			body, _ := json.Marshal(map[string]any{"writeKey": "wk_" + site, "batch": events})
			if err := post(srv.URL, body); err != nil {
				t.Fatal(err)
			}
		}
	}
	send(10)
	fctx, cancel := context.WithTimeout(ctx, time.Minute)
	err = svc.Flush(fctx)
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	eng := quietEngine(cfg, db)
	first, err := eng.Run(ctx, site, segment.RunOptions{Full: true})
	if err != nil {
		t.Fatal(err)
	}

	cluster.ZooKeeper.Kill()
	restarted := false
	defer func() {
		if !restarted {
			cluster.ZooKeeper.Restart(context.Background())
		}
	}()
	// Sessions last 5 s: wait until the servers know it is gone.
	deadline := time.Now().Add(time.Minute)
	for {
		var ro uint8
		err := db.QueryRow(ctx, "SELECT min(is_readonly) FROM system.replicas WHERE database = ?", database+chdb.LocalSuffix).Scan(&ro)
		if err == nil && ro == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("tables still writable a minute after ZooKeeper stopped (%v)", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	send(10) // acknowledged: the spool has them
	fctx, cancel = context.WithTimeout(ctx, 5*time.Second)
	err = svc.Flush(fctx)
	cancel()
	if err == nil {
		t.Error("events were shipped while ZooKeeper was down")
	}
	rctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	start := time.Now()
	_, err = eng.Run(rctx, site, segment.RunOptions{Full: true})
	cancel()
	t.Logf("a run while ZooKeeper is down: %v (after %s)", err, time.Since(start).Round(time.Millisecond))
	if err == nil {
		t.Error("a segment run succeeded while ZooKeeper was down")
	}
	var current string
	if current, err = eng.CurrentRun(ctx, site); err != nil || current != first.RunID {
		t.Errorf("current run %q (%v) while ZooKeeper is down, want %s", current, err, first.RunID)
	}

	if err := cluster.ZooKeeper.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	restarted = true
	start = time.Now()
	fctx, cancel = context.WithTimeout(ctx, 2*time.Minute)
	err = svc.Flush(fctx)
	cancel()
	if err != nil {
		t.Fatalf("%v; remarket's log:\n%s", err, lastLines(logs.String(), 10))
	}
	t.Logf("the spool shipped %s after ZooKeeper returned", time.Since(start).Round(time.Millisecond))
	nodes, err := db.Nodes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, replicas := range chdb.ShardReplicas(nodes) {
		if _, err := converged(ctx, replicas, "events", site, time.Minute); err != nil {
			t.Error(err)
		}
	}
	got := map[string]int{}
	rows, err := db.Query(ctx, "SELECT toString(event_id) FROM v_events WHERE site = ?", site)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		got[id]++
	}
	rows.Close()
	missing, twice := 0, 0
	for _, id := range ids {
		switch got[id] {
		case 0:
			missing++
		case 1:
		default:
			twice++
		}
	}
	if missing > 0 || twice > 0 || len(got) != len(ids) {
		t.Errorf("acknowledged %d ids: %d missing, %d more than once; v_events has %d ids", len(ids), missing, twice, len(got))
	}
	rctx, cancel = context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	if _, err := eng.Run(rctx, site, segment.RunOptions{}); err != nil {
		t.Errorf("the first run after ZooKeeper returned: %v", err)
	}
}
