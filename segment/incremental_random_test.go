package segment_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/remarket/remarket/internal/catalog"
	"github.com/remarket/remarket/internal/chtest"
	"github.com/remarket/remarket/internal/runcheck"
	"github.com/remarket/remarket/privacy"
	"github.com/remarket/remarket/segment"
)

// randomBatches makes the batches of one random history: each batch is
// what arrives between two runs, drawn from everything a shop sends
// (traffic of returning and new visitors, late and future-dated events,
// retries with the same or other content, bots, identifies that link a
// person's devices, opt-outs by browser and by a server-side call with
// only a user id, consent given back) plus the erasures asked for and
// the catalog's changes: prices, categories, products added and removed.
type randomBatches struct {
	r        *rand.Rand
	site     string   // the shop the batches are for: site when empty
	sent     []stored // every event sent so far, to retry one
	visitors []string
	users    []string
	next     int               // the next new visitor's number
	products []catalog.Product // the catalog (incrementalProducts, then as changed)
}

func (b *randomBatches) siteID() string {
	if b.site == "" {
		return site
	}
	return b.site
}

func (b *randomBatches) visitor() string {
	if b.r.IntN(5) == 0 || len(b.visitors) == 0 {
		v := fmt.Sprintf("w%03d", b.next)
		b.next++
		b.visitors = append(b.visitors, v)
		return v
	}
	return b.visitors[b.r.IntN(len(b.visitors))]
}

// batch is the events that arrive between from and to, and the subjects
// to erase and the whole catalog to import (nil when unchanged) before
// the run at to.
func (b *randomBatches) batch(from, to time.Time, n int) (events []stored, erase []privacy.Subject, products []catalog.Product) {
	r := b.r
	if b.products == nil {
		b.products = incrementalProducts()
	}
	add := func(at time.Time, e ev) {
		s := stored{id: uuid.New(), at: at.Truncate(time.Second), ev: e}
		events = append(events, s)
	}
	within := func() time.Time { return from.Add(time.Duration(r.Int64N(int64(to.Sub(from))))) }
	var pool []string
	for range 1 + r.IntN(6) {
		pool = append(pool, b.visitor())
	}
	for _, s := range traffic(r, pool, n, from, to) {
		if r.IntN(20) == 0 {
			s.bot = true
		}
		events = append(events, s)
	}
	changed := false
	for range r.IntN(4) {
		switch r.IntN(13) {
		case 0: // a late event, dated up to 50 days back
			at := to.Add(-time.Duration(r.Int64N(int64(50 * day))))
			add(at, ev{vid: b.visitor(), typ: []string{"product_view", "add_to_cart", "purchase"}[r.IntN(3)], pid: []string{"c1", "l2", "t1"}[r.IntN(3)], qty: uint32(1 + r.IntN(3))})
		case 1: // an event dated after the run, up to two days
			add(to.Add(time.Duration(r.Int64N(int64(2*day)))), ev{vid: b.visitor(), typ: "add_to_cart", pid: "l1", qty: 1})
		case 2: // a retry, as sent
			if len(b.sent) > 0 {
				events = append(events, b.sent[r.IntN(len(b.sent))])
			}
		case 3: // a retry with other content, order lines or not
			if len(b.sent) > 0 {
				s := b.sent[r.IntN(len(b.sent))]
				s.typ, s.pid, s.qty, s.category, s.items = "purchase", []string{"c3", "t2", "unknown-9"}[r.IntN(3)], uint32(1+r.IntN(10)), "", nil
				if s.pid == "unknown-9" {
					s.category = "Cameras > Film"
				}
				if r.IntN(2) == 0 {
					s.items = []string{s.pid, "l1"}
				}
				events = append(events, s)
			}
		case 4: // an identify: a user id for a browser, maybe a business
			u := fmt.Sprintf("u%d", r.IntN(4))
			b.users = append(b.users, u)
			traits := `{"email":"` + u + `@example.com"}`
			if r.IntN(2) == 0 {
				traits = `{"email":"` + u + `@example.com","company":"` + u + ` Ltd"}`
			}
			add(within(), ev{vid: b.visitor(), typ: "identify", uid: u, traits: traits})
		case 5: // a browser opts out
			add(within(), ev{vid: b.visitor(), typ: "page_view", optedOut: true})
		case 6: // a browser consents again
			add(within(), ev{vid: b.visitor(), typ: "page_view"})
		case 7: // a server-side opt-out or consent: a user id, no browser
			if len(b.users) > 0 {
				add(within(), ev{uid: b.users[r.IntN(len(b.users))], typ: "track", optedOut: r.IntN(3) != 0})
			}
		case 8: // a signed-in view: the user id rides on the event
			if len(b.users) > 0 {
				add(within(), ev{vid: b.visitor(), uid: b.users[r.IntN(len(b.users))], typ: "product_view", pid: "c2", qty: 1})
			}
		case 9: // a product the catalog lacks, maybe in a greater category than before
			add(within(), ev{vid: b.visitor(), typ: "product_view", pid: "unknown-9", category: []string{"Cameras > Film", "Cameras>Film>Instant"}[r.IntN(2)]})
		case 10: // an erasure
			if r.IntN(2) == 0 || len(b.users) == 0 {
				erase = append(erase, privacy.Subject{Site: b.siteID(), Kind: "visitor", ID: b.visitors[r.IntN(len(b.visitors))]})
			} else {
				erase = append(erase, privacy.Subject{Site: b.siteID(), Kind: "user", ID: b.users[r.IntN(len(b.users))]})
			}
		case 11: // a product's new price (the price bands may move) or category
			p := &b.products[r.IntN(len(b.products))]
			if r.IntN(3) == 0 {
				p.Category = []string{"Cameras > DSLR", "Cameras > Lenses", "Tripods", "Bags", "Cameras > Supports"}[r.IntN(5)]
			} else {
				p.Price = float64(20 + 10*r.IntN(100))
			}
			changed = true
		case 12: // a product leaves the catalog, or one joins it: one seen
			// before it did (unknown-9), one no one has seen, or one back
			if r.IntN(2) == 0 && len(b.products) > 3 {
				i := r.IntN(len(b.products))
				b.products = slices.Delete(b.products, i, i+1)
			} else {
				candidates := append(incrementalProducts(),
					product("unknown-9", "Film Nine", "Cameras > Film", 35), product("a0", "Strap Zero", "Cameras > Straps", 25))
				candidates = slices.DeleteFunc(candidates, func(c catalog.Product) bool {
					return slices.ContainsFunc(b.products, func(p catalog.Product) bool { return p.ID == c.ID })
				})
				if len(candidates) == 0 {
					continue
				}
				b.products = append(b.products, candidates[r.IntN(len(candidates))])
			}
			changed = true
		}
	}
	b.sent = append(b.sent, events...)
	if changed {
		products = slices.Clone(b.products)
	}
	return events, erase, products
}

// randomSeeds is which random histories a test tries: count from seed
// first. REMARKET_RANDOM_HISTORIES widens the search, and
// REMARKET_RANDOM_SEED=n starts it at n (a failure names its seed, which
// REMARKET_RANDOM_SEED alone replays).
func randomSeeds(t *testing.T, first uint64, count int) []uint64 {
	if s := os.Getenv("REMARKET_RANDOM_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("REMARKET_RANDOM_SEED=%q: %v", s, err)
		}
		first, count = n, 1
	}
	count = chtest.PositiveEnv(t, "REMARKET_RANDOM_HISTORIES", count)
	seeds := make([]uint64, count)
	for i := range seeds {
		seeds[i] = first + uint64(i)
	}
	return seeds
}

// On random histories, incremental runs chained on each other show users
// exactly what a full run on the same events shows, every few runs.
func TestIncrementalRunsEqualFullRunsOnRandomHistories(t *testing.T) {
	if underRace {
		// Its runs' concurrency is that of every incremental run, which
		// TestIncrementalRunEqualsFullRun runs under the detector.
		t.Skip("equality on random histories: run without -race")
	}
	for _, seed := range randomSeeds(t, 100, 2) {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			db := chtest.MustOpen(t)
			incrementalCatalog(t, db)
			cfg := incrementalConfig(t)
			e := incrementalEngine(t, db, cfg)
			b := &randomBatches{r: rand.New(rand.NewPCG(seed, 7))}

			at := now
			history, _, products := b.batch(at.Add(-60*day), at, 400)
			insertStored(t, db, history...)
			if products != nil {
				replaceCatalog(t, db, products...)
			}
			time.Sleep(time.Second) // insert times are seconds: the run must start after them
			incRun(t, e, at, false, segment.ModeFull)
			steps := []time.Duration{5 * time.Minute, 15 * time.Minute, 40 * time.Minute, 3 * time.Hour, 7 * time.Hour}
			for chain := range 2 {
				var last segment.RunResult
				for range 3 {
					next := at.Add(steps[b.r.IntN(len(steps))])
					events, erase, products := b.batch(at, next, b.r.IntN(40))
					if len(events) > 0 {
						insertStored(t, db, events...)
					}
					for _, s := range erase {
						forget(t, cfg, db, s)
					}
					if products != nil {
						t.Logf("%s: the catalog changes: %d products", next.Format(time.DateTime), len(products))
						replaceCatalog(t, db, products...)
					}
					at = next
					last = incRun(t, e, at, false, segment.ModeIncremental)
				}
				got := readRun(t, cfg, db, last, at)
				full := incRun(t, e, at, true, segment.ModeFull)
				want := readRun(t, cfg, db, full, at)
				t.Logf("chain %d: %d visitors recomputed by the last incremental run", chain, last.Affected)
				runcheck.Compare(t, got, want)
			}
		})
	}
}
