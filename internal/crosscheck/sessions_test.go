package crosscheck

import (
	"context"
	"testing"
	"time"

	"github.com/remarket/remarket/internal/chserver"
	"github.com/remarket/remarket/internal/chtest"
	"github.com/remarket/remarket/internal/config"
	"github.com/remarket/remarket/internal/runcheck"
	"github.com/remarket/remarket/segment"
	rmsql "github.com/remarket/remarket/sql"
)

// On real sessions (runcheck.Sessions: the YooChoose development split,
// 69,800 clicks of 17,700 sessions on 2,900 items, with carts and orders
// added), both ClickHouses show users the same thing: every view row,
// every feed item, both evaluations. Real data has what the demo lacks:
// thousands of products, long tails and many ties among rare pairs, so
// the orders and tie-breaks of related products and recommendations are
// exercised at scale.
func TestRealSessionsGiveTheSameResultsOnBothClickHouses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two ClickHouse engines")
	}
	const shop = "yoochoose"
	now := time.Date(2024, 5, 20, 12, 0, 0, 0, time.UTC)
	products, events := runcheck.Sessions(t, now, "train.tsv", "valid.tsv")
	cfg := config.Default()
	cfg.Sites = []config.Site{{ID: shop, WriteKey: "wk_yoochoose", AdminToken: "admin-token-0123456789", FeedToken: "feed-token-0123456789"}}
	cfg.Sites[0].Audiences = segment.Templates()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}

	var results []runcheck.Snapshot
	for _, e := range []chserver.Engine{chserver.EngineServer, chserver.EngineChDB} {
		s := startEngine(t, e)
		db := chtest.Open(t, s.DSN("sessions"))
		if _, err := rmsql.Migrate(context.Background(), db); err != nil {
			t.Fatal(err)
		}
		runcheck.ReplaceCatalog(t, db, shop, products...)
		runcheck.InsertSessionEvents(t, db, shop, events)
		results = append(results, runcheck.ComputeRun(t, cfg, db, "ClickHouse "+db.Version.String(), shop, now))
	}
	for _, name := range []string{"v_audience_members", "v_visitor_recommendations", "v_related_products", "v_audience_products"} {
		if len(results[0].Tables[name]) == 0 {
			t.Errorf("%s is empty: nothing to compare", name)
		}
	}
	if results[0].NextItem.Pairs == 0 {
		t.Error("the next-item evaluation replayed no next items")
	}
	runcheck.Compare(t, results[0], results[1])
}
