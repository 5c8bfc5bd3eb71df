package main

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/remarket/remarket/internal/chdb"
	"github.com/remarket/remarket/internal/chserver"
)

// Sites of the benchmark config: the trials load "load", the
// million-event run goes to "bench" alone, so its count starts at zero.
const (
	benchSite = "bench"
	benchKey  = "wk_bench"
	loadSite  = "load"
	loadKey   = "wk_load"
)

const configYAML = `# Written by bench-ingest for one run.
clickhouse: %q
listen: %q
spool_dir: %q
sites:
  - id: bench
    write_key: wk_bench
    admin_token: bench-admin-token-0123456789
    feed_token: bench-feed-token-0123456789
  - id: load
    write_key: wk_load
    admin_token: load-admin-token-0123456789
    feed_token: load-feed-token-0123456789
`

func writeConfig(dir, dsn, listen string) (string, error) {
	path := filepath.Join(dir, "remarket.yaml")
	body := fmt.Sprintf(configYAML, dsn, listen, filepath.Join(dir, "spool"))
	return path, os.WriteFile(path, []byte(body), 0o600)
}

// buildRemarket compiles the binary under test, as a user would run it.
func buildRemarket(ctx context.Context, root, out string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "./cmd/remarket")
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./cmd/remarket: %w\n%s", err, b)
	}
	return nil
}

// database is where the run keeps its events: a managed ClickHouse of its
// own in dir (inside the run's temp dir, kept with -keep for its logs), or a fresh database on the server CLICKHOUSE_DSN names (dropped at
// the end), so existing data is never counted or touched.
type database struct {
	DSN     string
	Name    string
	server  *chserver.Server
	chPID   int
	private bool // on a shared server: drop Name at the end
}

func openDatabase(ctx context.Context, dir string) (*database, error) {
	if dsn := os.Getenv("CLICKHOUSE_DSN"); dsn != "" {
		u, err := url.Parse(dsn)
		if err != nil {
			return nil, fmt.Errorf("CLICKHOUSE_DSN: %w", err)
		}
		name := "remarket_bench_" + strconv.FormatInt(time.Now().Unix(), 10)
		u.Path = "/" + name
		return &database{DSN: u.String(), Name: name, private: true}, nil
	}
	s, err := chserver.Start(ctx, chserver.Options{Dir: dir})
	if err != nil {
		return nil, err
	}
	return &database{DSN: s.DSN("remarket"), Name: "remarket", server: s, chPID: findPID(s.Dir)}, nil
}

func (d *database) close() {
	if d.server != nil {
		d.server.Close()
	}
	if d.private {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		db, err := chdb.Open(ctx, d.DSN)
		if err != nil {
			logf("cannot drop database %s: %v", d.Name, err)
			return
		}
		defer db.Close()
		// d.Name is ours (remarket_bench_<unix time>), never user text.
		if err := db.Exec(ctx, "DROP DATABASE IF EXISTS "+d.Name); err != nil {
			logf("cannot drop database %s: %v", d.Name, err)
		}
	}
}

// findPID finds the managed clickhouse-server by its config path, to
// report its CPU time next to remarket's.
func findPID(dir string) int {
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && strings.Contains(string(b), filepath.Join(dir, "config.xml")) {
			return pid
		}
	}
	return 0
}
