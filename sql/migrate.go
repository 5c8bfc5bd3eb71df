// Package sql holds remarket's ClickHouse schema as numbered .sql files
// embedded in the binary, and the runner that applies each file once.
//
// Files are named NNN_name.sql and applied in number order. Statements in a
// file are separated by a line ending in ";". Every statement must be
// idempotent (IF NOT EXISTS), because two processes may race past the lock
// after a stale lock is broken, and a crash may stop a file half way.
//
// Statements are text/template templates: {{lowCardinality "String"}} and
// {{codec "ZSTD(1)"}} write the current server's column forms and 18.16's
// plain ones (see dialect.go). A step that needs decisions (moving a
// table's rows) is a Go migration, registered under its number in the
// same sequence. A column is added with ALTER TABLE t ADD COLUMN IF NOT
// EXISTS c ..., one column per statement: the runner makes that work on
// ClickHouse 18.16, which does not parse it (see addColumnCompat).
//
// On a cluster (clickhouse_cluster) the same statements are applied in
// their cluster form (cluster.go): replicated, sharded by visitor, ON
// CLUSTER. A new table shows in internal/clustercheck/testdata/engines.txt
// with the place the cluster gives it; review it there.
package sql

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"log/slog"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/remarket/remarket/internal/chdb"
)

//go:embed *.sql
var files embed.FS

// Migration is one numbered file or Go step.
type Migration struct {
	Version    int
	Name       string
	Statements []string // templates, see dialect.go
	// Run, when set, is the migration (Statements is empty): it must be
	// safe to run again after a crash at any point.
	Run func(ctx context.Context, s *Schema) error
}

// goMigrations are the migrations written in Go, by number.
var goMigrations = map[int]Migration{}

// register adds a Go migration; numbers are shared with the files.
func register(m Migration) {
	if _, dup := goMigrations[m.Version]; dup {
		panic(fmt.Sprintf("sql: two Go migrations numbered %d", m.Version))
	}
	goMigrations[m.Version] = m
}

// Migrations lists the embedded files in order.
func Migrations() ([]Migration, error) {
	names, err := fs.Glob(files, "*.sql")
	if err != nil {
		return nil, err
	}
	var out []Migration
	seen := map[int]string{}
	for _, name := range names {
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			return nil, fmt.Errorf("migration %q: name must start with a number and an underscore", name)
		}
		if prev, dup := seen[v]; dup {
			return nil, fmt.Errorf("migrations %q and %q share number %d", prev, name, v)
		}
		seen[v] = name
		body, err := files.ReadFile(name)
		if err != nil {
			return nil, err
		}
		out = append(out, Migration{Version: v, Name: name, Statements: SplitStatements(string(body))})
	}
	for v, m := range goMigrations {
		if prev, dup := seen[v]; dup {
			return nil, fmt.Errorf("migrations %q and %q share number %d", prev, m.Name, v)
		}
		seen[v] = m.Name
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}

// SplitStatements cuts a file at lines ending in ";" and drops comment-only
// lines, which some servers reject as empty queries.
func SplitStatements(body string) []string {
	var stmts []string
	var cur []string
	for _, line := range strings.Split(body, "\n") {
		t := strings.TrimSpace(line)
		if t == "" || strings.HasPrefix(t, "--") {
			continue
		}
		cur = append(cur, line)
		if strings.HasSuffix(t, ";") {
			s := strings.TrimSuffix(strings.TrimSpace(strings.Join(cur, "\n")), ";")
			stmts = append(stmts, s)
			cur = nil
		}
	}
	if s := strings.TrimSpace(strings.Join(cur, "\n")); s != "" {
		stmts = append(stmts, s)
	}
	return stmts
}

const (
	createLedger = `CREATE TABLE IF NOT EXISTS schema_migrations (
    version UInt32,
    name String,
    applied_at DateTime
) ENGINE = ReplacingMergeTree() ORDER BY version`
	// The lock is a table: CREATE TABLE without IF NOT EXISTS succeeds for
	// exactly one caller, on every ClickHouse version.
	createLock = `CREATE TABLE schema_migrations_lock (locked_at DateTime) ENGINE = Log`
	staleLock  = 10 * time.Minute
)

// Migrate applies every migration not yet recorded in schema_migrations.
// It returns the names it applied.
func Migrate(ctx context.Context, db *chdb.DB) ([]string, error) {
	if db.Cluster != nil {
		return migrateCluster(ctx, db)
	}
	all, err := Migrations()
	if err != nil {
		return nil, err
	}
	if err := db.Exec(ctx, createLedger); err != nil {
		return nil, fmt.Errorf("cannot create schema_migrations: %w", err)
	}
	// Up to date: no lock to wait for (one left by a process that died
	// would hold every command up until it is stale).
	done, err := applied(ctx, db, "schema_migrations")
	if err != nil || !pending(all, done) {
		return nil, err
	}
	unlock, err := lock(ctx, db)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if done, err = applied(ctx, db, "schema_migrations"); err != nil {
		return nil, err
	}
	return apply(ctx, &Schema{DB: db, conn: db}, all, done, "schema_migrations")
}

// Unknown lists, by name, the migrations the database's ledger records
// that this binary does not have: a newer remarket migrated it.
func Unknown(ctx context.Context, db *chdb.DB) ([]string, error) {
	all, err := Migrations()
	if err != nil {
		return nil, err
	}
	known := map[uint32]bool{}
	for _, m := range all {
		known[uint32(m.Version)] = true
	}
	rows, err := db.Query(ctx, "SELECT version, any(name) FROM "+db.Database+".schema_migrations GROUP BY version ORDER BY version")
	if err != nil {
		return nil, fmt.Errorf("cannot read schema_migrations: %w", err)
	}
	defer rows.Close()
	var unknown []string
	for rows.Next() {
		var v uint32
		var name string
		if err := rows.Scan(&v, &name); err != nil {
			return nil, err
		}
		if !known[v] {
			unknown = append(unknown, name)
		}
	}
	return unknown, rows.Err()
}

// Schema is what migrations change the schema through: on a single
// node the statements as they are, on a cluster their cluster form
// (see cluster.go), sent to one node.
type Schema struct {
	DB     *chdb.DB
	conn   *chdb.DB // where statements run: DB, or one node of the cluster
	layout *layout  // nil on a single node
	// version and n place the statement being applied: migration and
	// ordinal (the cluster's ZooKeeper paths name them).
	version, n int
}

// Clustered reports a cluster layout.
func (s *Schema) Clustered() bool { return s.layout != nil }

// Planning reports that statements are collected for a new cluster's
// schema rather than run (cluster.go, plan): nothing exists yet to read.
func (s *Schema) Planning() bool { return s.layout != nil && s.layout.plan != nil }

// Exec fills a statement template for the server and runs it (on a
// cluster, the statements of its cluster form in turn).
func (s *Schema) Exec(ctx context.Context, tmpl string) error {
	stmt, err := render(tmpl, s.DB.Version)
	if err != nil {
		return err
	}
	s.n++
	if parts := SplitStatements(stmt); len(parts) == 1 {
		stmt = parts[0] // without comment lines, which the layout does not read
	}
	stmt, skip, err := addColumnCompat(ctx, s.conn, s.DB, stmt, s.Planning())
	if err != nil || skip {
		return err
	}
	stmts := []string{stmt}
	if s.layout != nil {
		s.layout.tag = fmt.Sprintf("%03d-%d", s.version, s.n)
		if stmts, err = s.layout.rewrite(stmt); err != nil {
			return err
		}
	}
	for _, q := range stmts {
		if err := s.run(ctx, q); err != nil {
			return err
		}
	}
	return nil
}

// run sends one statement of the cluster form (or of a single node) to
// the node the runner talks to, or to every node (EveryNode).
func (s *Schema) run(ctx context.Context, q string) error {
	if rest, ok := strings.CutPrefix(q, EveryNode); ok && s.DB.Cluster != nil {
		return runOnEveryNode(ctx, s.DB, rest)
	}
	return s.conn.Exec(ctx, q)
}

// apply runs the migrations not in done and records each in ledger.
func apply(ctx context.Context, s *Schema, all []Migration, done map[int]bool, ledger string) ([]string, error) {
	var ran []string
	for _, m := range all {
		if done[m.Version] {
			continue
		}
		s.version, s.n = m.Version, 0
		if m.Run != nil {
			if err := m.Run(ctx, s); err != nil {
				return ran, fmt.Errorf("migration %s: %w", m.Name, err)
			}
		}
		for i, tmpl := range m.Statements {
			if err := s.Exec(ctx, tmpl); err != nil {
				return ran, fmt.Errorf("migration %s, statement %d: %w", m.Name, i+1, err)
			}
		}
		if err := s.conn.InsertRow(ctx, "INSERT INTO "+ledger+" (version, name, applied_at)",
			uint32(m.Version), m.Name, time.Now().UTC()); err != nil {
			return ran, fmt.Errorf("cannot record migration %s: %w", m.Name, err)
		}
		ran = append(ran, m.Name)
	}
	return ran, nil
}

// addColumn matches ALTER TABLE t ADD COLUMN IF NOT EXISTS c ... and
// captures the table, the column and where IF NOT EXISTS sits.
var addColumn = regexp.MustCompile(`(?is)^\s*ALTER\s+TABLE\s+(\w+)\s+ADD\s+COLUMN\s+(IF\s+NOT\s+EXISTS\s+)(\w+)\s`)

// addColumnCompat prepares one statement of a migration for the server.
//
// ClickHouse 18.16 does not know ADD COLUMN IF NOT EXISTS (19.1 added it,
// 19.4 fixed it to ignore an existing column): on the servers that get
// the 18.16 forms (chdb.Version.Legacy) the runner looks the column up in
// system.columns of db's database itself (on a cluster, on the node it
// talks to, conn: the DDL queue gives every node the same columns) and sends the
// statement without IF NOT EXISTS when it is missing, or nothing (skip).
// The lock makes check and add one step. (18.16 only: delete this branch
// with it.)
//
// A new cluster's plan (fresh) has no tables to look in: the column is
// new.
func addColumnCompat(ctx context.Context, conn, db *chdb.DB, stmt string, fresh bool) (out string, skip bool, err error) {
	m := addColumn.FindStringSubmatchIndex(stmt)
	if m == nil || !db.Version.Legacy() {
		return stmt, false, nil
	}
	if fresh {
		return stmt[:m[4]] + stmt[m[5]:], false, nil
	}
	table, column := stmt[m[2]:m[3]], stmt[m[6]:m[7]]
	var n uint64
	// Whether the table already has the column.
	err = conn.QueryRow(ctx, "SELECT count() FROM system.columns WHERE database = ? AND table = ? AND name = ?",
		db.Database, table, column).Scan(&n)
	if err != nil {
		return "", false, fmt.Errorf("cannot look up column %s.%s: %w", table, column, err)
	}
	if n > 0 {
		return "", true, nil
	}
	return stmt[:m[4]] + stmt[m[5]:], false, nil
}

func applied(ctx context.Context, db *chdb.DB, ledger string) (map[int]bool, error) {
	rows, err := db.Query(ctx, "SELECT DISTINCT version FROM "+ledger)
	if err != nil {
		return nil, fmt.Errorf("cannot read schema_migrations: %w", err)
	}
	defer rows.Close()
	done := map[int]bool{}
	for rows.Next() {
		var v uint32
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		done[int(v)] = true
	}
	return done, rows.Err()
}

// lock waits for the migration lock; a lock older than staleLock belongs to
// a process that died and is broken.
func lock(ctx context.Context, db *chdb.DB) (func(), error) {
	deadline := time.Now().Add(2 * staleLock)
	waited := false
	for {
		err := db.Exec(ctx, createLock)
		if err == nil {
			if err := db.InsertRow(ctx, "INSERT INTO schema_migrations_lock (locked_at)", time.Now().UTC()); err != nil {
				return nil, fmt.Errorf("cannot stamp migration lock: %w", err)
			}
			return func() { db.Exec(context.Background(), "DROP TABLE IF EXISTS schema_migrations_lock") }, nil
		}
		if !strings.Contains(err.Error(), "already exists") {
			return nil, fmt.Errorf("cannot take migration lock: %w", err)
		}
		// An empty lock table was just created by its holder: not stale.
		var n uint64
		var age int64
		row := db.QueryRow(ctx, "SELECT count(), toInt64(now()) - toInt64(max(locked_at)) FROM schema_migrations_lock")
		if row.Scan(&n, &age) == nil && n > 0 && age > int64(staleLock/time.Second) {
			db.Exec(ctx, "DROP TABLE IF EXISTS schema_migrations_lock")
			continue
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("migration lock held by another process for too long; if none runs, drop table schema_migrations_lock")
		}
		if !waited {
			slog.Warn("waiting for the migration lock: another process is migrating, or one that died left schema_migrations_lock (broken once it is 10 minutes old)")
			waited = true
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}
