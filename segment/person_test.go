package segment_test

import (
	"slices"
	"testing"

	"github.com/remarket/remarket/internal/chtest"
	"github.com/remarket/remarket/segment"
)

// A user's devices are one person: what they bought on one device is
// never recommended on another. The user bought the 90D on their laptop
// (d1) and looks at the 250D on their phone (d2): the 90D, the 250D's
// only upsell, is for the newcomer, never for the phone, which still gets
// the 250D's cross-sell.
func TestBoughtOnAnotherDeviceIsNeverRecommended(t *testing.T) {
	db := chtest.MustOpen(t)
	shopCatalog(t, db)
	insertEvents(t, db,
		ev{vid: "laptop", uid: "u1", ago: 30 * day, typ: "purchase", pid: "cam90d"},
		ev{vid: "phone", uid: "u1", ago: day, typ: "product_view", pid: "cam250d"},
		ev{vid: "newcomer", ago: day, typ: "product_view", pid: "cam250d"},
	)
	run(t, newEngine(t, db, testConfig(t, segment.Templates()...)))
	list := func(vid string) []string {
		return strings1(t, db, "SELECT product_id FROM v_visitor_recommendations WHERE site = ? AND visitor_id = ? AND audience = 'viewed_not_bought' ORDER BY rank", site, vid)
	}
	if got := list("phone"); slices.Contains(got, "cam90d") || !slices.Contains(got, "lens50") {
		t.Errorf("phone's list = %v: want lens50 and never the 90D its user bought on the laptop", got)
	}
	if got := list("newcomer"); len(got) == 0 || got[0] != "cam90d" {
		t.Errorf("newcomer's list = %v, want the 90D first", got)
	}
}
