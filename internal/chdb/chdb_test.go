package chdb_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/remarket/remarket/internal/chdb"
	"github.com/remarket/remarket/internal/chtest"
)

func TestMain(m *testing.M) { chtest.Main(m) }

// On ClickHouse 18 every connection inserts in blocks of 65,536 rows
// (see Open), a DSN's own value wins, and a query's settings add to the
// connection's instead of replacing them.
func TestOpenSetsInsertBlockSizeOn18(t *testing.T) {
	dsn := chtest.DSN(t)
	setting := func(dsn string, ctx context.Context) string {
		t.Helper()
		db, err := chdb.Open(context.Background(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if db.Version.AtLeast(19, 1) {
			t.Skipf("server %s squashes inserts without the ClickHouse 18 cost", db.Version)
		}
		var v string
		if err := db.QueryRow(ctx, "SELECT value FROM system.settings WHERE name = 'min_insert_block_size_rows'").Scan(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	withMemory := clickhouse.Context(context.Background(), clickhouse.WithSettings(clickhouse.Settings{"max_memory_usage": 8_000_000_000}))
	if got := setting(dsn, withMemory); got != "65536" {
		t.Errorf("min_insert_block_size_rows = %s beside a query setting, want 65536", got)
	}
	if got := setting(chtest.WithSettings(dsn, "min_insert_block_size_rows=1048576"), context.Background()); got != "1048576" {
		t.Errorf("min_insert_block_size_rows = %s with the DSN's 1048576, want the DSN's", got)
	}
}

// Every connection lets a GROUP BY or ORDER BY spill to disk at half of
// max_memory_usage (see defaultSettings); a DSN's own value wins.
func TestOpenSpillsAtHalfTheMemoryLimit(t *testing.T) {
	dsn := chtest.DSN(t)
	settings := func(dsn string) (limit, groupBy, sort string) {
		t.Helper()
		db, err := chdb.Open(context.Background(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		q := "SELECT value FROM system.settings WHERE name = @name"
		for name, v := range map[string]*string{"max_memory_usage": &limit, "max_bytes_before_external_group_by": &groupBy, "max_bytes_before_external_sort": &sort} {
			if err := db.QueryRow(context.Background(), q, clickhouse.Named("name", name)).Scan(v); err != nil {
				t.Fatal(err)
			}
		}
		return limit, groupBy, sort
	}
	limit, groupBy, sort := settings(dsn)
	n, err := strconv.ParseUint(limit, 10, 64)
	if err != nil || n == 0 {
		t.Fatalf("max_memory_usage = %q: the test server should set a limit", limit)
	}
	if want := strconv.FormatUint(n/2, 10); groupBy != want || sort != want {
		t.Errorf("max_memory_usage %s: external group by at %s and sort at %s, want both at %s", limit, groupBy, sort, want)
	}
	if _, groupBy, sort := settings(chtest.WithSettings(dsn, "max_bytes_before_external_group_by=1000")); groupBy != "1000" || sort != strconv.FormatUint(n/2, 10) {
		t.Errorf("with the DSN's group by threshold 1000: group by at %s, sort at %s; want 1000 and %d", groupBy, sort, n/2)
	}
}

// A DSN's password never shows in Redact or in Open's error, also when
// the DSN is malformed: written without clickhouse://, "user:pass@host"
// parses as a URL whose scheme is the user name and whose password sits
// in its opaque part.
func TestDSNPasswordNeverShown(t *testing.T) {
	const secret = "Hunter2SecretPw"
	for _, dsn := range []string{
		"clickhouse://op:" + secret + "@127.0.0.1:1/remarket?dial_timeout=bogus",
		"op:" + secret + "@127.0.0.1:9000",
		"op:" + secret + "@127.0.0.1:9000/remarket",
		"clickhouse:op:" + secret + "@127.0.0.1:9000/remarket",
		"127.0.0.1:9000/remarket?password=" + secret,
	} {
		if got := chdb.Redact(dsn); strings.Contains(got, secret) {
			t.Errorf("Redact(%q) = %q: shows the password", dsn, got)
		}
		db, err := chdb.Open(context.Background(), dsn)
		if err == nil {
			db.Close()
			t.Errorf("Open(%q) worked, want an error", dsn)
			continue
		}
		if strings.Contains(err.Error(), secret) {
			t.Errorf("Open(%q): error shows the password: %v", dsn, err)
		}
	}
}

// A ClickHouse user may see only remarket's database (users.xml
// allow_databases, or GRANT ... ON db.*): the least a DBA gives an
// application. Open must not need the default database when remarket's
// exists: on ClickHouse 18.16 a connection to default then failed in the
// handshake, which Open also took for a server not up yet and retried
// for a minute. The test takes the default database away (a user's view
// of it without access), and gives it back.
func TestOpenWithoutAccessToTheDefaultDatabase(t *testing.T) {
	dsn := chtest.DSN(t)
	ctx := context.Background()
	admin, err := chdb.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() }) // after the default database is back
	var tables uint64
	if err := admin.QueryRow(ctx, "SELECT count() FROM system.tables WHERE database = 'default'").Scan(&tables); err != nil {
		t.Fatal(err)
	}
	if tables > 0 {
		t.Skipf("the default database holds %d tables", tables)
	}
	if err := admin.Exec(ctx, "DROP DATABASE default"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := admin.Exec(context.Background(), "CREATE DATABASE IF NOT EXISTS default"); err != nil {
			t.Errorf("cannot give the default database back: %v", err)
		}
	})
	octx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	db, err := chdb.Open(octx, dsn)
	if err != nil {
		t.Fatalf("open of existing database %s without the default database: %v", admin.Database, err)
	}
	defer db.Close()
	var n uint64
	if err := db.QueryRow(ctx, "SELECT count() FROM schema_migrations").Scan(&n); err != nil || n == 0 {
		t.Fatalf("reads %d migrations: %v", n, err)
	}
}
