package sql

import (
	"context"
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/remarket/remarket/internal/chdb"
)

// The cluster form of each kind of statement the migrations use
// (internal/clustercheck runs them on a real cluster).
func TestClusterLayoutRewrites(t *testing.T) {
	l := &layout{cluster: "c", db: "rm", local: "rm_shard", objects: map[string]object{}, tag: "t"}
	cases := []struct {
		stmt string
		want []string
	}{
		{"CREATE TABLE IF NOT EXISTS seg_x (site String, vh UInt64, n Nested(a String, b UInt8)) ENGINE = MergeTree() PARTITION BY run_id ORDER BY tuple()", []string{
			"CREATE TABLE IF NOT EXISTS rm_shard.seg_x ON CLUSTER 'c' (site String, vh UInt64, n Nested(a String, b UInt8)) ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/rm_shard/seg_x/t', '{replica}') PARTITION BY run_id ORDER BY tuple()",
			"CREATE TABLE IF NOT EXISTS rm.seg_x ON CLUSTER 'c' AS rm_shard.seg_x ENGINE = Distributed('c', 'rm_shard', 'seg_x', vh)",
		}},
		{"CREATE TABLE IF NOT EXISTS ev (site String, visitor_id String) ENGINE = ReplacingMergeTree() ORDER BY (site, visitor_id)", []string{
			"CREATE TABLE IF NOT EXISTS rm_shard.ev ON CLUSTER 'c' (site String, visitor_id String) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/rm_shard/ev/t', '{replica}') ORDER BY (site, visitor_id)",
			"CREATE TABLE IF NOT EXISTS rm.ev ON CLUSTER 'c' AS rm_shard.ev ENGINE = Distributed('c', 'rm_shard', 'ev', cityHash64(visitor_id))",
		}},
		{"CREATE TABLE IF NOT EXISTS cur (site String, run_id String, switched UInt64) ENGINE = ReplacingMergeTree(switched) ORDER BY site", []string{
			"CREATE TABLE IF NOT EXISTS rm.cur ON CLUSTER 'c' (site String, run_id String, switched UInt64) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/all/rm/cur/t', '{shard}-{replica}', switched) ORDER BY site",
			"CREATE VIEW IF NOT EXISTS rm_shard.cur ON CLUSTER 'c' AS SELECT * FROM rm.cur",
		}},
		// Known already: nothing to do.
		{"CREATE TABLE IF NOT EXISTS cur (site String) ENGINE = MergeTree() ORDER BY site", nil},
		{"CREATE VIEW IF NOT EXISTS v AS SELECT site FROM seg_x WHERE (site, run_id) IN (SELECT site, argMax(run_id, switched) FROM cur GROUP BY site) ARRAY JOIN arr AS a", []string{
			"CREATE VIEW IF NOT EXISTS rm.v ON CLUSTER 'c' AS SELECT site FROM rm.seg_x WHERE (site, run_id) GLOBAL IN (SELECT site, argMax(run_id, switched) FROM rm.cur GROUP BY site) ARRAY JOIN arr AS a",
			"CREATE VIEW IF NOT EXISTS rm_shard.v ON CLUSTER 'c' AS SELECT site FROM rm_shard.seg_x WHERE (site, run_id) IN (SELECT site, argMax(run_id, switched) FROM rm.cur GROUP BY site) ARRAY JOIN arr AS a",
		}},
		{"CREATE VIEW w AS SELECT x FROM v ALL INNER JOIN system.numbers AS n USING x WHERE x NOT IN (SELECT x FROM ev) AND y GLOBAL IN (SELECT 1)", []string{
			"CREATE VIEW rm.w ON CLUSTER 'c' AS SELECT x FROM rm.v ALL INNER JOIN system.numbers AS n USING x WHERE x GLOBAL NOT IN (SELECT x FROM rm.ev) AND y GLOBAL IN (SELECT 1)",
			"CREATE VIEW rm_shard.w ON CLUSTER 'c' AS SELECT x FROM rm_shard.v ALL INNER JOIN system.numbers AS n USING x WHERE x NOT IN (SELECT x FROM rm_shard.ev) AND y GLOBAL IN (SELECT 1)",
		}},
		{"CREATE MATERIALIZED VIEW IF NOT EXISTS x_to_ev TO ev AS SELECT site, visitor_id FROM seg_x", []string{
			"CREATE MATERIALIZED VIEW IF NOT EXISTS rm_shard.x_to_ev ON CLUSTER 'c' TO rm_shard.ev AS SELECT site, visitor_id FROM rm_shard.seg_x",
		}},
		{"ALTER TABLE ev ADD COLUMN n UInt8 DEFAULT 0", []string{
			"ALTER TABLE rm_shard.ev ON CLUSTER 'c' ADD COLUMN n UInt8 DEFAULT 0",
			EveryNode + "ALTER TABLE rm.ev ADD COLUMN n UInt8 DEFAULT 0",
		}},
		{"ALTER TABLE cur ADD COLUMN n UInt8", []string{
			"ALTER TABLE rm.cur ADD COLUMN n UInt8",
			"DROP TABLE IF EXISTS rm_shard.cur ON CLUSTER 'c'",
			"CREATE VIEW IF NOT EXISTS rm_shard.cur ON CLUSTER 'c' AS SELECT * FROM rm.cur",
		}},
		{"ALTER TABLE ev DELETE WHERE site = 'x'", []string{"ALTER TABLE rm_shard.ev ON CLUSTER 'c' DELETE WHERE site = 'x'"}},
		{"DROP TABLE IF EXISTS x_to_ev", []string{"DROP TABLE IF EXISTS rm_shard.x_to_ev ON CLUSTER 'c'"}},
		{"DROP TABLE IF EXISTS seg_x", []string{"DROP TABLE IF EXISTS rm.seg_x ON CLUSTER 'c'", "DROP TABLE IF EXISTS rm_shard.seg_x ON CLUSTER 'c'"}},
		{"DROP TABLE IF EXISTS cur", []string{"DROP TABLE IF EXISTS rm_shard.cur ON CLUSTER 'c'", "DROP TABLE IF EXISTS rm.cur ON CLUSTER 'c'"}},
		{"DROP TABLE IF EXISTS never_made", nil},
	}
	for _, c := range cases {
		got, err := l.rewrite(c.stmt)
		if err != nil {
			t.Errorf("%s: %v", c.stmt, err)
			continue
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%s:\n got  %s\n want %s", c.stmt, strings.Join(got, "\n      "), strings.Join(c.want, "\n      "))
		}
	}
}

// What would make a table on one node only is refused.
func TestClusterLayoutRefuses(t *testing.T) {
	l := &layout{cluster: "c", db: "rm", local: "rm_shard", objects: map[string]object{
		"whole": {kind: kindTable}, "sharded": {kind: kindTable, sharded: true}}}
	for _, stmt := range []string{
		"CREATE TABLE lock (at DateTime) ENGINE = Log",
		"CREATE TABLE n (site String) ENGINE = Null",
		"RENAME TABLE a TO b",
		"CREATE MATERIALIZED VIEW m TO whole AS SELECT site FROM sharded",
		"ALTER TABLE missing ADD COLUMN x UInt8",
		"OPTIMIZE TABLE whole FINAL",
	} {
		if got, err := l.rewrite(stmt); err == nil {
			t.Errorf("%s: no error, got %v", stmt, got)
		}
	}
}

// A new cluster's plan makes what replaying every migration makes, each
// object once and with its last definition, in fewer statements.
func TestClusterPlanMakesWhatTheMigrationsLeave(t *testing.T) {
	all, err := Migrations()
	if err != nil {
		t.Fatal(err)
	}
	run := func(planned bool) (*layout, int) {
		l := &layout{cluster: "c", db: "rm", local: "rm_shard", objects: map[string]object{}}
		if planned {
			l.plan = newPlan()
		}
		s := &Schema{DB: &chdb.DB{Version: chdb.Version{Major: 18, Minor: 16}}, layout: l}
		count := 0
		for _, m := range all {
			s.version, s.n = m.Version, 0
			if m.Run != nil {
				if !planned {
					continue // reads the cluster; its statements are in the plan's run
				}
				if err := m.Run(context.Background(), s); err != nil {
					t.Fatalf("%s: %v", m.Name, err)
				}
			}
			for _, tmpl := range m.Statements {
				stmt, err := render(tmpl, s.DB.Version)
				if err != nil {
					t.Fatal(err)
				}
				s.n++
				l.tag = "t"
				out, err := l.rewrite(SplitStatements(stmt)[0])
				if err != nil {
					t.Fatalf("%s: %v", m.Name, err)
				}
				count += len(out)
			}
		}
		return l, count
	}
	planned, _ := run(true)
	replayed, statements := run(false)
	if !maps.Equal(planned.objects, replayed.objects) {
		t.Errorf("the plan makes %v, the migrations %v", planned.objects, replayed.objects)
	}
	stmts := planned.plan.statements()
	made := map[string]int{}
	for _, q := range stmts {
		if strings.HasPrefix(q, "DROP") {
			t.Errorf("the plan drops: %s", q)
		}
		if m := regexp.MustCompile(`^CREATE (?:MATERIALIZED )?(?:TABLE|VIEW) (?:IF NOT EXISTS )?(\S+)`).FindStringSubmatch(q); m != nil {
			made[m[1]]++
		}
	}
	for name, n := range made {
		if n > 1 {
			t.Errorf("the plan makes %s %d times", name, n)
		}
	}
	if len(stmts) >= statements {
		t.Errorf("the plan has %d statements, the migrations %d", len(stmts), statements)
	}
	t.Logf("the plan has %d statements, the migrations %d", len(stmts), statements)
}

// A '%' in the old node's password stays a character, and a quote in it
// is escaped (the statement was once formatted twice, reading "%o" as a
// verb).
func TestRemoteTableKeepsThePasswordAsWritten(t *testing.T) {
	got := remoteTable("old:9000", "remarket", "events", "conv", `50%off's\`)
	want := `remote('old:9000', 'remarket', 'events', 'conv', '50%off\'s\\')`
	if got != want {
		t.Fatalf("remoteTable = %s\nwant          %s", got, want)
	}
}
