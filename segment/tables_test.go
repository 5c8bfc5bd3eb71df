package segment

import (
	"context"
	"strings"
	"testing"

	"github.com/remarket/remarket/internal/chtest"
)

// Work tables live for one run, or until the next (keptWorkTables): none
// is ever merged (028). The snapshot and state tables keep ClickHouse's
// merges, which also run the mutations that erase people from them.
func TestWorkTablesAreNeverMerged(t *testing.T) {
	db := chtest.MustOpen(t)
	rows, err := db.Query(context.Background(), "SELECT name, engine_full FROM system.tables WHERE database = currentDatabase() AND name LIKE 'seg\\_%'")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	engines := map[string]string{}
	for rows.Next() {
		var name, engine string
		if err := rows.Scan(&name, &engine); err != nil {
			t.Fatal(err)
		}
		engines[name] = engine
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	const never = "max_bytes_to_merge_at_max_space_in_pool = 1,"
	for _, name := range append(workTables, keptWorkTables...) {
		if !strings.Contains(engines[name], never) {
			t.Errorf("work table %s: %q, want it never merged (%s)", name, engines[name], never)
		}
	}
	for _, name := range append(snapshotTables, stateTables...) {
		if strings.Contains(engines[name], never) {
			t.Errorf("snapshot table %s is never merged: %q", name, engines[name])
		}
	}
}
