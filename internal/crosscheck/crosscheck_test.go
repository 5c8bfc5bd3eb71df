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
// JSON).
package crosscheck

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"math"
	"os"
	"testing"
	"time"

	"github.com/remarket/remarket/internal/chdb"
	"github.com/remarket/remarket/internal/chserver"
	"github.com/remarket/remarket/internal/config"
	"github.com/remarket/remarket/internal/runcheck"
	"github.com/remarket/remarket/segment"
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
	oldDB := open(t, old.DSN("demo_old"))
	curDB := open(t, cur.DSN("same"))
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
	nextItems := make([]segment.NextItemResult, 2)
	for i, db := range []*chdb.DB{oldDB, curDB} {
		results[i] = runcheck.Compute(t, cfg, db, "ClickHouse "+db.Version.String(), site, now)
		// remarket eval --next-item on the demo's last day.
		eng := segment.New(cfg, db, slog.New(slog.NewTextHandler(io.Discard, nil)))
		eng.Now = func() time.Time { return now }
		if nextItems[i], err = eng.EvaluateNextItem(ctx, site, segment.NextItemOptions{}); err != nil {
			t.Fatalf("next-item eval on ClickHouse %s: %v", db.Version, err)
		}
		if nextItems[i].Pairs == 0 {
			t.Errorf("ClickHouse %s: the next-item eval replayed no next items", db.Version)
		}
		nextItems[i].Took = 0
	}
	runcheck.Compare(t, results[0], results[1])
	if !sameNextItem(nextItems[0], nextItems[1]) {
		t.Errorf("next-item eval differs:\n  %s: %+v\n  %s: %+v", oldDB.Version, nextItems[0], curDB.Version, nextItems[1])
	}
}

// sameNextItem compares counts exactly and rates to 1e-9 (MRR sums
// 1/rank in the server's order).
func sameNextItem(a, b segment.NextItemResult) bool {
	near := func(x, y float64) bool { return math.Abs(x-y) <= 1e-9*math.Max(1, math.Abs(x)) }
	same := func(x, y segment.NextItemMethod) bool {
		return near(x.All.HitRate, y.All.HitRate) && near(x.All.MRR, y.All.MRR) &&
			near(x.Allowed.HitRate, y.Allowed.HitRate) && near(x.Allowed.MRR, y.Allowed.MRR)
	}
	return a.Sessions == b.Sessions && a.Pairs == b.Pairs && a.AllowedPairs == b.AllowedPairs &&
		a.Viewed == b.Viewed && a.Covered == b.Covered && a.InStock == b.InStock && a.Listed == b.Listed &&
		same(a.Remarket, b.Remarket) && same(a.ItemKNN, b.ItemKNN) && same(a.MostPopular, b.MostPopular)
}

func open(t *testing.T, dsn string) *chdb.DB {
	t.Helper()
	db, err := chdb.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
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
