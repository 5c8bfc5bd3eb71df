package feeds_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/remarket/remarket/feeds"
	"github.com/remarket/remarket/internal/chdb"
	"github.com/remarket/remarket/internal/chtest"
	"github.com/remarket/remarket/internal/config"
)

const (
	feedToken  = "feed-token-0123456789"
	adminToken = "admin-token-0123456789"
	otherFeed  = "other-feed-token-0123456789"
)

// testConfig has site "shop" (discounts, two offer keys, Berlin time) and
// site "other" with its own tokens.
func testConfig(t testing.TB) config.Config {
	t.Helper()
	raw := `
public_url: https://rm.example
feeds: {cache_dir: ` + t.TempDir() + `}
sites:
  - id: shop
    write_key: wk_shop
    admin_token: ` + adminToken + `
    feed_token: ` + feedToken + `
    max_discount_percent: 25
    time_zone: Europe/Berlin
    discounts:
      - {strategy: upsell, percent: 10, duration: 48h}
      - {motivation: overstock, percent: 20, duration: 72h}
      - {audience: cart, strategy: reminder, amount: 15, duration: 24h}
      - {strategy: cross_sell, amount: 5, bundle_percent: 15, duration: 168h}
    offer_keys:
      - {id: k2, secret: new-secret-0123456789abcdef0123456789}
      - {id: k1, secret: old-secret-0123456789abcdef0123456789}
  - id: other
    write_key: wk_other
    admin_token: other-admin-0123456789
    feed_token: ` + otherFeed + `
`
	cfg, err := config.Parse([]byte(raw), nil)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// server is the feeds API over a fresh database with the contract views
// replaced by fixture tables.
type server struct {
	t   testing.TB
	db  *chdb.DB
	fx  *fixture
	api *feeds.API
	h   http.Handler
	now time.Time
}

func newServer(t testing.TB, cfg config.Config) *server {
	t.Helper()
	db := chtest.MustOpen(t)
	s := &server{t: t, db: db, fx: newFixture(t, db)}
	s.api = feeds.NewAPI(cfg, db, slog.New(slog.NewTextHandler(io.Discard, nil)))
	s.api.Now = func() time.Time { return s.now }
	t.Cleanup(s.api.Close)
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	s.api.Register(e)
	s.h = e
	return s
}

// get performs a request; hdr are header name/value pairs.
func (s *server) get(path string, hdr ...string) *httptest.ResponseRecorder {
	s.t.Helper()
	return s.do(http.MethodGet, path, nil, hdr...)
}

func (s *server) do(method, path string, body io.Reader, hdr ...string) *httptest.ResponseRecorder {
	s.t.Helper()
	req := httptest.NewRequest(method, path, body)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	s.h.ServeHTTP(rec, req)
	return rec
}

// newServerOn is a second serve instance over the database of s, with its
// own caches and the same clock reading.
func newServerOn(t testing.TB, cfg config.Config, s *server) *server {
	t.Helper()
	cfg.Feeds.CacheDir = t.TempDir()
	s2 := &server{t: t, db: s.db, fx: s.fx, now: s.now}
	s2.api = feeds.NewAPI(cfg, s.db, slog.New(slog.NewTextHandler(io.Discard, nil)))
	s2.api.Now = func() time.Time { return s2.now }
	t.Cleanup(s2.api.Close)
	e := gin.New()
	s2.api.Register(e)
	s2.h = e
	return s2
}
