package clustercheck

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http/httptest"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/remarket/remarket/ingest"
	"github.com/remarket/remarket/internal/chdb"
	"github.com/remarket/remarket/internal/chtest"
	"github.com/remarket/remarket/internal/runcheck"
	"github.com/remarket/remarket/segment"
	rmsql "github.com/remarket/remarket/sql"
)

// BenchmarkClusterVsOneNode (make bench-cluster) measures the cost of
// coordination: the same events ingested through the collect API into
// the 2×2 cluster and into one node, the same full segment run on both,
// and the same incremental run after 1% new events (demoIncrement), all
// processes on this machine. Three rounds, alternating the two; medians.
// BENCH_CLUSTER_EVENTS (default 50,000) sets the ingest's events,
// BENCH_CLUSTER_VISITORS (default 1,000) the demo's shoppers the segment
// runs compute.
func BenchmarkClusterVsOneNode(b *testing.B) {
	needCluster(b)
	events := chtest.PositiveEnv(b, "BENCH_CLUSTER_EVENTS", 50000)
	demoVisitors = chtest.PositiveEnv(b, "BENCH_CLUSTER_VISITORS", 1000)
	const rounds = 3
	ctx := context.Background()
	migrated(b)
	clustered := openCluster(b, cluster.DSN(database, cluster.Node(1, 1), cluster.Node(2, 1)))
	one, err := chdb.Open(ctx, single.DSN("bench"))
	if err != nil {
		b.Fatal(err)
	}
	defer one.Close()
	if _, err := rmsql.Migrate(ctx, one); err != nil {
		b.Fatal(err)
	}
	targets := []struct {
		name string
		db   *chdb.DB
	}{{"one node", one}, {"2×2 cluster", clustered}}

	// Ingest: the same batches (new ids each round) into each.
	type ingestTimes struct{ acked, shipped []time.Duration }
	ing := make([]ingestTimes, len(targets))
	for round := range rounds {
		site := fmt.Sprintf("bench%d", round)
		batches := benchBatches(events, site, uint64(round))
		for i, tg := range targets {
			acked, shipped := benchIngest(b, tg.db, site, batches)
			ing[i].acked = append(ing[i].acked, acked)
			ing[i].shipped = append(ing[i].shipped, shipped)
			b.Logf("ingest round %d, %s: %d events acknowledged in %s, in ClickHouse after %s",
				round+1, tg.name, events, acked.Round(time.Millisecond), shipped.Round(time.Millisecond))
		}
	}

	// Segment runs: the demo's events on the cluster, copied to the node.
	start := time.Now()
	cfg, now := demoOnCluster(b)
	cfg.Segments.IncrementalMaxNewEventsPercent = 100 // the increments are 1% each, over the history's growth
	b.Logf("remarket demo --visitors %d on the cluster took %s", demoVisitors, time.Since(start).Round(time.Millisecond))
	for _, table := range []string{"events", "catalog_products", "catalog_versions", "feed_discount_rules", "seg_member_joins", "offer_redemptions"} {
		runcheck.CopyTable(b, cluster.Node(1, 1), database, single, "bench", table, "site = '"+demoSite+"'")
	}
	var demoEvents uint64
	if err := one.QueryRow(ctx, "SELECT count() FROM v_events WHERE site = ?", demoSite).Scan(&demoEvents); err != nil {
		b.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	runs := make([][]time.Duration, len(targets))
	steps := make([]map[string][]time.Duration, len(targets))
	for i := range steps {
		steps[i] = map[string][]time.Duration{}
	}
	for round := range rounds {
		for i, tg := range targets {
			eng := segment.New(cfg, tg.db, log)
			eng.Now = func() time.Time { return now }
			res, err := eng.Run(ctx, demoSite, segment.RunOptions{Full: true})
			if err != nil {
				b.Fatalf("segment run on %s: %v", tg.name, err)
			}
			runs[i] = append(runs[i], res.Took)
			for _, s := range res.Steps {
				steps[i][s.Name] = append(steps[i][s.Name], s.Took)
			}
			b.Logf("segment run round %d, %s: %s", round+1, tg.name, res.Took.Round(time.Millisecond))
		}
	}
	// Incremental runs: the same 1% new events into both, then a run a
	// quarter hour later on each.
	incs := make([][]time.Duration, len(targets))
	recomputed := make([]uint64, len(targets))
	for round := range rounds {
		from, to := now.Add(time.Duration(round)*15*time.Minute), now.Add(time.Duration(round+1)*15*time.Minute)
		evs, _ := demoIncrement(b, clustered, int(demoEvents/100), from, to, uint64(round))
		for i, tg := range targets {
			insertNewEvents(b, tg.db, evs)
			eng := segment.New(cfg, tg.db, log)
			eng.SetInsertMargin(0) // inserts and runs follow one another here
			eng.Now = func() time.Time { return to }
			res, err := eng.Run(ctx, demoSite, segment.RunOptions{})
			if err != nil {
				b.Fatalf("incremental segment run on %s: %v", tg.name, err)
			}
			if res.Mode != segment.ModeIncremental {
				b.Fatalf("the run on %s after 1%% new events was %s: %s", tg.name, res.Mode, res.Reason)
			}
			incs[i], recomputed[i] = append(incs[i], res.Took), res.Affected
			b.Logf("incremental run round %d, %s: %d new events, %d visitors recomputed, %s", round+1, tg.name, len(evs), res.Affected, res.Took.Round(time.Millisecond))
		}
	}

	// The report.
	var r strings.Builder
	fmt.Fprintf(&r, "\nmake bench-cluster: medians of %d rounds, one node vs 2 shards × 2 replicas (ClickHouse 18.16, ZooKeeper), this machine\n", rounds)
	fmt.Fprintf(&r, "%-44s %14s %14s %7s\n", "", targets[0].name, targets[1].name, "ratio")
	row := func(name string, a, c float64, unit string) {
		fmt.Fprintf(&r, "%-44s %14s %14s %6.2fx\n", name, fmtUnit(a, unit), fmtUnit(c, unit), c/a)
	}
	perSec := func(d time.Duration) float64 { return float64(events) / d.Seconds() }
	row(fmt.Sprintf("ingest %d events: acknowledged", events), perSec(median(ing[0].acked)), perSec(median(ing[1].acked)), "ev/s")
	row("ingest: in ClickHouse (end to end)", perSec(median(ing[0].shipped)), perSec(median(ing[1].shipped)), "ev/s")
	row(fmt.Sprintf("segment run, full (%d events)", demoEvents), median(runs[0]).Seconds(), median(runs[1]).Seconds(), "s")
	row(fmt.Sprintf("segment run, incremental (+1%%, %d recomputed)", recomputed[1]), median(incs[0]).Seconds(), median(incs[1]).Seconds(), "s")
	fmt.Fprintf(&r, "(incremental ÷ full: one node %.2f, the cluster %.2f)\n",
		median(incs[0]).Seconds()/median(runs[0]).Seconds(), median(incs[1]).Seconds()/median(runs[1]).Seconds())
	fmt.Fprintf(&r, "(ratio: the cluster's figure ÷ one node's; steps run side by side, so they add up to more than the run)\n")
	fmt.Fprintf(&r, "where a cluster run's time goes (median per step, the 8 slowest on the cluster):\n")
	names := make([]string, 0, len(steps[1]))
	for name := range steps[1] {
		names = append(names, name)
	}
	sort.Slice(names, func(i, j int) bool { return median(steps[1][names[i]]) > median(steps[1][names[j]]) })
	for _, name := range names[:min(8, len(names))] {
		a := median(steps[0][name])
		row("  "+name, a.Seconds(), median(steps[1][name]).Seconds(), "s")
	}
	fmt.Fprint(os.Stdout, r.String())
	b.ReportMetric(perSec(median(ing[1].shipped))/perSec(median(ing[0].shipped)), "ingest_ratio")
	b.ReportMetric(median(runs[1]).Seconds()/median(runs[0]).Seconds(), "segment_run_ratio")
}

// benchBatches makes events as collect API batches of 100: product views,
// carts and purchases of 5,000 visitors over the last hour.
func benchBatches(n int, site string, seed uint64) [][]byte {
	rng := rand.New(rand.NewPCG(seed, 16))
	now := time.Now().UTC().Add(-time.Hour)
	kinds := []string{"Product Viewed", "Product Viewed", "Product Viewed", "Product Added", "Order Completed"}
	var out [][]byte
	for b := 0; b*100 < n; b++ {
		var events []map[string]any
		for i := range min(100, n-b*100) {
			events = append(events, map[string]any{
				"type": "track", "event": kinds[rng.IntN(len(kinds))], "messageId": uuid.NewString(),
				"anonymousId": fmt.Sprintf("v%05d", rng.IntN(5000)),
				"timestamp":   now.Add(time.Duration(b*100+i) * time.Millisecond).Format(time.RFC3339Nano),
				"properties":  map[string]any{"product_id": fmt.Sprintf("p%d", rng.IntN(500)), "price": 10 + rng.IntN(90)},
			})
		}
		body, _ := json.Marshal(map[string]any{"writeKey": "wk_" + site, "batch": events})
		out = append(out, body)
	}
	return out
}

// benchIngest sends batches from 4 clients through the collect API of
// an ingest service on db and returns when the last was acknowledged
// (durable in the spool) and when every event was in ClickHouse.
func benchIngest(b *testing.B, db *chdb.DB, site string, batches [][]byte) (acked, shipped time.Duration) {
	ctx := context.Background()
	cfg := oneSite(site, 0)
	cfg.SpoolDir = b.TempDir()
	svc, err := ingest.Open(ctx, ingest.Options{Config: cfg, DB: db, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	defer svc.Close(context.Background())
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	svc.Register(r)
	srv := httptest.NewServer(r)
	defer srv.Close()
	work := make(chan []byte)
	errs := make(chan error, 4)
	var wg sync.WaitGroup
	start := time.Now()
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for body := range work {
				if err := post(srv.URL, body); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	for _, body := range batches {
		work <- body
	}
	close(work)
	wg.Wait()
	acked = time.Since(start)
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	fctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	if err := svc.Flush(fctx); err != nil {
		b.Fatal(err)
	}
	return acked, time.Since(start)
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

func fmtUnit(v float64, unit string) string {
	if unit == "s" {
		return fmt.Sprintf("%.3f s", v)
	}
	return fmt.Sprintf("%.0f %s", v, unit)
}
