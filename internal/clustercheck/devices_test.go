package clustercheck

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/remarket/remarket/internal/catalog"
	"github.com/remarket/remarket/segment"
)

// A user's devices are one person on a cluster too, though visitors are
// sharded: the user bought the 90D on their laptop and views the 250D on
// their phone, whose visitor ids land on different shards (the
// Distributed tables shard by vh modulo 2). The phone is never offered
// the 90D, the 250D's only upsell, which a newcomer gets first.
func TestAPersonsDevicesOnTwoShardsAreOnePerson(t *testing.T) {
	migrated(t)
	ctx := context.Background()
	db := openCluster(t, cluster.DSN(database, cluster.Node(1, 2), cluster.Node(2, 2)))
	const site = "devices"
	var laptop, phone uint8
	if err := db.QueryRow(ctx, "SELECT cityHash64('laptop-1') % 2, cityHash64('phone-1') % 2").Scan(&laptop, &phone); err != nil {
		t.Fatal(err)
	}
	if laptop == phone {
		t.Fatalf("laptop-1 and phone-1 are both on shard slot %d: pick other ids", laptop)
	}
	product := func(id, title, category string, price float64) catalog.Product {
		return catalog.Product{ID: id, Title: title, Category: category, Price: price, Currency: "USD",
			Availability: catalog.InStock, Condition: "new", Link: "https://shop.example/p/" + id}
	}
	if _, err := catalog.NewStore(db, nil).Upsert(ctx, site, []catalog.Product{
		product("cam250d", "Canon EOS 250D", "Cameras > DSLR", 500),
		product("cam90d", "Canon EOS 90D", "Cameras > DSLR", 700),
		product("lens50", "Canon EF 50mm f/1.8", "Cameras > Lenses", 250),
	}, "test"); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2024, 5, 20, 12, 0, 0, 0, time.UTC)
	err := db.Exec(ctx, `INSERT INTO events (site, event_id, event_time, received_at, type, visitor_id, user_id, product_id)
		SELECT @site, generateUUIDv4(), toDateTime(@now) - e.1, toDateTime(@now) - e.1, e.2, e.3, e.4, e.5
		FROM (SELECT arrayJoin([(30 * 86400, 'purchase', 'laptop-1', 'u1', 'cam90d'),
			(86400, 'product_view', 'phone-1', 'u1', 'cam250d'),
			(86400, 'product_view', 'newcomer', '', 'cam250d')]) AS e)`,
		named("site", site), named("now", now.Unix()))
	if err != nil {
		t.Fatal(err)
	}
	cfg := oneSite(site, len(segment.Templates()))
	e := quietEngine(cfg, db)
	e.Now = func() time.Time { return now }
	time.Sleep(time.Second) // insert times are seconds: the run must start after them
	if _, err := e.Run(ctx, site, segment.RunOptions{}); err != nil {
		t.Fatal(err)
	}
	list := func(vid string) []string {
		t.Helper()
		rows, err := db.Query(ctx, "SELECT product_id FROM v_visitor_recommendations WHERE site = ? AND visitor_id = ? AND audience = 'viewed_not_bought' ORDER BY rank", site, vid)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var p string
			if err := rows.Scan(&p); err != nil {
				t.Fatal(err)
			}
			out = append(out, p)
		}
		return out
	}
	if got := list("phone-1"); slices.Contains(got, "cam90d") || !slices.Contains(got, "lens50") {
		t.Errorf("phone's list = %v: want lens50 and never the 90D its user bought on the laptop", got)
	}
	if got := list("newcomer"); len(got) == 0 || got[0] != "cam90d" {
		t.Errorf("newcomer's list = %v, want the 90D first", got)
	}
}
