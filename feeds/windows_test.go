package feeds_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/remarket/remarket/feeds"
	"github.com/remarket/remarket/internal/config"
)

// googleByID fetches google.xml once run is current and indexes it.
func (s *server) googleByID(t *testing.T, run string) (map[string]googleItem, *httptest.ResponseRecorder) {
	t.Helper()
	path := "/feeds/shop/cart/google.xml?token=" + feedToken
	waitFor(t, func() bool { return s.get(path).Header().Get("X-Segment-Run") == run })
	rec := s.get(path)
	out := map[string]googleItem{}
	for _, it := range parseGoogle(t, rec.Body.Bytes()).Items {
		out[it.ID] = it
	}
	return out, rec
}

// nextRun publishes another run of the hard list finishing at finished.
func (s *server) nextRun(id string, finished time.Time) {
	s.fx.run("shop", id, finished, "cart", 3)
	s.fx.list("shop", id, "cart", hardList()...)
}

func offerExpiry(t *testing.T, cfg config.Config, it googleItem, at time.Time) time.Time {
	t.Helper()
	u, _ := url.Parse(it.Link)
	o, err := feeds.VerifyOffer(cfg.Site, u.Query().Get("rm_offer"), at)
	if err != nil {
		t.Fatalf("%s: offer token: %v", it.ID, err)
	}
	return time.Unix(o.Expires, 0).UTC()
}

// A product that stays in the audience keeps the window of the run that
// first listed it: later runs do not move the advertised deadline.
func TestOfferWindowDoesNotMoveWithLaterRuns(t *testing.T) {
	cfg := testConfig(t)
	s := newServer(t, cfg)
	s.seedHard()
	s.now = runFinished.Add(5 * time.Minute)
	first, _ := s.googleByID(t, "r1")

	s.nextRun("r2", runFinished.Add(15*time.Minute))
	s.now = runFinished.Add(20 * time.Minute)
	second, _ := s.googleByID(t, "r2")

	const wantDates = "2026-11-26T10:00+0000/2026-11-28T10:00+0000"
	for _, feed := range []map[string]googleItem{first, second} {
		amp := feed["amp"]
		if amp.SalePrice != "1111.05 USD" || amp.SaleDates != wantDates || amp.Label3 != "10% off until Sat 28 Nov" {
			t.Errorf("amp %q %q %q, want the first run's window", amp.SalePrice, amp.SaleDates, amp.Label3)
		}
		if exp := offerExpiry(t, cfg, amp, s.now); !exp.Equal(runFinished.Add(48 * time.Hour)) {
			t.Errorf("offer token expires %v", exp)
		}
	}
	for id, a := range first {
		if b := second[id]; a.SaleDates != b.SaleDates || a.Label3 != b.Label3 {
			t.Errorf("%s: %q %q became %q %q", id, a.SaleDates, a.Label3, b.SaleDates, b.Label3)
		}
	}
	// The Meta feed of the new run shows the same window.
	rows := parseMeta(t, s.get("/feeds/shop/cart/meta.csv?token="+feedToken).Body.Bytes())
	if rows[1]["id"] != "amp" || rows[1]["sale_price_effective_date"] != "2026-11-26T10:00+00:00/2026-11-28T10:00+00:00" {
		t.Errorf("meta amp %v", rows[1])
	}
}

// After a window ends the offer is over, whatever runs follow, until a
// cooldown as long as the offer has passed; the first run after it opens
// the next window.
func TestOfferEndsThenRecursAfterCooldown(t *testing.T) {
	s := newServer(t, testConfig(t))
	s.seedHard()
	_, rec := s.googleByID(t, "r1") // opens the windows
	etag := rec.Header().Get("ETag")

	end := runFinished.Add(48 * time.Hour) // amp: upsell, 10%, 48h
	for _, c := range []struct {
		run      string
		finished time.Time
		now      time.Time
		want     string // amp's sale_price_effective_date, "" for no offer
	}{
		{"r2", end.Add(-time.Hour), end.Add(time.Minute), ""},                                     // the clock passed the end: over
		{"r3", end.Add(15 * time.Minute), end.Add(20 * time.Minute), ""},                          // a newer run does not reopen it
		{"r4", end.Add(48*time.Hour - 15*time.Minute), end.Add(48*time.Hour + 5*time.Minute), ""}, // cooldown over, but the run is older
		{"r5", end.Add(48*time.Hour + 15*time.Minute), end.Add(48*time.Hour + 20*time.Minute), "2026-11-30T10:15+0000/2026-12-02T10:15+0000"},
		{"r6", end.Add(48*time.Hour + 30*time.Minute), end.Add(48*time.Hour + 35*time.Minute), "2026-11-30T10:15+0000/2026-12-02T10:15+0000"},
	} {
		s.nextRun(c.run, c.finished)
		s.now = c.now
		feed, rec := s.googleByID(t, c.run)
		amp := feed["amp"]
		u, _ := url.Parse(amp.Link)
		if amp.SaleDates != c.want || (amp.SalePrice != "") != (c.want != "") || (amp.Label3 != "") != (c.want != "") ||
			(u.Query().Get("rm_offer") != "") != (c.want != "") {
			t.Errorf("%s at %v: amp sale %q %q offer %q token %v, want dates %q", c.run, c.now, amp.SalePrice, amp.SaleDates,
				amp.Label3, u.Query().Get("rm_offer") != "", c.want)
		}
		if c.want != "" && amp.Label3 != "10% off until Wed 2 Dec" {
			t.Errorf("%s: offer text %q", c.run, amp.Label3)
		}
		if e := rec.Header().Get("ETag"); e == etag {
			t.Errorf("%s: ETag unchanged", c.run)
		}
		etag = rec.Header().Get("ETag")
	}
}

// Within one run the feed changes exactly when a stored window ends.
func TestOfferWindowEndChangesETagWithinRun(t *testing.T) {
	s := newServer(t, testConfig(t))
	s.seedHard()
	path := "/feeds/shop/cart/google.xml?token=" + feedToken
	etag := s.get(path).Header().Get("ETag")
	s.now = runFinished.Add(24*time.Hour - time.Minute) // before the reminder's 24h end
	if rec := s.get(path, "If-None-Match", etag); rec.Code != http.StatusNotModified {
		t.Fatalf("before any edge: %d", rec.Code)
	}
	s.now = runFinished.Add(24 * time.Hour)
	rec := s.get(path, "If-None-Match", etag)
	if rec.Code != 200 || rec.Header().Get("Last-Modified") != "Fri, 27 Nov 2026 10:00:00 GMT" {
		t.Fatalf("at the reminder's end: %d, Last-Modified %q", rec.Code, rec.Header().Get("Last-Modified"))
	}
	if strings.Contains(rec.Body.String(), "5.00 USD off") {
		t.Fatal("the ended reminder offer is still shown")
	}
}

// Two serve instances generating two formats of a new list at once show
// the same window, and the table holds one window for the product.
func TestConcurrentGenerationsAgreeOnWindow(t *testing.T) {
	cfg := testConfig(t)
	s := newServer(t, cfg)
	s.seedHard()
	other := feeds.NewAPI(cfg, s.db, slog.New(slog.NewTextHandler(io.Discard, nil)))
	other.Now = func() time.Time { return s.now }
	t.Cleanup(other.Close)
	e := gin.New()
	other.Register(e)

	var wg sync.WaitGroup
	var google, meta *httptest.ResponseRecorder
	start := make(chan struct{})
	wg.Go(func() { <-start; google = s.get("/feeds/shop/cart/google.xml?token=" + feedToken) })
	wg.Go(func() {
		<-start
		req := httptest.NewRequest(http.MethodGet, "/feeds/shop/cart/meta.csv?token="+feedToken, nil)
		meta = httptest.NewRecorder()
		e.ServeHTTP(meta, req)
	})
	close(start)
	wg.Wait()
	var amp googleItem
	for _, it := range parseGoogle(t, google.Body.Bytes()).Items {
		if it.ID == "amp" {
			amp = it
		}
	}
	rows := parseMeta(t, meta.Body.Bytes())
	metaDates := strings.ReplaceAll(rows[1]["sale_price_effective_date"], "+00:00", "+0000")
	if amp.SaleDates == "" || amp.SaleDates != metaDates || amp.Label3 != rows[1]["custom_label_3"] {
		t.Fatalf("google %q %q, meta %q %q", amp.SaleDates, amp.Label3, metaDates, rows[1]["custom_label_3"])
	}
	var windows uint64
	if err := s.db.QueryRow(context.Background(), `SELECT uniqExact(seq, window_start) FROM feed_offer_windows
		WHERE site = 'shop' AND audience = 'cart' AND product_id = 'amp'`).Scan(&windows); err != nil || windows != 1 {
		t.Fatalf("amp has %d distinct windows stored (%v), want 1", windows, err)
	}
}

// Generations of different runs racing to open a product's window (a
// run switch seen by one instance before the other) settle on the
// earliest start, and a reader sees that one whatever the insert order.
func TestRacingWindowsEarliestStartWins(t *testing.T) {
	cfg := testConfig(t)
	s := newServer(t, cfg)
	s.seedHard()
	s.nextRun("r2", runFinished.Add(15*time.Minute))
	site, _ := cfg.Site("shop")
	ctx := context.Background()
	now := runFinished.Add(20 * time.Minute)

	var wg sync.WaitGroup
	got := make([]map[string]feeds.Window, 2)
	errs := make([]error, 2)
	for i, r := range []struct {
		id string
		at time.Time
	}{{"r2", runFinished.Add(15 * time.Minute)}, {"r1", runFinished}} {
		wg.Go(func() {
			got[i], errs[i] = feeds.ResolveWindows(ctx, s.db, "shop", "cart", r.id, r.at, site.Discounts, now)
		})
	}
	wg.Wait()
	if errs[0] != nil || errs[1] != nil {
		t.Fatal(errs)
	}
	// Either r1 read r2's window before storing its own (then both show
	// r2's), or both stored one and the earlier start wins. Either way the
	// stored winner is what r1 showed, and never later than what r2 showed.
	again, err := feeds.ResolveWindows(ctx, s.db, "shop", "cart", "r2", runFinished.Add(15*time.Minute), site.Discounts, now)
	sameAsR1 := again["amp"].Start.Equal(got[1]["amp"].Start) && again["amp"].End.Equal(got[1]["amp"].End)
	if err != nil || !sameAsR1 || again["amp"].Start.After(got[0]["amp"].Start) {
		t.Fatalf("after the race: %v (%v); the generations showed r2 %v, r1 %v", again["amp"], err, got[0]["amp"], got[1]["amp"])
	}
	if s := again["amp"].Start; !s.Equal(runFinished) && !s.Equal(runFinished.Add(15*time.Minute)) {
		t.Fatalf("window starts at %v, neither run's finish", s)
	}

	// A later window of kwd stored twice, the later start first: the
	// earliest start still wins.
	key := feeds.RuleKey(site.Discounts[0])
	late, early := runFinished.Add(30*time.Minute), runFinished.Add(25*time.Minute)
	for _, st := range []time.Time{late, early} {
		if err := s.db.InsertRow(ctx, `INSERT INTO feed_offer_windows (site, audience, product_id, rule_key, seq,
			window_start, window_end, created_at)`, "shop", "cart", "kwd", key, uint32(7), st, st.Add(48*time.Hour), st); err != nil {
			t.Fatal(err)
		}
	}
	again, err = feeds.ResolveWindows(ctx, s.db, "shop", "cart", "r2", runFinished.Add(15*time.Minute), site.Discounts, now)
	if err != nil || !again["kwd"].Start.Equal(early) {
		t.Fatalf("kwd window %v %v, want the start %v", again["kwd"], err, early)
	}
}
