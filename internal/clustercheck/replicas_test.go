package clustercheck

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/remarket/remarket/ingest"
	"github.com/remarket/remarket/internal/chdb"
)

// (This file sorts after privacy_test.go on purpose: after this test's
// SIGKILLs, ClickHouse 18.16 has left a replica with a part that a later
// ALTER … DELETE never finished (1 part to do, empty replication queue),
// which kept the erasure test "running" in CI. The erasure test runs
// first; the stuck mutation is a ClickHouse matter, noted in the closing
// note of issue 16.)
//
// 20,000 events go through the collect API while one replica of each
// shard is killed (SIGKILL) and later restarted, with re-sent batches
// among them. Every acknowledged event id is in v_events exactly once,
// and each shard's replicas end with the same rows.
func TestIngestWhileReplicasDieAndReturn(t *testing.T) {
	migrated(t)
	ctx := context.Background()
	const site, total, perBatch = "ingest", 20000, 100
	// The DSN starts with the two replicas that are killed: the pool
	// moves to the third host while they are down.
	victims := []int{1, 2} // node indexes: shard 1 replica 2, shard 2 replica 1
	db := openCluster(t, cluster.DSN(database, cluster.Node(1, 2), cluster.Node(2, 1), cluster.Node(1, 1)))
	cfg := oneSite(site, 0)
	cfg.SpoolDir = t.TempDir()
	cfg.Spool.BatchRows = 1000
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

	// The events: 1,000 visitors, ids fixed up front so that a re-sent
	// batch repeats them.
	rng := rand.New(rand.NewPCG(16, 2))
	now := time.Now().UTC().Add(-time.Hour)
	batches := make([][]byte, total/perBatch)
	ids := make([][]string, len(batches))
	for b := range batches {
		var events []map[string]any
		for i := range perBatch {
			id := uuid.NewString()
			ids[b] = append(ids[b], id)
			events = append(events, map[string]any{
				"type": "track", "event": "Product Viewed", "messageId": id,
				"anonymousId": fmt.Sprintf("v%04d", rng.IntN(1000)),
				"timestamp":   now.Add(time.Duration(b*perBatch+i) * time.Millisecond).Format(time.RFC3339Nano),
				"properties":  map[string]any{"product_id": fmt.Sprintf("p%d", rng.IntN(50)), "price": 10},
			})
		}
		batches[b], _ = json.Marshal(map[string]any{"writeKey": "wk_" + site, "batch": events})
	}

	var sent atomic.Int64
	acked := make([]bool, len(batches))
	var wg sync.WaitGroup
	work := make(chan int)
	errs := make(chan error, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			failed := false
			for b := range work {
				// A client re-sends one batch in ten (its answer was lost).
				for range 1 + b%10/9 {
					if err := post(srv.URL, batches[b]); err != nil && !failed {
						errs <- err
						failed = true
					}
				}
				if !failed {
					acked[b] = true
					sent.Add(perBatch)
				}
			}
		}()
	}
	killed := make(chan struct{})
	go func() {
		defer close(killed)
		for sent.Load() < total/4 {
			time.Sleep(5 * time.Millisecond)
		}
		for _, i := range victims {
			cluster.Nodes[i].Kill()
		}
		t.Logf("killed two replicas after %d events", sent.Load())
	}()
	for b := range batches {
		if b == len(batches)*3/5 {
			<-killed
			// Restart while events still arrive.
			for _, i := range victims {
				if err := cluster.Recover(ctx, cluster.Nodes[i]); err != nil {
					t.Errorf("restart node %d: %v", i+1, err)
				}
			}
			t.Logf("restarted them after %d events", sent.Load())
		}
		work <- b
	}
	close(work)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	fctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := svc.Flush(fctx); err != nil {
		t.Fatalf("%v; remarket's log:\n%s", err, lastLines(logs.String(), 10))
	}
	t.Logf("%d inserts failed while replicas were down and were retried", strings.Count(logs.String(), "clickhouse insert failed"))

	// Replicas converge: each shard's replicas come to hold the same rows.
	// (Until then a query may read a replica that has not fetched every
	// part: an acknowledged event is in ClickHouse, but replication is
	// asynchronous.)
	nodes, err := db.Nodes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var sum uint64
	for _, replicas := range chdb.ShardReplicas(nodes) {
		states, err := converged(ctx, replicas, "events", site, time.Minute)
		if err != nil {
			t.Error(err)
		}
		sum += states[0].rows
	}

	// Every acknowledged id exactly once.
	want := map[string]bool{}
	for b, ok := range acked {
		if ok {
			for _, id := range ids[b] {
				want[id] = true
			}
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
	for id := range want {
		switch got[id] {
		case 0:
			missing++
		case 1:
		default:
			twice++
		}
	}
	if len(want) != total || missing > 0 || twice > 0 || len(got) != len(want) {
		t.Errorf("acknowledged %d ids: %d missing, %d more than once; v_events has %d ids", len(want), missing, twice, len(got))
	}
	if sum != uint64(len(want)) {
		t.Errorf("shards hold %d events, want %d", sum, len(want))
	}
}

// tableState is what a replica holds of a site's rows in a table.
type tableState struct{ rows, hash uint64 }

// converged waits until every replica of one shard holds the same rows
// of a site in table (of the shard database), read with FINAL, and
// returns what each holds. SYSTEM SYNC REPLICA alone does not say so on
// 18.16: it waits for the queue the replica has, and a replica just
// restarted may not have fetched the log into it yet.
func converged(ctx context.Context, replicas []*chdb.Node, table, site string, wait time.Duration) ([]tableState, error) {
	deadline := time.Now().Add(wait)
	for {
		states := make([]tableState, len(replicas))
		same := true
		for i, n := range replicas {
			n.Exec(ctx, "SYSTEM SYNC REPLICA "+table)
			// table is this test's constant.
			err := n.QueryRow(ctx, "SELECT count(), sum(cityHash64(toString(event_id))) FROM "+table+" FINAL WHERE site = ?", site).Scan(&states[i].rows, &states[i].hash)
			if err != nil {
				same = false
				continue
			}
			same = same && states[i] == states[0]
		}
		if same {
			return states, nil
		}
		if time.Now().After(deadline) {
			return states, fmt.Errorf("shard %d's replicas still differ after %s: %+v", replicas[0].Shard, wait, states)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func post(url string, body []byte) error {
	for attempt := 0; ; attempt++ {
		resp, err := http.Post(url+"/v1/batch", "application/json", bytes.NewReader(body))
		if err != nil {
			return err
		}
		msg, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			return nil
		}
		if resp.StatusCode != http.StatusTooManyRequests || attempt > 100 {
			return fmt.Errorf("collect answered %d: %s", resp.StatusCode, msg)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// lockedBuffer collects log lines from the shipper's goroutine.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
