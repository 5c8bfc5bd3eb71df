package ingest

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/remarket/remarket/internal/chdb"
	"github.com/remarket/remarket/internal/chtest"
	"github.com/remarket/remarket/internal/config"
)

func TestMain(m *testing.M) { chtest.Main(m) }

// collectEnv is a real Service (temp spool, fresh ClickHouse database)
// behind an httptest server.
type collectEnv struct {
	svc *Service
	srv *httptest.Server
	db  *chdb.DB
}

// testSites: "demo" accepts browsers only from https://shop.example;
// "open" accepts any origin.
func testConfig(t *testing.T) config.Config {
	cfg := config.Default()
	cfg.SpoolDir = t.TempDir()
	cfg.Spool.FlushInterval = 50 * time.Millisecond
	cfg.Sites = []config.Site{
		{ID: "demo", WriteKey: "wk_demo", AdminToken: strings.Repeat("a", 16), FeedToken: strings.Repeat("f", 16), Origins: []string{"https://shop.example"}},
		{ID: "open", WriteKey: "wk_open", AdminToken: strings.Repeat("b", 16), FeedToken: strings.Repeat("g", 16)},
	}
	return cfg
}

func mustCollectEnv(t *testing.T, edit func(*config.Config)) *collectEnv {
	t.Helper()
	db := chtest.MustOpen(t)
	cfg := testConfig(t)
	if edit != nil {
		edit(&cfg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	svc, err := Open(ctx, Options{Config: cfg, DB: db, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatalf("open ingest: %v", err)
	}
	gin.SetMode(gin.TestMode)
	r := gin.New()
	svc.Register(r)
	env := &collectEnv{svc: svc, srv: httptest.NewServer(r), db: db}
	t.Cleanup(func() {
		env.srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		env.svc.Close(ctx) // a test may have swapped in a reopened service
	})
	return env
}

// flush waits until every acknowledged event is in ClickHouse.
func (e *collectEnv) flush(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := e.svc.Flush(ctx); err != nil {
		t.Fatalf("flush: %v", err)
	}
}

// storedEvent is a row of v_events plus the events columns the view
// does not show.
type storedEvent struct {
	Type, Name, VisitorID, UserID, ProductID, Category, Currency, OrderID string
	URL, Title, Referrer, IP, UserAgent, Properties, Traits               string
	Price, Revenue                                                        float64
	Quantity                                                              uint32
	IsBot, OptedOut                                                       uint8
	EventTime                                                             time.Time
	Items                                                                 []string
}

// storedEvents reads a site's events, each id once, oldest first.
func (e *collectEnv) storedEvents(t *testing.T, site string) []storedEvent {
	t.Helper()
	rows, err := e.db.Query(context.Background(), `
		SELECT type, name, visitor_id, user_id, product_id, category, currency, order_id,
		       url, title, referrer, ip, user_agent, properties, traits,
		       price, revenue, quantity, is_bot, opted_out, event_time, items.product_id
		FROM events FINAL WHERE site = ? ORDER BY event_time, type`, site)
	if err != nil {
		t.Fatalf("query events: %v", err)
	}
	defer rows.Close()
	var out []storedEvent
	for rows.Next() {
		var s storedEvent
		if err := rows.Scan(&s.Type, &s.Name, &s.VisitorID, &s.UserID, &s.ProductID, &s.Category, &s.Currency, &s.OrderID,
			&s.URL, &s.Title, &s.Referrer, &s.IP, &s.UserAgent, &s.Properties, &s.Traits,
			&s.Price, &s.Revenue, &s.Quantity, &s.IsBot, &s.OptedOut, &s.EventTime, &s.Items); err != nil {
			t.Fatalf("scan: %v", err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// countView counts a site's events through the analysts' view.
func (e *collectEnv) countView(t *testing.T, site string) uint64 {
	t.Helper()
	var n uint64
	if err := e.db.QueryRow(context.Background(), "SELECT count() FROM v_events WHERE site = ?", site).Scan(&n); err != nil {
		t.Fatalf("count v_events: %v", err)
	}
	return n
}

const browserUA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"

// do sends a request to the test server.
func (e *collectEnv) do(t *testing.T, method, path string, header http.Header, body string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	if req.Header.Get("User-Agent") == "" {
		req.Header.Set("User-Agent", browserUA)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}
