package clustercheck

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/remarket/remarket/feeds"
	"github.com/remarket/remarket/segment"
)

// Feeds and member exports keep answering the same while a replica of
// each shard is down, the one remarket's connections were on among
// them; with every node remarket knows down, they answer a clear 503.
func TestFeedsWhileReplicasAreDown(t *testing.T) {
	migrated(t)
	ctx := context.Background()
	const site = "feedsdown"
	// Connections go to shard 1's replica 1 first, as an operator's DSN
	// lists the nodes.
	db := openCluster(t, cluster.DSN(database, cluster.Node(1, 1), cluster.Node(1, 2), cluster.Node(2, 1), cluster.Node(2, 2)))
	err := db.Exec(ctx, `INSERT INTO events (site, event_id, event_time, received_at, type, visitor_id, product_id, category, price, quantity)
		SELECT @site, generateUUIDv4(), now() - 3600 + number, now() - 3600 + number, if(number % 5 = 0, 'add_to_cart', 'product_view'),
			concat('v', toString(number % 60)), concat('p', toString(number % 9)), 'Cameras', 100 + number % 9, 1
		FROM system.numbers LIMIT 600`, named("site", site))
	if err != nil {
		t.Fatal(err)
	}
	cfg := oneSite(site, 2)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	eng := quietEngine(cfg, db)
	if _, err := eng.Run(ctx, site, segment.RunOptions{Full: true}); err != nil {
		t.Fatal(err)
	}
	api := feeds.NewAPI(cfg, db, log)
	defer api.Close()
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	api.Register(r)
	aud := cfg.Sites[0].Audiences[0].Name
	paths := []string{
		"/feeds/" + site + "/" + aud + "/feed.json?token=" + url.QueryEscape(cfg.Sites[0].FeedToken),
		"/api/sites/" + site + "/audiences/" + aud + "/members?format=csv",
	}
	get := func(path string) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.Header.Set("Authorization", "Bearer "+cfg.Sites[0].AdminToken)
		r.ServeHTTP(w, req)
		return w
	}
	before := map[string]string{}
	for _, p := range paths {
		w := get(p)
		if w.Code != http.StatusOK {
			t.Fatalf("%s answered %d: %.300s", p, w.Code, w.Body.String())
		}
		before[p] = w.Body.String()
	}

	killed := []int{0, 3} // shard 1 replica 1 (connections are there), shard 2 replica 2
	for _, i := range killed {
		cluster.Nodes[i].Kill()
	}
	defer func() {
		for _, i := range killed {
			if err := cluster.Recover(context.Background(), cluster.Nodes[i]); err != nil {
				t.Errorf("restart node %d: %v", i+1, err)
			}
		}
	}()
	for _, p := range paths {
		for attempt := range 3 {
			w := get(p)
			if w.Code != http.StatusOK || w.Body.String() != before[p] {
				t.Errorf("%s with a replica of each shard down (request %d): %d %.300s", p, attempt+1, w.Code, w.Body.String())
			}
		}
	}

	// Every node down: a clear 503 the feed's reader retries (or the feed
	// of the same complete run, which the API keeps).
	rest := []int{1, 2}
	for _, i := range rest {
		cluster.Nodes[i].Kill()
	}
	killed = append(killed, rest...)
	for _, p := range paths {
		w := get(p)
		if w.Code == http.StatusOK && w.Body.String() == before[p] && strings.HasPrefix(p, "/feeds/") {
			continue
		}
		if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" || !strings.Contains(w.Body.String(), "ClickHouse") {
			t.Errorf("%s with every node down: %d (Retry-After %q) %.300s, want 503 naming ClickHouse with Retry-After", p, w.Code, w.Header().Get("Retry-After"), w.Body.String())
		}
	}
}
