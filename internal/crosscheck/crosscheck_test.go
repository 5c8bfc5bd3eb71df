// Package crosscheck proves that remarket gives the same results on the
// ClickHouse our machines run (Debian's clickhouse-server 18.16) and on the
// one production users run (ClickHouse 26.x, from the chDB library).
//
// `remarket demo --no-serve` runs against both engines. Then the 18.16
// demo's inputs (events and catalog) are copied into a fresh database on
// the current engine, a segment run and an evaluation with the same clock
// run on both, and every output a user sees is compared row by row:
// audience sizes, members, interests, profiles, related products,
// recommendations, audience product lists, eval figures (leave-last-out
// and next-item) and every item of every feed (Google XML, Meta CSV,
// JSON). The same comparison runs on real sessions (sessions_test.go).
package crosscheck

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/remarket/remarket/internal/chdb"
	"github.com/remarket/remarket/internal/chserver"
	"github.com/remarket/remarket/internal/chtest"
	"github.com/remarket/remarket/internal/config"
	"github.com/remarket/remarket/internal/runcheck"
	rmsql "github.com/remarket/remarket/sql"
)

const site = "demo"

func TestDemoGivesTheSameResultsOnBothClickHouses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two ClickHouse engines and runs the demo on each")
	}
	ctx := context.Background()
	bin := runcheck.BuildRemarket(t)
	old := startEngine(t, chserver.EngineServer)
	cur := startEngine(t, chserver.EngineChDB)

	// The demo, end to end through ingest, on each engine.
	cfgPath := runcheck.RunDemo(t, bin, old.DSN("demo_old"), nil)
	runcheck.RunDemo(t, bin, cur.DSN("demo_cur"), nil)
	cfg, err := config.Load(cfgPath, true)
	if err != nil {
		t.Fatal(err)
	}

	// The same inputs on both: the 18.16 demo's events and catalog.
	oldDB := chtest.Open(t, old.DSN("demo_old"))
	curDB := chtest.Open(t, cur.DSN("same"))
	if _, err := rmsql.Migrate(ctx, curDB); err != nil {
		t.Fatal(err)
	}
	// Outcomes also need who joined when, and the redemptions recorded;
	// feeds the offer windows the demo's campaign opened (and closed).
	for _, table := range []string{"events", "catalog_products", "catalog_versions", "feed_discount_rules", "seg_member_joins", "offer_redemptions",
		"feed_offer_windows"} {
		runcheck.CopyTable(t, old, "demo_old", cur, "same", table, "")
	}
	var anchor time.Time
	if err := oldDB.QueryRow(ctx, "SELECT max(anchor) FROM demo_runs WHERE site = ?", site).Scan(&anchor); err != nil {
		t.Fatal(err)
	}
	// One clock for both: a minute after the simulation's last hit.
	now := anchor.Add(time.Minute)

	results := make([]runcheck.Snapshot, 2)
	for i, db := range []*chdb.DB{oldDB, curDB} {
		results[i] = runcheck.Compute(t, cfg, db, "ClickHouse "+db.Version.String(), site, now)
	}
	runcheck.Compare(t, results[0], results[1])
}

func startEngine(t *testing.T, e chserver.Engine) *chserver.Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	s, err := chserver.Start(ctx, chserver.Options{Engine: e})
	if err != nil {
		if os.Getenv("CI") == "" && (errors.Is(err, chserver.ErrNoBinary) || errors.Is(err, chserver.ErrNoChDB)) {
			t.Skipf("%s: %v", e, err)
		}
		t.Fatalf("cannot start %s: %v", e, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
