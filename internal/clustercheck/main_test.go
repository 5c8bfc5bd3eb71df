// Package clustercheck proves remarket on a ClickHouse cluster: the
// tests start ZooKeeper and four clickhouse-server processes (2 shards ×
// 2 replicas, on free loopback ports, generated remote_servers, macros
// and zookeeper config), migrate them from two processes at once, ingest
// while replicas are killed and restarted, and compare segment runs,
// feeds and erasure with a single node's.
//
// ClickHouse 18.16 with ZooKeeper only (Debian's packages, make deps):
// the chDB engine of the current ClickHouse has no replication. Without
// them the tests skip, unless CI is set: then they fail.
package clustercheck

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/remarket/remarket/internal/chdb"
	"github.com/remarket/remarket/internal/chserver"
	"github.com/remarket/remarket/internal/config"
	"github.com/remarket/remarket/segment"
)

const clusterName = "remarket_test"

var (
	cluster *chserver.Cluster
	single  *chserver.Server // a single node beside it, for comparisons
	noRun   string           // why the cluster could not start (skips)
)

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	flag.Parse()
	if testing.Short() {
		noRun = "starts a ZooKeeper and four ClickHouse servers"
		return m.Run()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var err error
	cluster, err = chserver.StartCluster(ctx, chserver.ClusterOptions{Name: clusterName})
	if err != nil {
		if os.Getenv("CI") == "" && (errors.Is(err, chserver.ErrNoZooKeeper) || errors.Is(err, chserver.ErrNoBinary)) {
			fmt.Fprintf(os.Stderr, "clustercheck: %v; cluster tests will skip (run make deps)\n", err)
			noRun = err.Error()
			return m.Run()
		}
		fmt.Fprintln(os.Stderr, "clustercheck:", err)
		return 1
	}
	defer cluster.Close()
	single, err = chserver.Start(ctx, chserver.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "clustercheck:", err)
		return 1
	}
	defer single.Close()
	code := m.Run()
	if code != 0 {
		logNodeErrors()
	}
	return code
}

// logNodeErrors prints what each node's error log says of its DDL worker
// and ZooKeeper, before Close removes the logs. A node whose DDL worker
// stopped leaves ON CLUSTER statements with "unfinished hosts (0 of them
// are currently active)" and its mutations never made; only its log
// tells why.
func logNodeErrors() {
	for _, n := range cluster.Nodes {
		b, err := os.ReadFile(filepath.Join(n.Dir, "log", "err.log"))
		if err != nil {
			fmt.Fprintf(os.Stderr, "clustercheck: node %s: %v\n", filepath.Base(n.Dir), err)
			continue
		}
		var lines []string
		for _, l := range strings.Split(string(b), "\n") {
			if strings.Contains(l, "DDLWorker") || strings.Contains(l, "ZooKeeper") || strings.Contains(l, "Coordination") {
				lines = append(lines, l)
			}
		}
		if len(lines) > 40 {
			lines = lines[len(lines)-40:]
		}
		fmt.Fprintf(os.Stderr, "clustercheck: node %s, the last %d DDL and ZooKeeper lines of its error log:\n%s\n",
			filepath.Base(n.Dir), len(lines), strings.Join(lines, "\n"))
	}
}

// needCluster skips (or under CI fails) a test when the cluster could not start.
func needCluster(t testing.TB) {
	t.Helper()
	if cluster == nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("clustercheck: no cluster under CI: %s", noRun)
		}
		t.Skip("clustercheck: " + noRun)
	}
}

// oneSite is the default configuration with one site, id, and the first
// audiences of the built-in templates.
func oneSite(id string, audiences int) config.Config {
	cfg := config.Default()
	cfg.Sites = []config.Site{{ID: id, WriteKey: "wk_" + id, AdminToken: strings.Repeat("a", 16), FeedToken: strings.Repeat("f", 16)}}
	cfg.Sites[0].Audiences = segment.Templates()[:audiences]
	return cfg
}

// quietEngine is a segment engine on db that logs nothing and counts
// events from the moment they are inserted (no insert margin).
func quietEngine(cfg config.Config, db *chdb.DB) *segment.Engine {
	e := segment.New(cfg, db, slog.New(slog.NewTextHandler(io.Discard, nil)))
	e.SetInsertMargin(0)
	return e
}
