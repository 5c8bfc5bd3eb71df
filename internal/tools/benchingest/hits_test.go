package main

import (
	"math/rand/v2"
	"net/url"
	"strings"
	"testing"

	"github.com/google/uuid"
)

// Every hit must be a distinct event with a valid UUID v4 id, or the
// lost/doubled check of the count run would be meaningless.
func TestHitIDsAreUniqueUUIDs(t *testing.T) {
	h := newHitSource("wk_test")
	rng := rand.New(rand.NewPCG(1, 2))
	seen := make(map[string]bool, 200_000)
	for i := 0; i < 200_000; i++ {
		path := h.next(rng)
		q, err := url.ParseQuery(strings.TrimPrefix(path, "/p.gif?"))
		if err != nil {
			t.Fatalf("bad query %q: %v", path, err)
		}
		id, err := uuid.Parse(q.Get("eid"))
		if err != nil || id.Version() != 4 || id.Variant() != uuid.RFC4122 {
			t.Fatalf("eid %q: not a v4 UUID (%v)", q.Get("eid"), err)
		}
		if seen[q.Get("eid")] {
			t.Fatalf("eid %q repeated after %d hits", q.Get("eid"), i)
		}
		seen[q.Get("eid")] = true
		if q.Get("k") != "wk_test" || q.Get("e") == "" || q.Get("vid") == "" || q.Get("ts") == "" {
			t.Fatalf("hit lacks k, e, vid or ts: %q", path)
		}
	}
}

func TestMix62IsABijectionOnASample(t *testing.T) {
	seen := map[uint64]bool{}
	for _, base := range []uint64{0, 1 << 40, 1<<62 - 70_000} {
		for i := uint64(0); i < 50_000; i++ {
			v := mix62(base + i)
			if v >= 1<<62 || seen[v] {
				t.Fatalf("mix62(%d) = %d: out of range or repeated", base+i, v)
			}
			seen[v] = true
		}
	}
}
