package sql_test

import (
	"context"
	"strings"
	"testing"

	"github.com/remarket/remarket/internal/chtest"
	rmsql "github.com/remarket/remarket/sql"
)

// The cluster's DDL (ON CLUSTER, Replicated…MergeTree with {shard} and
// {replica} paths, Distributed, views over both databases) parses on the
// engine under test: internal/clustercheck runs it on an 18.16 cluster
// with ZooKeeper; the current ClickHouse has no replication in chDB, so
// there its parser checks every statement, rendered for its version, a
// new cluster's plan and each migration's rewrite alike. (18.16 has no
// EXPLAIN AST: there the real cluster is the check.)
func TestClusterStatementsParse(t *testing.T) {
	db := chtest.MustOpen(t)
	if !db.Version.AtLeast(20, 6) {
		t.Skipf("ClickHouse %s has no EXPLAIN AST; internal/clustercheck runs these on a cluster of it", db.Version)
	}
	if db.Exec(context.Background(), "EXPLAIN AST CREATE TABLE rm.x ON CLUSTER 'c' AS rm_shard.x ENGINE = Distributed('c', 'rm_shard', 'x', vh") == nil {
		t.Fatal("EXPLAIN AST accepts a statement that does not parse: it checks nothing")
	}
	stmts, err := rmsql.ClusterStatements(db.Version)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	for _, q := range stmts {
		if err := db.Exec(context.Background(), "EXPLAIN AST "+q); err != nil {
			t.Errorf("%s:\n  %v", q, err)
		}
		f := strings.Fields(q)
		kinds[f[0]+" "+f[1]]++
	}
	for _, k := range []string{"CREATE TABLE", "CREATE VIEW", "CREATE MATERIALIZED", "ALTER TABLE", "DROP TABLE"} {
		if kinds[k] == 0 {
			t.Errorf("no %s statement checked: %v", k, kinds)
		}
	}
	t.Logf("%d statements parse on ClickHouse %s: %v", len(stmts), db.Version, kinds)
}
