package clustercheck

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/remarket/remarket/internal/chdb"
	"github.com/remarket/remarket/internal/config"
	"github.com/remarket/remarket/segment"
)

// `remarket segment run` killed (SIGKILL) mid-way on the cluster leaves
// the run marked running and its rows on the shards' replicas. The
// site's next run, through other nodes, drops them from every node and
// records the run failed.
func TestARunKilledOnTheClusterIsDroppedFromEveryNode(t *testing.T) {
	cfg, now := demoOnCluster(t)
	bin, err := buildRemarket()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	clustered := openCluster(t, cluster.DSN(database, cluster.Node(2, 2), cluster.Node(1, 2)))
	var nodes []*chdb.DB
	for _, n := range cluster.Nodes {
		nodes = append(nodes, openNode(t, n))
	}

	dir := t.TempDir()
	cmd := exec.Command(bin, "segment", "run", "--site", demoSite, "--full")
	cmd.Dir = dir
	site := "sites: [{id: " + demoSite + ", write_key: wk_killed, admin_token: admin-token-0123456789, feed_token: feed-token-0123456789}]\n"
	if err := os.WriteFile(filepath.Join(dir, "remarket.yaml"), []byte(site), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd.Env = append(os.Environ(), "CLICKHOUSE_DSN="+cluster.DSN(database, cluster.Node(1, 1), cluster.Node(2, 1)),
		"REMARKET_CLICKHOUSE_CLUSTER="+clusterName, "REMARKET_CONFIG="+filepath.Join(dir, "remarket.yaml"))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	var killed string
	for deadline := time.Now().Add(2 * time.Minute); killed == ""; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the run to kill wrote no interests within 2 minutes; its output:\n%s", out.String())
		}
		err := clustered.QueryRow(ctx, `SELECT run_id FROM seg_runs WHERE site = ? GROUP BY run_id
			HAVING argMax(status, updated) = 'running' AND run_id GLOBAL IN (SELECT run_id FROM seg_interests WHERE site = ?)`, demoSite, demoSite).Scan(&killed)
		if err != nil && !strings.Contains(err.Error(), "no rows") {
			t.Fatal(err)
		}
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	killedAt := time.Now()
	for deadline := time.Now().Add(time.Minute); runQueries(t, nodes, killed) > 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("queries of the killed run %s still run a minute after it was killed", killed)
		}
	}
	if n := runParts(t, nodes, killed); n == 0 {
		t.Fatal("the killed run left no rows on any node: the test shows nothing")
	}

	cfg.Segments.RunAbandonedAfter = config.Duration(time.Second)
	eng := segment.New(cfg, clustered, slog.New(slog.NewTextHandler(io.Discard, nil)))
	eng.Now = func() time.Time { return now }
	time.Sleep(time.Until(killedAt.Add(1500 * time.Millisecond)))
	if _, err := eng.Run(ctx, demoSite, segment.RunOptions{Full: true}); err != nil {
		t.Fatal(err)
	}
	var status, msg string
	if err := clustered.QueryRow(ctx, "SELECT status, error FROM v_segment_runs WHERE site = ? AND run_id = ?", demoSite, killed).Scan(&status, &msg); err != nil {
		t.Fatal(err)
	}
	if status != "failed" || !strings.HasPrefix(msg, "abandoned:") {
		t.Errorf("the killed run is %q (%q) after the next run, want failed as abandoned", status, msg)
	}
	if n := runParts(t, nodes, killed); n > 0 {
		t.Errorf("the killed run still has %d parts on the cluster's nodes", n)
	}
}

// runParts counts the active parts of a run on the cluster's nodes.
func runParts(t *testing.T, nodes []*chdb.DB, runID string) uint64 {
	t.Helper()
	var total uint64
	for _, n := range nodes {
		var k uint64
		if err := n.QueryRow(context.Background(), "SELECT count() FROM system.parts WHERE database IN (?, ?) AND active AND position(partition, ?) > 0",
			database, database+chdb.LocalSuffix, runID).Scan(&k); err != nil {
			t.Fatal(err)
		}
		total += k
	}
	return total
}

// runQueries counts the queries of a run still running on the cluster's
// nodes (their ids start with the run's).
func runQueries(t *testing.T, nodes []*chdb.DB, runID string) uint64 {
	t.Helper()
	var total uint64
	for _, n := range nodes {
		var k uint64
		if err := n.QueryRow(context.Background(), "SELECT count() FROM system.processes WHERE startsWith(query_id, ?)", runID).Scan(&k); err != nil {
			t.Fatal(err)
		}
		total += k
	}
	return total
}
