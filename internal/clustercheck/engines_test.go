package clustercheck

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/remarket/remarket/internal/chdb"
	rmsql "github.com/remarket/remarket/sql"
)

var update = flag.Bool("update", false, "rewrite testdata/engines.txt from the servers")

// Every table's and view's engine in both layouts, as ClickHouse 18.16
// reports them after the migrations: a new table (or a changed engine)
// shows here for review, above all where the cluster puts it (sharded by
// visitor or whole on every node, sql/cluster.go). After a schema change:
// go test ./internal/clustercheck -run TestEveryTableEngine -update
func TestEveryTableEngine(t *testing.T) {
	migrated(t)
	ctx := context.Background()
	one, err := chdb.Open(ctx, single.DSN("engines"))
	if err != nil {
		t.Fatal(err)
	}
	defer one.Close()
	if _, err := rmsql.Migrate(ctx, one); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	b.WriteString("# one node: table, engine\n")
	rows, err := one.Query(ctx, "SELECT name, if(engine_full = '', engine, engine_full) FROM system.tables WHERE database = 'engines' ORDER BY name")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var name, engine string
		if err := rows.Scan(&name, &engine); err != nil {
			t.Fatal(err)
		}
		b.WriteString(name + "\t" + engine + "\n")
	}
	rows.Close()
	b.WriteString("\n# cluster: database.table, engine\n")
	for _, line := range nodeSchema(t, cluster.Nodes[0]) {
		f := strings.Split(line, "\t")
		engine := f[2]
		if engine == "" {
			engine = f[1]
		}
		name := strings.Replace(strings.Replace(f[0], database+chdb.LocalSuffix+".", "<db>_shard.", 1), database+".", "<db>.", 1)
		engine = strings.ReplaceAll(engine, "/"+database+chdb.LocalSuffix+"/", "/<db>_shard/")
		engine = strings.ReplaceAll(engine, "/"+database+"/", "/<db>/")
		engine = strings.ReplaceAll(engine, "'"+database+chdb.LocalSuffix+"'", "'<db>_shard'")
		b.WriteString(name + "\t" + engine + "\n")
	}
	golden := filepath.Join("testdata", "engines.txt")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to write it)", err)
	}
	if got := b.String(); got != string(want) {
		gl, wl := strings.Split(got, "\n"), strings.Split(string(want), "\n")
		t.Errorf("engines differ from %s (review, then -update):\n%s", golden, firstDiff(wl, gl))
	}
}
