package segment_test

import (
	"slices"
	"testing"
	"time"

	"github.com/remarket/remarket/internal/chtest"
	"github.com/remarket/remarket/segment"
)

// Opt-out follows the person, not the browser: GPC or consent=false on
// one device, or a server-side call with only the user id, keeps every
// visitor id seen with that user id out of audiences and exports. A
// browser that consents again after opting out opts its person back in.
func TestOptOutFollowsTheUserAcrossDevices(t *testing.T) {
	db := chtest.MustOpen(t)
	shopCatalog(t, db)
	cart := func(vid, uid string) ev {
		return ev{vid: vid, uid: uid, ago: 3 * day, typ: "add_to_cart", pid: "cam250d"}
	}
	insertEvents(t, db,
		// Ann carts on her phone; her laptop sends GPC, signed in.
		cart("ann-phone", "ann"),
		ev{vid: "ann-laptop", uid: "ann", ago: 2 * day, typ: "page_view", optedOut: true},
		// Bob's laptop refused consent, then he signed in there; his
		// phone, where he is signed in too, carts.
		cart("bob-phone", "bob"),
		ev{vid: "bob-laptop", ago: 2 * day, typ: "page_view", optedOut: true},
		ev{vid: "bob-laptop", uid: "bob", ago: 2*day - time.Hour, typ: "identify", optedOut: true},
		// Cid's backend reports the refusal with only his user id.
		cart("cid-phone", "cid"),
		ev{uid: "cid", ago: 2 * day, typ: "custom", optedOut: true},
		// Dee opted out on her laptop and later consented there again.
		cart("dee-phone", "dee"),
		ev{vid: "dee-laptop", uid: "dee", ago: 2 * day, typ: "page_view", optedOut: true},
		ev{vid: "dee-laptop", uid: "dee", ago: day, typ: "page_view"},
		// Eve's backend refused, then consented, with only her user id.
		cart("eve-phone", "eve"),
		ev{uid: "eve", ago: 2 * day, typ: "custom", optedOut: true},
		ev{uid: "eve", ago: day, typ: "custom"},
		// Fay never opted out anywhere.
		cart("fay-phone", "fay"),
		ev{vid: "fay-laptop", uid: "fay", ago: 2 * day, typ: "page_view"},
	)
	run(t, newEngine(t, db, testConfig(t, segment.Templates()...)))
	got := members(t, db, "cart_abandoners")
	if want := []string{"dee-phone", "eve-phone", "fay-phone"}; !slices.Equal(got, want) {
		t.Errorf("cart_abandoners = %v, want %v", got, want)
	}
	opted := strings1(t, db, "SELECT visitor_id FROM v_visitor_profiles WHERE site = ? AND opted_out = 1 ORDER BY visitor_id", site)
	if want := []string{"ann-laptop", "ann-phone", "bob-laptop", "bob-phone", "cid-phone"}; !slices.Equal(opted, want) {
		t.Errorf("opted-out profiles = %v, want %v", opted, want)
	}
}
