package clustercheck

import (
	"context"
	"strings"
	"testing"

	"github.com/remarket/remarket/internal/chdb"
	"github.com/remarket/remarket/internal/runcheck"
	rmsql "github.com/remarket/remarket/sql"
)

// A single-node install (the demo's events and catalog, and a segment
// run) converted with `remarket convert` into a new cluster database:
// every table's rows are on the cluster, each sharded table's rows on
// their visitor's shard only, and the cluster shows the single node's
// current audiences.
func TestConvertASingleNode(t *testing.T) {
	cfg, now := demoOnCluster(t)
	ctx := context.Background()
	const from, to = "convert_from", "convert_to"
	one, err := chdb.Open(ctx, single.DSN(from))
	if err != nil {
		t.Fatal(err)
	}
	defer one.Close()
	if _, err := rmsql.Migrate(ctx, one); err != nil {
		t.Fatal(err)
	}
	for _, table := range []string{"events", "catalog_products", "catalog_versions", "feed_discount_rules", "seg_member_joins", "offer_redemptions"} {
		runcheck.CopyTable(t, cluster.Node(1, 1), database, single, from, table, "site = '"+demoSite+"'")
	}
	runcheck.Compute(t, cfg, one, "one node", demoSite, now)

	bin, err := buildRemarket()
	if err != nil {
		t.Fatal(err)
	}
	// Queries are logged (as a profile with log_queries = 1 would): the
	// copies, whose remote() holds the single node's password, must not be.
	out, err := remarket(bin, cluster.DSN(to, cluster.Node(2, 1), cluster.Node(1, 2))+"?log_queries=1", "convert", "--from", single.DSN(from))
	if err != nil {
		t.Fatalf("remarket convert: %v\n%s", err, out)
	}
	var logged uint64 // the convert's queries in the logs: they are logged
	for _, node := range cluster.Nodes {
		conn, err := chdb.Open(ctx, node.DSN("default"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if err := conn.Exec(ctx, "SYSTEM FLUSH LOGS"); err != nil {
			t.Fatal(err)
		}
		var withCredentials, n uint64
		if err := conn.QueryRow(ctx, `SELECT countIf(query LIKE '%remote(%'), countIf(query LIKE '%`+to+`%')
			FROM system.query_log WHERE query NOT LIKE '%system.query_log%'`).Scan(&withCredentials, &n); err != nil {
			t.Fatal(err)
		}
		if withCredentials > 0 {
			t.Errorf("node %s: system.query_log holds %d copies with the single node's credentials in remote()", node.DSN(""), withCredentials)
		}
		logged += n
	}
	if logged == 0 {
		t.Error("no query of the convert was logged: the check above proves nothing")
	}
	if !strings.Contains(out, "copied events: ") || strings.Contains(out, "rows in it already") {
		t.Errorf("remarket convert said:\n%s", out)
	}
	t.Logf("remarket convert:\n%s", out)

	db := openCluster(t, cluster.DSN(to, cluster.Node(1, 1)))
	// Every table: as many rows on the cluster as on the node.
	tables, err := one.Query(ctx, "SELECT name FROM system.tables WHERE database = ? AND engine LIKE '%MergeTree%' AND name != 'schema_migrations' AND name != 'events_before_030'", from)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for tables.Next() {
		var n string
		if err := tables.Scan(&n); err != nil {
			t.Fatal(err)
		}
		names = append(names, n)
	}
	tables.Close()
	copied := 0
	for _, n := range names {
		var a, b uint64
		// n comes from system.tables.
		if err := one.QueryRow(ctx, "SELECT count() FROM "+n).Scan(&a); err != nil {
			t.Fatal(err)
		}
		if err := db.QueryRow(ctx, "SELECT count() FROM "+n).Scan(&b); err != nil {
			t.Fatalf("%s on the cluster: %v", n, err)
		}
		if a != b {
			t.Errorf("%s: %d rows on the node, %d on the cluster", n, a, b)
		}
		if a > 0 {
			copied++
		}
	}
	if copied < 10 {
		t.Errorf("only %d tables had rows to copy", copied)
	}
	// Each visitor's events on one shard.
	var visitors, perShard uint64
	if err := db.QueryRow(ctx, "SELECT uniqExact(visitor_id) FROM events").Scan(&visitors); err != nil {
		t.Fatal(err)
	}
	nodes, err := db.Nodes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, replicas := range chdb.ShardReplicas(nodes) {
		var n uint64
		if err := replicas[0].QueryRow(ctx, "SELECT uniqExact(visitor_id) FROM events").Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 0 || n == visitors {
			t.Errorf("shard %d has %d of %d visitors", replicas[0].Shard, n, visitors)
		}
		perShard += n
	}
	if perShard != visitors {
		t.Errorf("the shards have %d visitors between them, the cluster %d: a visitor on two shards", perShard, visitors)
	}
	// The same current audiences.
	sizes := func(db *chdb.DB) string {
		var s string
		if err := db.QueryRow(ctx, "SELECT toString(groupArray((audience, size))) FROM (SELECT audience, size FROM v_audience_sizes WHERE site = ? ORDER BY audience)", demoSite).Scan(&s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	if a, b := sizes(one), sizes(db); a != b || a == "[]" {
		t.Errorf("current audiences: %s on the node, %s on the cluster", a, b)
	}
}
