package segment_test

import (
	"context"
	"testing"
	"time"

	"github.com/remarket/remarket/internal/chtest"
)

// TestJoinsRecordEachPersonsFirstRun: a person joins an audience once, at
// the first run that finds them a member, whatever later runs say; a
// user's devices are one person.
func TestJoinsRecordEachPersonsFirstRun(t *testing.T) {
	db := chtest.MustOpen(t)
	shopCatalog(t, db)
	cfg := testConfig(t, viewers("viewers", nil))
	cfg.HoldoutKey = holdoutKey
	e := newEngine(t, db, cfg)
	t0 := now.Add(-10 * day)
	// Before t0: a, and user u on two devices. Between t0 and now: b.
	insertEvents(t, db,
		ev{vid: "a", ago: 11 * day, typ: "product_view", pid: "cam250d"},
		ev{vid: "phone", uid: "u", ago: 11 * day, typ: "product_view", pid: "cam250d"},
		ev{vid: "laptop", uid: "u", ago: 11 * day, typ: "product_view", pid: "cam90d"},
		ev{vid: "b", ago: 2 * day, typ: "product_view", pid: "cam250d"},
	)
	e.Now = func() time.Time { return t0 }
	run(t, e)
	e.Now = func() time.Time { return now }
	run(t, e)
	run(t, e)

	rows, err := db.Query(context.Background(), `SELECT person, visitor_id, grp, joined_at, count()
		FROM seg_member_joins WHERE site = ? AND audience = 'viewers'
		GROUP BY person, visitor_id, grp, joined_at ORDER BY person`, site)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	type join struct {
		visitor, grp string
		at           time.Time
		n            uint64
	}
	got := map[string]join{}
	for rows.Next() {
		var p string
		var j join
		if err := rows.Scan(&p, &j.visitor, &j.grp, &j.at, &j.n); err != nil {
			t.Fatal(err)
		}
		got[p] = j
	}
	want := map[string]join{
		"v:a": {"a", groupOf("viewers", "v:a"), t0, 1},
		"u:u": {"laptop", groupOf("viewers", "u:u"), t0, 1},
		"v:b": {"b", groupOf("viewers", "v:b"), now, 1},
	}
	if len(got) != len(want) {
		t.Fatalf("joins = %v, want %v", got, want)
	}
	for p, w := range want {
		if g := got[p]; g.visitor != w.visitor || g.grp != w.grp || !g.at.Equal(w.at) || g.n != 1 {
			t.Errorf("%s joined %+v, want %+v", p, g, w)
		}
	}
}
