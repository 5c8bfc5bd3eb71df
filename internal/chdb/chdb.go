// Package chdb opens the ClickHouse connection remarket uses everywhere:
// the native protocol (the HTTP one fails on ClickHouse 18.16) and a record
// of the server version, so newer features can be gated on it.
package chdb

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// DB is a connection pool plus what we learnt about the server.
type DB struct {
	driver.Conn
	Database string
	Version  Version
	// Cluster is the cluster the tables live on (nil: a single node).
	Cluster *Cluster
}

// Version is the server's major.minor.patch.
type Version struct{ Major, Minor, Patch uint64 }

// AtLeast reports whether the server is major.minor or newer.
func (v Version) AtLeast(major, minor uint64) bool {
	return v.Major > major || (v.Major == major && v.Minor >= minor)
}

func (v Version) String() string { return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch) }

// Open connects to dsn (clickhouse://host:port/db?...), creating the
// database when it does not exist yet.
func Open(ctx context.Context, dsn string) (*DB, error) { return OpenCluster(ctx, dsn, "") }

// OpenCluster is Open for remarket's tables on the ClickHouse cluster
// named cluster (remote_servers; "" is a single node): the database and
// its shard database are created on every node, and the connection
// inserts into Distributed tables synchronously (see Cluster). dsn may
// list several of the cluster's hosts (clickhouse://h1:9000,h2:9000/db):
// a connection goes to the first that answers.
func OpenCluster(ctx context.Context, dsn, cluster string) (*DB, error) {
	if strings.HasPrefix(dsn, "http://") || strings.HasPrefix(dsn, "https://") {
		return nil, fmt.Errorf("clickhouse DSN %q: use the native protocol (clickhouse://host:9000/db); the HTTP protocol is not supported", Redact(dsn))
	}
	opts, err := clickhouse.ParseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("cannot parse clickhouse DSN %q: %w", Redact(dsn), err)
	}
	database := opts.Auth.Database
	if database == "" {
		database = "default"
	}
	if cluster != "" {
		if !validClusterName(cluster) {
			return nil, fmt.Errorf("clickhouse_cluster %q: use letters, digits, '_' and '-'", cluster)
		}
		if database == "default" {
			return nil, fmt.Errorf("clickhouse DSN %q: name remarket's database (clickhouse://host:9000/remarket); on a cluster it gets a shard database beside it", Redact(dsn))
		}
		if err := createClusterDatabases(ctx, *opts, cluster, database); err != nil {
			return nil, err
		}
	} else if database != "default" {
		if err := createDatabase(ctx, *opts, database); err != nil {
			return nil, err
		}
	}
	if opts.DialTimeout == 0 {
		opts.DialTimeout = 5 * time.Second
	}
	if opts.MaxOpenConns == 0 {
		opts.MaxOpenConns = 20
	}
	conn, err := clickhouse.Open(opts)
	if err != nil {
		return nil, fmt.Errorf("cannot open clickhouse %q: %w", Redact(dsn), err)
	}
	db := &DB{Conn: conn, Database: database}
	if err := db.refreshVersion(ctx); err != nil {
		conn.Close()
		return nil, err
	}
	add, err := db.defaultSettings(ctx)
	if err != nil {
		conn.Close()
		return nil, err
	}
	if cluster != "" {
		for name, v := range clusterSettings {
			add[name] = v
		}
	}
	for name := range add {
		if _, set := opts.Settings[name]; set {
			delete(add, name)
		}
	}
	if opts.Settings == nil {
		opts.Settings = clickhouse.Settings{}
	}
	for name, v := range add {
		opts.Settings[name] = v
	}
	if cluster != "" {
		db.Cluster = &Cluster{Name: cluster, Local: database + LocalSuffix, opts: *opts, version: db.Version}
	}
	if len(add) == 0 {
		return db, nil
	}
	// Connection settings stay under any a query adds.
	conn.Close()
	if db.Conn, err = clickhouse.Open(opts); err != nil {
		return nil, fmt.Errorf("cannot open clickhouse %q: %w", Redact(dsn), err)
	}
	return db, nil
}

// defaultSettings are the settings remarket's connections add unless the
// DSN sets them.
//
// A GROUP BY or ORDER BY that outgrows half of max_memory_usage spills to
// disk instead of failing at the limit. A segment run's largest query
// (one group per visitor) needs about 1.8 GB per million visitors, so on
// a server limited to 8 GB a shop of 5 M visitors would fail. Spilling
// costs time (40% more CPU when the profiles pass of 1 M visitors spilled
// at 300 MB of its 1 GB) and leaves the results as they were (up to the
// order of float additions). Half is what ClickHouse's documentation
// recommends, to leave room for merging what was spilled.
// A spill threshold also lets a GROUP BY on one thread switch to
// two-level hash tables past 100,000 keys (without one ClickHouse allows
// that only to several threads): on this VM's one-thread queries that
// took the segment benchmark's profiles pass from 17 s to 11.6 s and
// whole runs from 44–50 s to 41–42 s, though the interests pass (5.5 M
// small groups) got 2 s slower.
//
// ClickHouse 18 squashes an INSERT's blocks into blocks of
// min_insert_block_size_rows (1 M) by growing columns one block at a
// time, every growth a fresh allocation: inserting the 5.5 M interest
// rows of the segments benchmark took 400,000 page faults and 8 s of CPU
// more than reading them. Blocks of 65,536 rows (what SELECTs produce
// anyway) need no squashing; the parts they make are merged in the
// background.
// maxQuerySize is the longest statement text the server parses.
const maxQuerySize = 64 << 20

func (db *DB) defaultSettings(ctx context.Context) (clickhouse.Settings, error) {
	add := clickhouse.Settings{}
	var limit string
	if err := db.QueryRow(ctx, "SELECT value FROM system.settings WHERE name = 'max_memory_usage'").Scan(&limit); err != nil {
		return nil, fmt.Errorf("cannot read max_memory_usage: %w", err)
	}
	if n, err := strconv.ParseUint(limit, 10, 64); err == nil && n > 0 {
		add["max_bytes_before_external_group_by"] = int(n / 2)
		add["max_bytes_before_external_sort"] = int(n / 2)
	}
	if !db.Version.AtLeast(19, 1) {
		add["min_insert_block_size_rows"] = 65536
	}
	// Values bound by clickhouse-go are written into the statement's text,
	// and a segment run's profiles step holds every audience's conditions:
	// product lists of a few thousand SKUs in two audiences pass the
	// default 256 KiB, failing every run of the site.
	add["max_query_size"] = maxQuerySize
	return add, nil
}

// databaseExists reports whether a connection to the DSN's own database
// works.
func databaseExists(ctx context.Context, opts clickhouse.Options) bool {
	opts.MaxOpenConns = 1
	if opts.DialTimeout == 0 {
		opts.DialTimeout = 5 * time.Second
	}
	conn, err := clickhouse.Open(&opts)
	if err != nil {
		return false
	}
	defer conn.Close()
	return conn.Ping(ctx) == nil
}

// openDefaultDatabase is one connection to the server's default database,
// for creating the databases remarket uses before they exist.
func openDefaultDatabase(opts clickhouse.Options) (driver.Conn, error) {
	opts.Auth.Database = "default"
	opts.MaxOpenConns = 1
	if opts.DialTimeout == 0 {
		opts.DialTimeout = 5 * time.Second
	}
	conn, err := clickhouse.Open(&opts)
	if err != nil {
		return nil, fmt.Errorf("cannot open clickhouse: %w", err)
	}
	return conn, nil
}

func createDatabase(ctx context.Context, opts clickhouse.Options, database string) error {
	if !validIdent(database) {
		return fmt.Errorf("clickhouse database name %q: use letters, digits and underscores", database)
	}
	// An existing database needs nothing from default, which a user
	// limited to remarket's database may not use.
	if databaseExists(ctx, opts) {
		return nil
	}
	conn, err := openDefaultDatabase(opts)
	if err != nil {
		return err
	}
	defer conn.Close()
	// The name is an identifier (checked above), not a value: it cannot be bound.
	if err := conn.Exec(ctx, "CREATE DATABASE IF NOT EXISTS "+database); err != nil {
		return fmt.Errorf("cannot create database %s: %w", database, err)
	}
	return nil
}

func (db *DB) refreshVersion(ctx context.Context) error {
	var s string
	if err := db.QueryRow(ctx, "SELECT version()").Scan(&s); err != nil {
		return fmt.Errorf("cannot reach clickhouse: %w", err)
	}
	v, err := ParseVersion(s)
	if err != nil {
		return err
	}
	db.Version = v
	return nil
}

// ParseVersion reads "18.16.1" or "24.8.4.13".
func ParseVersion(s string) (Version, error) {
	var v Version
	parts := strings.SplitN(s, ".", 4)
	if len(parts) < 2 {
		return v, fmt.Errorf("cannot parse clickhouse version %q", s)
	}
	nums := []*uint64{&v.Major, &v.Minor, &v.Patch}
	for i := 0; i < len(parts) && i < 3; i++ {
		if _, err := fmt.Sscanf(parts[i], "%d", nums[i]); err != nil {
			return v, fmt.Errorf("cannot parse clickhouse version %q", s)
		}
	}
	return v, nil
}

func validIdent(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i, r := range s {
		ok := r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (i > 0 && r >= '0' && r <= '9')
		if !ok {
			return false
		}
	}
	return true
}

// Redact hides the password of a DSN so it can be logged.
func Redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "<unparseable dsn>"
	}
	// Without "//" after the scheme ("user:pass@host:9000") the rest is
	// opaque: the scheme is the user name, the password is in there.
	if u.Opaque != "" {
		return "<dsn without clickhouse://>"
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	q := u.Query()
	if q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// InsertRow writes one row through a batch. Plain INSERT ... VALUES sent
// with Exec hangs on ClickHouse 18.16 over the native protocol (the server
// waits for a data block), so every insert from Go goes through a batch.
func (db *DB) InsertRow(ctx context.Context, insert string, values ...any) error {
	b, err := db.PrepareBatch(ctx, insert)
	if err != nil {
		return err
	}
	if err := b.Append(values...); err != nil {
		b.Abort()
		return err
	}
	return b.Send()
}
