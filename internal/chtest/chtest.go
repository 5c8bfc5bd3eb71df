// Package chtest gives tests a real ClickHouse: one managed server per test
// package (started by Main) and a fresh, migrated database per test.
// With CLICKHOUSE_DSN set, tests use that server instead.
package chtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/remarket/remarket/internal/chdb"
	"github.com/remarket/remarket/internal/chserver"
	rmsql "github.com/remarket/remarket/sql"
)

// EngineEnv chooses the ClickHouse the package's server runs: unset or
// "server" for clickhouse-server from PATH (18.16 on our machines), "chdb"
// for ClickHouse 26 from the chDB library.
const EngineEnv = "REMARKET_TEST_ENGINE"

var (
	server  *chserver.Server
	baseDSN string // DSN of the server with no database
	started atomic.Bool

	restartMu sync.Mutex
	crashes   atomic.Int32 // crashes of the package's server
	reports   []string     // what each crash left, repeated at the end
	lost      error        // why the crashed server could not be restarted
)

// Main starts the package's server, runs the tests and stops it.
// Use it from TestMain: func TestMain(m *testing.M) { chtest.Main(m) }.
func Main(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if dsn := os.Getenv("CLICKHOUSE_DSN"); dsn != "" {
		baseDSN = dsn
		started.Store(true)
		return m.Run()
	}
	engine, err := chserver.ParseEngine(os.Getenv(EngineEnv))
	if err != nil {
		fmt.Fprintln(os.Stderr, "chtest:", err)
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	s, err := chserver.Start(ctx, chserver.Options{Engine: engine, CoreDumps: true})
	cancel()
	if err != nil {
		if os.Getenv("CI") == "" && (errors.Is(err, chserver.ErrNoBinary) || errors.Is(err, chserver.ErrNoChDB)) {
			fmt.Fprintf(os.Stderr, "chtest: %v; ClickHouse tests will skip (run make deps)\n", err)
			return m.Run()
		}
		fmt.Fprintln(os.Stderr, "chtest:", err)
		return 1
	}
	server = s
	baseDSN = s.DSN("default")
	started.Store(true)
	defer s.Close()
	code := m.Run()
	// A crash fails the package even when no test noticed it (the tests
	// that stop the server on purpose use Stop and Kill, not a crash).
	if hasCrashed(s) {
		_, out := s.Crashed()
		fmt.Fprintf(os.Stderr, "chtest: the %s server died during the tests; its output ended:\n%s\n", engine, out)
		return 1
	}
	if n := crashes.Load(); n > 0 {
		// Repeated last: a long log is often read from its end.
		fmt.Fprintf(os.Stderr, "chtest: the %s server crashed %d time(s) during the tests:\n%s\n", engine, n, strings.Join(reports, "\n"))
		return 1
	}
	return code
}

// Server is the package's managed server (nil under CLICKHOUSE_DSN), for
// tests that stop it gracefully and restart it. A test that kills
// ClickHouse uses Private: an 18.16 restarted after SIGKILL once crashed
// a few tests later, which failed every test after it.
func Server() *chserver.Server { return server }

// Private starts a server of the package's engine for t alone, stopped
// and removed when t ends, and opens a fresh, migrated database on it.
// It skips under CLICKHOUSE_DSN (the tests use that server only).
func Private(t testing.TB) (*chserver.Server, *chdb.DB) {
	t.Helper()
	if server == nil {
		if os.Getenv("CLICKHOUSE_DSN") == "" && os.Getenv("CI") != "" {
			t.Fatal("chtest: no managed ClickHouse (did TestMain call chtest.Main?)")
		}
		t.Skip("chtest: no managed ClickHouse server to start another of")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	s, err := chserver.Start(ctx, chserver.Options{Engine: server.Engine, Dir: t.TempDir(), CoreDumps: true})
	if err != nil {
		t.Fatalf("chtest: cannot start a private server: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	t.Cleanup(func() {
		if crashed, out := s.Crashed(); crashed {
			t.Errorf("chtest: the private %s server died; its output ended:\n%s", s.Engine, out)
		}
	})
	dsn := s.DSN("private")
	if err := create(dsn); err != nil {
		t.Fatalf("chtest: %v", err)
	}
	return s, Open(t, dsn)
}

// DSN returns the DSN of a fresh, migrated database, dropped when t ends.
func DSN(t testing.TB) string {
	t.Helper()
	if !started.Load() {
		if os.Getenv("CI") != "" {
			t.Fatal("chtest: no ClickHouse (did TestMain call chtest.Main?)")
		}
		t.Skip("chtest: no ClickHouse server available")
	}
	name := "t_" + strings.ReplaceAll(uuid.NewString(), "-", "")[:16]
	dsn := withDatabase(baseDSN, name)
	err := create(dsn)
	if err != nil {
		restarted, lostErr := restartCrashed()
		if lostErr != nil {
			t.Fatalf("chtest: %v; %v", err, lostErr)
		}
		if restarted {
			err = create(dsn)
		}
	}
	if err != nil {
		t.Fatalf("chtest: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if db, err := chdb.Open(ctx, baseDSN); err == nil {
			db.Exec(ctx, "DROP DATABASE IF EXISTS "+name)
			db.Close()
		}
	})
	return dsn
}

// restartCrashed restarts the package's server if it crashed, and says
// whether it did; lostErr says why a crashed server could not be
// restarted. The crash is reported here and again at the end of Main,
// which it fails; the tests after it run on the restarted server instead
// of all failing, so the failures left are the test that was running
// when it crashed.
//
// A server that no longer answers may still be dying (hasCrashed): 18.16's
// handler sleeps ten seconds after a fault, then the kernel writes the
// core file, and the ports close before the process is reaped.
func restartCrashed() (restarted bool, lostErr error) {
	restartMu.Lock()
	defer restartMu.Unlock()
	if server == nil {
		return false, nil
	}
	if lost != nil {
		return false, lost
	}
	if !hasCrashed(server) {
		return false, nil
	}
	_, out := server.Crashed()
	crashes.Add(1)
	report := fmt.Sprintf("chtest: the %s server crashed; its output ended:\n%s", server.Engine, out)
	reports = append(reports, report)
	fmt.Fprintf(os.Stderr, "%s\nchtest: restarting it\n", report)
	var err error
	for range 3 {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		err = server.Restart(ctx)
		cancel()
		if err == nil {
			return true, nil
		}
		fmt.Fprintf(os.Stderr, "chtest: cannot restart the crashed server: %v\n", err)
		time.Sleep(2 * time.Second)
	}
	lost = fmt.Errorf("the %s server crashed and could not be restarted: %w", server.Engine, err)
	return false, lost
}

// hasCrashed says whether s crashed (one a test stopped did not). One
// that runs but no longer answers may still be dying: it is waited for,
// up to deadServerWait, until it answers again or its process ends.
func hasCrashed(s *chserver.Server) bool {
	for deadline := time.Now().Add(deadServerWait); ; time.Sleep(250 * time.Millisecond) {
		running := s.Running() // before Crashed: a process may end between them
		if crashed, _ := s.Crashed(); crashed {
			return true
		}
		if !running || answers(s.DSN("default")) || time.Now().After(deadline) {
			return false
		}
	}
}

// deadServerWait bounds how long hasCrashed waits for a server that no
// longer answers to either answer again or end.
const deadServerWait = 3 * time.Minute

// answers says whether the server of dsn answers a query within seconds.
func answers(dsn string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	db, err := chdb.Open(ctx, dsn)
	if err != nil {
		return false
	}
	defer db.Close()
	var one uint8
	return db.QueryRow(ctx, "SELECT 1").Scan(&one) == nil
}

// create makes and migrates the database of dsn.
func create(dsn string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	db, err := chdb.Open(ctx, dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := rmsql.Migrate(ctx, db); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}

// MustOpen returns a connection to a fresh, migrated database.
func MustOpen(t testing.TB) *chdb.DB {
	t.Helper()
	return Open(t, DSN(t))
}

// Open opens dsn for the test, closed when it ends.
func Open(t testing.TB, dsn string) *chdb.DB {
	t.Helper()
	db, err := chdb.Open(context.Background(), dsn)
	if err != nil {
		t.Fatalf("chtest: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// WithSettings appends query settings ("name=value&...") to a DSN, which
// chdb.Open passes to the server with every query.
func WithSettings(dsn, settings string) string {
	if strings.Contains(dsn, "?") {
		return dsn + "&" + settings
	}
	return dsn + "?" + settings
}

// withDatabase swaps the database path of a clickhouse:// DSN.
func withDatabase(dsn, db string) string {
	scheme, rest, _ := strings.Cut(dsn, "://")
	hostPart, query := rest, ""
	if i := strings.IndexAny(rest, "?"); i >= 0 {
		hostPart, query = rest[:i], rest[i:]
	}
	if i := strings.Index(hostPart, "/"); i >= 0 {
		hostPart = hostPart[:i]
	}
	return scheme + "://" + hostPart + "/" + db + query
}
