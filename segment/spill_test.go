package segment_test

import (
	"context"
	"slices"
	"testing"

	"github.com/remarket/remarket/internal/chdb"
	"github.com/remarket/remarket/internal/chtest"
	"github.com/remarket/remarket/segment"
)

// A shop too large for the server's memory makes a run's GROUP BYs and
// ORDER BYs spill to disk (chdb sets the thresholds at half of
// max_memory_usage). Here they spill from the first byte and key; the
// run must come out as it does in memory: interests, related products,
// members and their recommendations.
func TestSpillingToDiskLeavesTheRunAsItWas(t *testing.T) {
	dsn := chtest.DSN(t)
	db := chtest.Open(t, dsn)
	cameraCatalog(t, db)
	insertEvents(t, db, cameraShop(t)...)
	insertEvents(t, db,
		ev{vid: "c1", ago: 3 * day, typ: "add_to_cart", pid: "cam90d"},
		ev{vid: "c2", ago: 2 * day, typ: "product_view", pid: "lens50"},
		ev{vid: "c2", ago: 2 * day, typ: "product_list_view", category: "Cameras > Lenses"},
		ev{vid: "c3", ago: day, typ: "product_view", pid: "cam250d"},
		ev{vid: "c4", ago: day, typ: "product_view", pid: "cam250d"},
		ev{vid: "c4", ago: day / 2, typ: "product_view", pid: "lens50"},
	)
	cfg := testConfig(t, segment.Templates()...)
	snapshot := func(db *chdb.DB) []string {
		t.Helper()
		var out []string
		for _, q := range []string{
			"SELECT concat(audience, ' ', visitor_id) FROM v_audience_members WHERE site = ?",
			"SELECT concat(audience, ' ', visitor_id, ' ', toString(rank), ' ', product_id, ' ', strategy, ' ', reason) FROM v_visitor_recommendations WHERE site = ?",
			"SELECT concat(visitor_id, ' ', kind, ' ', key, ' ', toString(round(score, 9)), ' ', stage) FROM v_visitor_interests WHERE site = ?",
			"SELECT concat(product_id, ' ', related_id, ' ', strategy, ' ', kind) FROM v_related_products WHERE site = ?",
		} {
			rows := strings1(t, db, q, site)
			slices.Sort(rows)
			out = append(out, rows...)
		}
		return out
	}
	spilled := func() (groups, sorts uint64) {
		t.Helper()
		if err := db.QueryRow(context.Background(), `SELECT sumIf(value, event = 'ExternalAggregationWritePart'), sumIf(value, event = 'ExternalSortWritePart')
			FROM system.events`).Scan(&groups, &sorts); err != nil {
			t.Fatal(err)
		}
		return groups, sorts
	}

	run(t, newEngine(t, db, cfg))
	inMemory := snapshot(db)
	if len(inMemory) < 50 || !slices.Contains(inMemory, "viewed_not_bought c3 3 lens50 cross_sell Goes with your Canon EOS 250D") {
		t.Fatalf("the run in memory computed too little to compare: %v", inMemory)
	}
	groups, sorts := spilled()
	// A GROUP BY spills only once its hash table is two-level, which
	// ClickHouse does from 100,000 keys: here from the first.
	settings := "max_bytes_before_external_group_by=1&max_bytes_before_external_sort=1&group_by_two_level_threshold=1"
	// Current servers spill a sort only in blocks of at least this size
	// (100 MB by default); 18.16 has no such setting.
	var minBlock uint64
	if err := db.QueryRow(context.Background(), "SELECT count() FROM system.settings WHERE name = 'min_external_sort_block_bytes'").Scan(&minBlock); err != nil {
		t.Fatal(err)
	}
	if minBlock > 0 {
		settings += "&min_external_sort_block_bytes=1"
	}
	onDisk := chtest.Open(t, chtest.WithSettings(dsn, settings))
	// Since 25.1 the sort threshold counts the query's tracked memory; the
	// chDB engine tracks none per query, so its sorts never spill. Sorts
	// must spill wherever a plain sort does.
	sortsSpill := true
	if minBlock > 0 {
		var n uint64
		if err := onDisk.QueryRow(context.Background(), "SELECT count() FROM (SELECT number FROM numbers(200000) ORDER BY cityHash64(number))").Scan(&n); err != nil {
			t.Fatal(err)
		}
		_, s := spilled()
		sortsSpill = s > sorts
		sorts = s
		if !sortsSpill {
			t.Log("this server's sorts do not spill (no per-query memory tracking): checking groupings only")
		}
	}
	run(t, newEngine(t, onDisk, cfg))
	if g, s := spilled(); g == groups || (sortsSpill && s == sorts) {
		t.Fatalf("spilled %d groupings and %d sorts to disk, want both", g-groups, s-sorts)
	}
	if got := snapshot(onDisk); !slices.Equal(got, inMemory) {
		for i := range min(len(got), len(inMemory)) {
			if got[i] != inMemory[i] {
				t.Fatalf("spilled run differs: first at row %d: %q, in memory %q (%d rows against %d)", i, got[i], inMemory[i], len(got), len(inMemory))
			}
		}
		t.Fatalf("spilled run has %d rows, in memory %d", len(got), len(inMemory))
	}
}
