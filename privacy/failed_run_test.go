package privacy_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/remarket/remarket/feeds"
	"github.com/remarket/remarket/internal/catalog"
	"github.com/remarket/remarket/internal/chdb"
	"github.com/remarket/remarket/internal/chtest"
	"github.com/remarket/remarket/internal/config"
	"github.com/remarket/remarket/internal/erasures"
	"github.com/remarket/remarket/privacy"
	"github.com/remarket/remarket/segment"
)

// The erased person's rows in the tables kept for ever that no later run
// re-applies erasures to must go: the member joins of a run that failed,
// and an offer redemption the run's sync recorded again, whether that run
// then switched or failed. The race, as in TestErasureDuringARunStaysErased:
// the run read the person's events (the sync, their purchase; it finds no
// redemption, the erasure having deleted it) and its inserts land after
// the erasure's mutations began, which change only the parts that existed
// then. The switch hook erases the person and then writes the person's
// rows once more, as inserts still on their way would.
func TestAnErasureDuringARunLeavesNothingInTheKeptTables(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fails bool
	}{{"the run switches", false}, {"the run fails", true}} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			db := chtest.MustOpen(t)
			cfg, api := offerShop(t, db)
			eraser := privacy.NewEraser(cfg, db, quiet)
			eng := segment.New(cfg, db, quiet)
			eng.SetRedemptions(api)
			failure := errors.New("a step after the joins and redemptions failed")
			person := map[string]string{
				"seg_member_joins":  "run_id = ? AND user_id = 'u-gone'",
				"offer_redemptions": "? != '' AND user_id = 'u-gone'",
			}
			eng.SetBeforeSwitch(func(ctx context.Context, site, runID string) error {
				for table, who := range person {
					// Memory, so the erasure does not see the copy.
					if err := db.Exec(ctx, "CREATE TABLE late_"+table+" AS "+table+" ENGINE = Memory"); err != nil {
						return err
					}
					if err := db.Exec(ctx, "INSERT INTO late_"+table+" SELECT * FROM "+table+" WHERE "+who, runID); err != nil {
						return err
					}
					if count(t, db, "late_"+table, "1") == 0 {
						return fmt.Errorf("the run wrote no %s row of the person: nothing to check", table)
					}
				}
				if _, err := eraser.Erase(ctx, privacy.Subject{Site: site, Kind: "user", ID: "u-gone"}, "test"); err != nil {
					return err
				}
				for table := range person {
					if err := db.Exec(ctx, "INSERT INTO "+table+" SELECT * FROM late_"+table); err != nil {
						return err
					}
					if err := db.Exec(ctx, "DROP TABLE late_"+table); err != nil {
						return err
					}
				}
				if tc.fails {
					return failure
				}
				return nil
			})
			if _, err := eng.Run(ctx, "shop", segment.RunOptions{}); tc.fails != errors.Is(err, failure) {
				t.Fatalf("run: %v", err)
			}
			erasures.Sweep(ctx, db, quiet)
			waitNone(t, db, "seg_member_joins", "site = 'shop' AND (visitor_id = 'v-gone' OR user_id = 'u-gone' OR person = 'u:u-gone')")
			waitNone(t, db, "offer_redemptions", "site = 'shop' AND (visitor_id = 'v-gone' OR user_id = 'u-gone')")
			if n := count(t, db, "offer_redemptions", "site = 'shop' AND user_id = 'u-stay'"); n != 1 {
				t.Errorf("the other customer has %d redemptions, want 1", n)
			}
			wantJoins := uint64(1)
			if tc.fails {
				wantJoins = 0 // a run no reader saw joined nobody
			}
			if n := count(t, db, "seg_member_joins", "site = 'shop' AND user_id = 'u-stay'"); n != wantJoins {
				t.Errorf("the other customer has %d member joins, want %d", n, wantJoins)
			}
		})
	}
}

// offerShop is a shop with an offer key and two customers who carted a
// product three days ago and have just bought another with an offer
// token from the feed.
func offerShop(t *testing.T, db *chdb.DB) (config.Config, *feeds.API) {
	t.Helper()
	ctx := context.Background()
	cfg := config.Default()
	cfg.ErasureKey = shopConfig.ErasureKey
	site := shopConfig.Sites[0]
	site.OfferKeys = []config.OfferKey{{ID: "k1", Secret: "offer-secret-0123456789abcdef0123456789"}}
	site.Audiences = segment.Templates()
	cfg.Sites = []config.Site{site}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	if _, err := catalog.NewStore(db, nil).Upsert(ctx, "shop", []catalog.Product{
		{ID: "amp", Title: "Amp", Category: "Audio", Price: 100, Currency: "USD", Availability: catalog.InStock, Condition: "new", Link: "https://shop.example/amp", ImageLink: "https://shop.example/amp.jpg"},
		{ID: "amp2", Title: "Amp II", Category: "Audio", Price: 150, Currency: "USD", Availability: catalog.InStock, Condition: "new", Link: "https://shop.example/amp2", ImageLink: "https://shop.example/amp2.jpg"},
	}, "test"); err != nil {
		t.Fatal(err)
	}
	token, ok := feeds.SignOffer(site.OfferKeys, feeds.Offer{Site: "shop", Audience: "cart_abandoners", Product: "amp",
		Percent: 10, ListPrice: "100.00", Currency: "USD", NotBefore: now.Add(-48 * time.Hour).Unix(), Expires: now.Add(48 * time.Hour).Unix()})
	if !ok {
		t.Fatal("no offer key")
	}
	props, _ := json.Marshal(map[string]string{cfg.Feeds.OfferParam: token})
	for _, who := range []string{"gone", "stay"} {
		vid, uid := "v-"+who, "u-"+who
		at := now.Add(-72 * time.Hour) // a cart abandoner: carted 1 to 7 days ago
		if err := db.InsertRow(ctx, "INSERT INTO events (site, event_id, event_time, received_at, type, visitor_id, user_id, product_id)",
			"shop", uuid.New(), at, at, "add_to_cart", vid, uid, "amp2"); err != nil {
			t.Fatal(err)
		}
		at = now.Add(-time.Hour)
		b, err := db.PrepareBatch(ctx, `INSERT INTO events (site, event_id, event_time, received_at, type, visitor_id, user_id,
			order_id, currency, items.product_id, items.sku, items.category, items.price, items.quantity, properties)`)
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Append("shop", uuid.New(), at, at, "purchase", vid, uid, "O-"+who, "USD",
			[]string{"amp"}, []string{""}, []string{"Audio"}, []float64{90}, []uint32{1}, string(props)); err != nil {
			t.Fatal(err)
		}
		if err := b.Send(); err != nil {
			t.Fatal(err)
		}
	}
	api := feeds.NewAPI(cfg, db, quiet)
	t.Cleanup(func() { api.Close() })
	return cfg, api
}

// waitNone waits up to a minute for table to hold no row matching where
// (mutations finish in the background).
func waitNone(t *testing.T, db *chdb.DB, table, where string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		n := count(t, db, table, where)
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s still has %d rows of the erased person (%s)", table, n, strings.TrimSpace(where))
		}
		time.Sleep(100 * time.Millisecond)
	}
}
