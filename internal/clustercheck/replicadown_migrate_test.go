package clustercheck

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/remarket/remarket/internal/chdb"
)

// `remarket migrate` of a new database while one node of the cluster is
// down fails soon with an error naming that node (not after the DDL
// queue's 180 s per statement), and once the node is back a second
// migrate makes the whole schema, the same on every node.
func TestMigrateWhileANodeIsDown(t *testing.T) {
	needCluster(t)
	bin, err := buildRemarket()
	if err != nil {
		t.Fatal(err)
	}
	const db = "rm_down"
	dsn := cluster.DSN(db, cluster.Node(1, 1))
	// The databases exist (made while every node was up), the tables not.
	made, err := chdb.OpenCluster(context.Background(), dsn, clusterName)
	if err != nil {
		t.Fatal(err)
	}
	made.Close()
	down := cluster.Node(2, 2)
	down.Kill()
	recovered := false
	defer func() {
		if !recovered {
			cluster.Recover(context.Background(), down)
		}
	}()
	host := strings.TrimSuffix(strings.TrimPrefix(down.DSN(""), "clickhouse://"), "/")
	// A database the cluster has, and a new one.
	for _, dsn := range []string{dsn, cluster.DSN(db+"_new", cluster.Node(1, 1))} {
		start := time.Now()
		out, err := remarketWithin(bin, dsn, 90*time.Second, "migrate")
		took := time.Since(start)
		if err == nil || !strings.Contains(out, host) || took > time.Minute {
			t.Errorf("migrate %s with node %s down: %v after %s, want an error naming the node within a minute:\n%s", dsn, host, err, took.Round(time.Second), lastLines(out, 5))
		}
		t.Logf("migrate with a node down answered after %s: %s", took.Round(time.Millisecond), lastLines(out, 1))
	}

	if err := cluster.Recover(context.Background(), down); err != nil {
		t.Fatal(err)
	}
	recovered = true
	if out, err := remarketWithin(bin, dsn, 5*time.Minute, "migrate"); err != nil {
		t.Fatalf("migrate once the node is back: %v\n%s", err, lastLines(out, 10))
	}
	var first []string
	for i, n := range cluster.Nodes {
		rows, err := openNode(t, n).Query(context.Background(), `SELECT database, name, engine_full FROM system.tables
			WHERE database IN (?, ?) ORDER BY database, name`, db, db+chdb.LocalSuffix)
		if err != nil {
			t.Fatal(err)
		}
		var schema []string
		for rows.Next() {
			var d, name, full string
			if err := rows.Scan(&d, &name, &full); err != nil {
				t.Fatal(err)
			}
			schema = append(schema, d+"."+name+"\t"+full)
		}
		rows.Close()
		if i == 0 {
			first = schema
			if len(schema) < 20 {
				t.Fatalf("node 1 has %d tables of %s", len(schema), db)
			}
			continue
		}
		if !slices.Equal(schema, first) {
			t.Errorf("node %d's schema differs from node 1's:\n%s", i+1, firstDiff(first, schema))
		}
	}
}
