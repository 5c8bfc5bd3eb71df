package privacy_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/remarket/remarket/feeds"
	"github.com/remarket/remarket/internal/catalog"
	"github.com/remarket/remarket/internal/chtest"
	"github.com/remarket/remarket/internal/config"
	"github.com/remarket/remarket/privacy"
	"github.com/remarket/remarket/segment"
)

// A person erased while a segment run is in flight must not come back
// when the run switches: not in its members, profiles, interests,
// recommendations, nor in the member export.
//
// The race the test pins: the run has read the person's events and its
// inserts land after the erasure's mutations began (mutations change
// only the parts that exist when they start). The run's last rows are
// written just before the switch hook, so the hook erases the person and
// then writes the person's rows of the run once more, as an insert that
// was still on its way would.
func TestErasureDuringARunStaysErased(t *testing.T) {
	ctx := context.Background()
	db := chtest.MustOpen(t)
	cfg := config.Default()
	cfg.ErasureKey = shopConfig.ErasureKey
	cfg.Sites = []config.Site{shopConfig.Sites[0]}
	cfg.Sites[0].Audiences = segment.Templates()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	if _, err := catalog.NewStore(db, nil).Upsert(ctx, "shop", []catalog.Product{
		{ID: "cam250d", Title: "Canon EOS 250D", Category: "Cameras > DSLR", Price: 500, Currency: "USD", Availability: catalog.InStock, Condition: "new", Link: "https://shop.example/250d", ImageLink: "https://shop.example/250d.jpg"},
		{ID: "cam90d", Title: "Canon EOS 90D", Category: "Cameras > DSLR", Price: 700, Currency: "USD", Availability: catalog.InStock, Condition: "new", Link: "https://shop.example/90d", ImageLink: "https://shop.example/90d.jpg"},
	}, "test"); err != nil {
		t.Fatal(err)
	}
	for _, vid := range []string{"v-gone", "v-stay"} {
		uid := strings.Replace(vid, "v-", "u-", 1)
		for _, e := range []struct {
			typ, pid string
			ago      time.Duration
		}{{"product_view", "cam90d", 80 * time.Hour}, {"add_to_cart", "cam250d", 72 * time.Hour}} {
			at := now.Add(-e.ago)
			if err := db.InsertRow(ctx, "INSERT INTO events (site, event_id, event_time, received_at, type, visitor_id, user_id, product_id)",
				"shop", uuid.New(), at, at, e.typ, vid, uid, e.pid); err != nil {
				t.Fatal(err)
			}
		}
		at := now.Add(-70 * time.Hour)
		if err := db.InsertRow(ctx, "INSERT INTO events (site, event_id, event_time, received_at, type, visitor_id, user_id, traits)",
			"shop", uuid.New(), at, at, "identify", vid, uid, `{"email":"`+uid+`@example.com"}`); err != nil {
			t.Fatal(err)
		}
	}

	// The snapshot tables holding people, and how each names them.
	person := map[string]string{
		"seg_members":         "visitor_id = 'v-gone' OR user_id = 'u-gone'",
		"seg_profiles":        "visitor_id = 'v-gone' OR user_id = 'u-gone'",
		"seg_interests":       "vh = cityHash64('v-gone')",
		"seg_recommendations": "visitor_id = 'v-gone' OR vh = cityHash64('v-gone')",
		"seg_member_joins":    "visitor_id = 'v-gone' OR user_id = 'u-gone'",
	}
	eraser := privacy.NewEraser(cfg, db, quiet)
	eng := segment.New(cfg, db, quiet)
	var erased privacy.Result
	eng.SetBeforeSwitch(func(ctx context.Context, site, runID string) error {
		late := map[string]uint64{}
		for table, who := range person {
			// Memory, so the erasure does not see the copy.
			if err := db.Exec(ctx, fmt.Sprintf("CREATE TABLE late_%s AS %s ENGINE = Memory", table, table)); err != nil {
				return err
			}
			if err := db.Exec(ctx, fmt.Sprintf("INSERT INTO late_%s SELECT * FROM %s WHERE run_id = ? AND (%s)", table, table, who), runID); err != nil {
				return err
			}
			late[table] = count(t, db, "late_"+table, "1")
		}
		if late["seg_members"] == 0 || late["seg_profiles"] == 0 || late["seg_interests"] == 0 || late["seg_recommendations"] == 0 || late["seg_member_joins"] == 0 {
			return fmt.Errorf("the run has no rows of the person to lose: %v", late)
		}
		var err error
		if erased, err = eraser.Erase(ctx, privacy.Subject{Site: site, Kind: "user", ID: "u-gone"}, "test"); err != nil {
			return err
		}
		for table := range person {
			if err := db.Exec(ctx, fmt.Sprintf("INSERT INTO %s SELECT * FROM late_%s", table, table)); err != nil {
				return err
			}
			if err := db.Exec(ctx, "DROP TABLE late_"+table); err != nil {
				return err
			}
		}
		return nil
	})
	res, err := eng.Run(ctx, "shop", segment.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if erased.Status != "done" || erased.Visitors != 1 {
		t.Fatalf("erasure %+v", erased)
	}

	views := map[string]string{
		"v_audience_members":        "visitor_id = 'v-gone' OR user_id = 'u-gone'",
		"v_visitor_profiles":        "visitor_id = 'v-gone' OR user_id = 'u-gone'",
		"v_visitor_interests":       "visitor_id = 'v-gone'",
		"v_visitor_recommendations": "visitor_id = 'v-gone'",
	}
	for view, who := range views {
		if n := count(t, db, view, "site = 'shop' AND ("+who+")"); n != 0 {
			t.Errorf("%s of the new run has %d rows of the erased person", view, n)
		}
		if n := count(t, db, view, "site = 'shop' AND visitor_id = 'v-stay'"); n == 0 {
			t.Errorf("%s lost the other visitor: nothing was checked", view)
		}
	}
	// When the person joined is kept for ever: it goes too.
	if n := count(t, db, "seg_member_joins", "site = 'shop' AND (visitor_id = 'v-gone' OR user_id = 'u-gone')"); n != 0 {
		t.Errorf("seg_member_joins has %d rows of the erased person", n)
	}
	if got := res.Sizes["cart_abandoners"]; got != 1 {
		t.Errorf("cart_abandoners size %d, want 1 (the erased member not counted)", got)
	}

	// The member export, as an ad platform upload script reads it.
	gin.SetMode(gin.TestMode)
	r := gin.New()
	api := feeds.NewAPI(cfg, db, quiet)
	defer api.Close()
	api.Register(r)
	req := httptest.NewRequest(http.MethodGet, "/api/sites/shop/audiences/cart_abandoners/members", nil)
	req.Header.Set("Authorization", "Bearer "+cfg.Sites[0].AdminToken)
	w := httptest.NewRecorder()
	r.ServeHTTP(w, req)
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "v-stay") {
		t.Fatalf("member export: %d %s", w.Code, w.Body)
	}
	for _, leak := range []string{"v-gone", "u-gone", sha("u-gone@example.com")} {
		if strings.Contains(w.Body.String(), leak) {
			t.Errorf("member export has %s:\n%s", leak, w.Body)
		}
	}
	if n := count(t, db, "erasure_subjects", "1"); n != 0 {
		t.Errorf("erasure_subjects keeps %d rows after the run that needed them ended", n)
	}
}

func sha(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}
