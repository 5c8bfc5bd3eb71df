package chdb

import "testing"

func TestLocksInOtherThreads(t *testing.T) {
	for q, want := range map[string]bool{
		"SELECT count() FROM seg_members WHERE site = ?":                                    false,
		"INSERT INTO seg_baskets SELECT site, run_id FROM seg_visitors WHERE site = @site":  false,
		"ALTER TABLE events DELETE WHERE visitor_id = ?":                                    false,
		"SELECT count() FROM system.processes WHERE query_id = ?":                           false,
		"SELECT x FROM a WHERE x IN (SELECT x FROM b)":                                      true,
		"select x from a where x global not in (select x from b)":                           true,
		"SELECT a.x FROM a ANY LEFT JOIN b USING x":                                         true,
		"SELECT x FROM a ARRAY JOIN arr AS x":                                               true, // costs a wait only
		"SELECT site, run_id FROM v_current_runs WHERE site = ?":                            true,
		"SELECT * FROM V_AUDIENCE_SIZES":                                                    true,
		"SELECT inv_total FROM a":                                                           false,
		"INSERT INTO seg_member_joins (site) SELECT @site FROM seg_members WHERE site = ''": true, // "JOIN" in a name
	} {
		if got := locksInOtherThreads(q); got != want {
			t.Errorf("%q: %v, want %v", q, got, want)
		}
	}
}
