package segment

import (
	"maps"
	"slices"
	"testing"
)

// The months a run records read back as they were, and decide as the next
// run must: a month gone from its shard, or there with only parts made
// since (its lowest block above the recorded highest), is gone (and
// dropped if retention recorded so).
func TestMonthsRecordedDecideTheNextRun(t *testing.T) {
	listed := partitions{{0, "202402"}: {min: 3, max: 9}, {0, "202403"}: {min: 10, max: 12}, {1, "202402"}: {min: 1, max: 4}}
	m := listed.of([]string{"202402", "202405"}) // 202405: found after the listing
	rec := m.record()
	if want := []string{"202402/0:9", "202402/1:4", "202405"}; !slices.Equal(rec, want) {
		t.Fatalf("recorded %q, want %q", rec, want)
	}
	back, err := parseMonths(append(rec, "202312")) // as recorded before block numbers
	if err != nil {
		t.Fatal(err)
	}
	now := partitions{{0, "202312"}: {1, 1}, {0, "202402"}: {min: 3, max: 30}, {1, "202402"}: {min: 4, max: 8}, {1, "202405"}: {min: 1, max: 1}}
	if changed := back.changedIn(now); len(changed) > 0 {
		t.Errorf("after inserts into recorded months: %s taken for gone", changed)
	}
	for _, c := range []struct {
		name   string
		change func(partitions)
		want   string
	}{
		{"gone from a shard", func(p partitions) { delete(p, shardMonth{1, "202402"}) }, "202402"},
		{"made again", func(p partitions) { p[shardMonth{0, "202402"}] = blocks{min: 31, max: 31} }, "202402"},
		{"found after the listing, gone", func(p partitions) { delete(p, shardMonth{1, "202405"}) }, "202405"},
		{"recorded without blocks, gone", func(p partitions) { delete(p, shardMonth{0, "202312"}) }, "202312"},
	} {
		p := maps.Clone(now)
		c.change(p)
		if got := back.changedIn(p); !slices.Equal(got, []string{c.want}) {
			t.Errorf("%s: gone %q, want %s", c.name, got, c.want)
		}
	}
	for _, bad := range []string{"202402/x:9", "202402/0:", "202402:9x"} {
		if _, err := parseMonths([]string{bad}); err == nil {
			t.Errorf("parseMonths(%q) took it", bad)
		}
	}
}
