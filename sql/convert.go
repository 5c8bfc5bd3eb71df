package sql

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/remarket/remarket/internal/chdb"
)

// Copied is what CopyFromNode did with one table of the single node.
type Copied struct {
	Table string
	Rows  uint64 // the cluster table's rows afterwards
	// Skipped says why the table was not copied ("" when it was).
	Skipped string
}

// CopyFromNode converts a single-node install: it copies every table of
// the single node at fromDSN into db's cluster, which must be migrated
// (Migrate) with the same remarket. The old node is migrated first, so
// both have the same tables. Each table goes in one statement run on a
// cluster node, INSERT … SELECT FROM remote(the old node): into the
// Distributed table of a sharded table (every row to its visitor's shard,
// synchronously) or into a replicated table every node holds. Materialized
// views only fire on their Null sources, which hold nothing, so their
// targets are copied like any table. The migration ledger is the
// cluster's own. A table the cluster already has rows in is skipped: a
// copy stopped by an error can be run again, and only the table it
// stopped in needs a look (drop the cluster's rows of it first).
//
// The cluster's servers must reach the old node on the DSN's host and
// port, and run a ClickHouse that can read it with remote().
func CopyFromNode(ctx context.Context, db *chdb.DB, fromDSN string, each func(Copied)) error {
	if db.Cluster == nil {
		return errors.New("copy from a single node: the target is no cluster (set clickhouse_cluster)")
	}
	opts, err := clickhouse.ParseDSN(fromDSN)
	if err != nil {
		return fmt.Errorf("the single node's DSN: %w", err)
	}
	from, err := chdb.Open(ctx, fromDSN)
	if err != nil {
		return fmt.Errorf("the single node: %w", err)
	}
	defer from.Close()
	if from.Cluster != nil {
		return errors.New("the single node's DSN opens a cluster")
	}
	if _, err := Migrate(ctx, from); err != nil {
		return fmt.Errorf("migrate the single node first: %w", err)
	}
	tables, err := columnsOf(ctx, from, from.Database, "engine LIKE '%MergeTree%'")
	if err != nil {
		return err
	}
	targets, err := columnsOf(ctx, db, db.Database, "engine = 'Distributed' OR engine LIKE 'Replicated%'")
	if err != nil {
		return err
	}
	names := make([]string, 0, len(tables))
	for name := range tables {
		names = append(names, name)
	}
	slices.Sort(names)
	// The copies' text holds the single node's password (remote() takes
	// it as an argument): they stay out of system.query_log, which a
	// profile with log_queries = 1 would fill for anyone who may read it.
	// (query_thread_log follows log_queries.)
	ctx = clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{
		"max_execution_time":      0,
		"insert_distributed_sync": 1,
		"log_queries":             0,
	}))
	remote := func(table string) string {
		return remoteTable(opts.Addr[0], from.Database, table, opts.Auth.Username, opts.Auth.Password)
	}
	for _, name := range names {
		c := Copied{Table: name}
		target, ok := targets[name]
		switch {
		case name == "schema_migrations":
			c.Skipped = "the cluster's own migration ledger"
		case strings.HasPrefix(name, ".inner"):
			c.Skipped = "a materialized view's inner table"
		case !ok:
			c.Skipped = "the cluster has no such table"
		}
		if c.Skipped != "" {
			each(c)
			continue
		}
		// Names come from system.tables and system.columns.
		if err := db.QueryRow(ctx, "SELECT count() FROM "+quoteIdent(db.Database)+"."+quoteIdent(name)).Scan(&c.Rows); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if c.Rows > 0 {
			c.Skipped = "the cluster has rows in it already"
			each(c)
			continue
		}
		var cols []string
		for _, col := range target {
			if slices.Contains(tables[name], col) {
				cols = append(cols, quoteIdent(col))
			}
		}
		list := strings.Join(cols, ", ")
		q := fmt.Sprintf("INSERT INTO %s.%s (%s) SELECT %s FROM ", quoteIdent(db.Database), quoteIdent(name), list, list) + remote(name)
		if err := db.Exec(ctx, q); err != nil {
			return fmt.Errorf("copy %s: %w", name, err)
		}
		if err := db.QueryRow(ctx, "SELECT count() FROM "+quoteIdent(db.Database)+"."+quoteIdent(name)).Scan(&c.Rows); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		each(c)
	}
	return nil
}

// columnsOf lists the tables of database matching cond (on system.tables)
// and the columns an insert may write (not MATERIALIZED or ALIAS).
func columnsOf(ctx context.Context, db *chdb.DB, database, cond string) (map[string][]string, error) {
	rows, err := db.Query(ctx, `SELECT table, name FROM system.columns
		WHERE database = ? AND default_kind NOT IN ('MATERIALIZED', 'ALIAS')
		AND table IN (SELECT name FROM system.tables WHERE database = ? AND (`+cond+`))
		ORDER BY table`, database, database)
	if err != nil {
		return nil, fmt.Errorf("tables of %s: %w", database, err)
	}
	defer rows.Close()
	out := map[string][]string{}
	for rows.Next() {
		var table, col string
		if err := rows.Scan(&table, &col); err != nil {
			return nil, err
		}
		out[table] = append(out[table], col)
	}
	return out, rows.Err()
}

// remoteTable is the remote() table function reading table of database
// at addr. It is joined, not formatted: a '%' in any part (a password,
// most likely) stays a character.
func remoteTable(addr, database, table, user, password string) string {
	return "remote(" + strings.Join([]string{quote(addr), quote(database), quote(table), quote(user), quote(password)}, ", ") + ")"
}

func quote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

func quoteIdent(s string) string { return "`" + strings.ReplaceAll(s, "`", "``") + "`" }
