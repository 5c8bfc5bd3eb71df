package clustercheck

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/remarket/remarket/internal/chdb"
	"github.com/remarket/remarket/internal/chserver"
	rmsql "github.com/remarket/remarket/sql"
)

// database is the cluster database every test shares (each test uses its
// own sites); TestMigrateTwiceFromTwoProcessesAtOnce makes it.
const database = "rm"

var migration struct {
	once    sync.Once
	outputs [2]string
	errs    [2]error
	took    time.Duration
	setup   error
}

// migrated returns the DSN of the shared database on every node, made by
// two `remarket migrate` processes started at once, each connected to
// other nodes.
func migrated(t testing.TB) string {
	t.Helper()
	needCluster(t)
	migration.once.Do(func() {
		bin, err := buildRemarket()
		if err != nil {
			migration.setup = err
			return
		}
		dsns := [2]string{
			cluster.DSN(database, cluster.Node(1, 1), cluster.Node(2, 1)),
			cluster.DSN(database, cluster.Node(2, 2), cluster.Node(1, 2)),
		}
		start := time.Now()
		var wg sync.WaitGroup
		for i, dsn := range dsns {
			wg.Add(1)
			go func() {
				defer wg.Done()
				migration.outputs[i], migration.errs[i] = remarket(bin, dsn, "migrate")
			}()
		}
		wg.Wait()
		migration.took = time.Since(start)
	})
	if migration.setup != nil {
		t.Fatal(migration.setup)
	}
	for i, err := range migration.errs {
		if err != nil {
			t.Fatalf("remarket migrate (process %d): %v\n%s", i+1, err, migration.outputs[i])
		}
	}
	return cluster.DSN(database)
}

func TestMigrateTwiceFromTwoProcessesAtOnce(t *testing.T) {
	migrated(t)
	t.Logf("two processes migrated the cluster in %s", migration.took.Round(time.Millisecond))
	all, err := rmsql.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	// One process applies every migration; the other waits for the lock
	// and finds nothing left to do.
	applied := []int{strings.Count(migration.outputs[0], "applied "), strings.Count(migration.outputs[1], "applied ")}
	slices.Sort(applied)
	if applied[0] != 0 || applied[1] != len(all) {
		t.Errorf("processes applied %v migrations, want 0 and %d:\n%s\n%s", applied, len(all), migration.outputs[0], migration.outputs[1])
	}
	// Every node has the same schema.
	var first []string
	for i, n := range cluster.Nodes {
		schema := nodeSchema(t, n)
		if len(schema) == 0 {
			t.Fatalf("node %d has no tables", i+1)
		}
		if i == 0 {
			first = schema
			continue
		}
		if !slices.Equal(schema, first) {
			t.Errorf("node %d's schema differs from node 1's:\n%s", i+1, firstDiff(first, schema))
		}
	}
	// A third run, in this process, through another node: nothing to do.
	db := openCluster(t, cluster.DSN(database, cluster.Node(2, 2)))
	ran, err := rmsql.Migrate(context.Background(), db)
	if err != nil || len(ran) > 0 {
		t.Errorf("third migrate applied %v, err %v; want nothing", ran, err)
	}
}

// nodeSchema lists a node's tables and views of both databases with their
// engines (macros unexpanded: the same text on every node).
func nodeSchema(t *testing.T, n *chserver.Server) []string {
	t.Helper()
	db := openNode(t, n)
	rows, err := db.Query(context.Background(), `SELECT database, name, engine, engine_full FROM system.tables
		WHERE database IN (?, ?) ORDER BY database, name`, database, database+chdb.LocalSuffix)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var d, name, engine, full string
		if err := rows.Scan(&d, &name, &engine, &full); err != nil {
			t.Fatal(err)
		}
		out = append(out, d+"."+name+"\t"+engine+"\t"+full)
	}
	return out
}

func firstDiff(a, b []string) string {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return fmt.Sprintf("  %s\n  %s", a[i], b[i])
		}
	}
	return fmt.Sprintf("%d entries against %d", len(a), len(b))
}

// openNode connects to one node's default database.
func openNode(t *testing.T, n *chserver.Server) *chdb.DB {
	t.Helper()
	db, err := chdb.Open(context.Background(), n.DSN("default"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// openCluster opens dsn as remarket does with clickhouse_cluster set.
func openCluster(t testing.TB, dsn string) *chdb.DB {
	t.Helper()
	db, err := chdb.OpenCluster(context.Background(), dsn, clusterName)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

var build struct {
	once sync.Once
	bin  string
	err  error
}

// buildRemarket builds the binary once per test process.
func buildRemarket() (string, error) {
	build.once.Do(func() {
		dir, err := os.MkdirTemp("", "remarket-clustercheck-")
		if err != nil {
			build.err = err
			return
		}
		build.bin = filepath.Join(dir, "remarket")
		cmd := exec.Command("go", "build", "-o", build.bin, "github.com/remarket/remarket/cmd/remarket")
		if out, err := cmd.CombinedOutput(); err != nil {
			build.err = fmt.Errorf("cannot build remarket: %v\n%s", err, out)
		}
	})
	return build.bin, build.err
}

// remarket runs the binary with a cluster DSN and no config file.
func remarket(bin, dsn string, args ...string) (string, error) {
	return remarketWithin(bin, dsn, 5*time.Minute, args...)
}

// remarketWithin is remarket killed after d.
func remarketWithin(bin, dsn string, d time.Duration, args ...string) (string, error) {
	dir, err := os.MkdirTemp("", "remarket-run-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CLICKHOUSE_DSN="+dsn, "REMARKET_CLICKHOUSE_CLUSTER="+clusterName,
		"REMARKET_CONFIG="+filepath.Join(dir, "none.yaml"), "REMARKET_LOG_LEVEL=warn")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	return out.String(), err
}
