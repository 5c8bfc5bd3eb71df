package feeds_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/remarket/remarket/feeds"
	"github.com/remarket/remarket/internal/httpx"
)

// A ClickHouse failure while looking an audience up is a logged 5xx, not
// "no such audience": a 404 would tell ad platforms and upload scripts
// that the audience is gone, and nobody would hear of the failure.
func TestClickHouseFailureIsALogged5xxNotA404(t *testing.T) {
	s := newServer(t, testConfig(t))
	s.seedHard()
	s.fx.members("shop", "r1", "cart", member{Visitor: "v1"})
	// The run is readable, the audience lookup fails.
	if err := s.db.Exec(context.Background(), "DROP TABLE v_audience_sizes_by_run"); err != nil {
		t.Fatal(err)
	}
	var logged bytes.Buffer
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&logged, nil)))
	defer slog.SetDefault(prev)

	for _, path := range []string{
		"/api/sites/shop/audiences/cart/members",
		"/feeds/shop/cart/google.xml?token=" + feedToken,
	} {
		logged.Reset()
		rec := s.get(path, "Authorization", "Bearer "+adminToken)
		if rec.Code < 500 {
			t.Errorf("%s: %d %s, want a 5xx", path, rec.Code, rec.Body)
		}
		if !strings.Contains(logged.String(), "request failed") || !strings.Contains(logged.String(), "v_audience_sizes_by_run") {
			t.Errorf("%s: the failure was not logged: %q", path, logged.String())
		}
	}
	_, err := s.api.Export(context.Background(), &bytes.Buffer{}, "shop", "cart", feeds.Google)
	var he *httpx.Error
	if err == nil || errors.As(err, &he) {
		t.Errorf("export: %v, want ClickHouse's error, not a client error", err)
	}
}
