package demo_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/remarket/remarket/demo"
	"github.com/remarket/remarket/internal/config"
	_ "github.com/remarket/remarket/segment" // the starter's audiences
)

func TestEnsureConfigCreatesThenKeepsSecrets(t *testing.T) {
	p := filepath.Join(t.TempDir(), "remarket.yaml")
	if msg, err := demo.EnsureConfig(p); err != nil || msg == "" {
		t.Fatalf("create: %q %v", msg, err)
	}
	first, err := config.Load(p, true)
	if err != nil {
		t.Fatal(err)
	}
	site, ok := first.SiteByWriteKey(demo.WriteKey)
	if !ok || site.ID != demo.Site || first.Ingest.MaxPast < demo.MaxPast {
		t.Fatalf("site %+v ok=%v max_past %v", site, ok, first.Ingest.MaxPast)
	}
	if msg, err := demo.EnsureConfig(p); err != nil || msg != "" {
		t.Fatalf("re-run changed the file: %q %v", msg, err)
	}
	again, _ := config.Load(p, true)
	if s, _ := again.Site(demo.Site); s.AdminToken != site.AdminToken || s.FeedToken != site.FeedToken {
		t.Fatal("re-run replaced the secrets")
	}
}

func TestEnsureConfigAddsDemoToAnExistingFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "remarket.yaml")
	existing := "# my shop\nlisten: 127.0.0.1:9999\ningest:\n  max_past: 24h\nsites:\n  - id: main\n    write_key: wk_main\n    admin_token: 0123456789abcdef-admin\n    feed_token: 0123456789abcdef-feed\n"
	if err := os.WriteFile(p, []byte(existing), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := demo.EnsureConfig(p); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(p, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := cfg.Site("main"); !ok || cfg.Listen != "127.0.0.1:9999" {
		t.Fatal("lost the existing site or settings")
	}
	if _, ok := cfg.Site(demo.Site); !ok || cfg.Ingest.MaxPast != demo.MaxPast {
		t.Fatalf("demo site missing or max_past %v", cfg.Ingest.MaxPast)
	}
	if len(cfg.ErasureKey) < 32 {
		t.Fatalf("a file without erasure_key did not get one: %q", cfg.ErasureKey)
	}
	if len(cfg.HoldoutKey) < 32 {
		t.Fatalf("a file without holdout_key did not get one: %q", cfg.HoldoutKey)
	}
	raw, _ := os.ReadFile(p)
	if string(raw[:9]) != "# my shop" {
		t.Fatalf("comment lost:\n%s", raw)
	}
}

// TestDemoHoldsOutAQuarterOfItsLargestAudience: the demo's config gives
// viewed_not_bought a holdout large enough to measure its lift, and
// leaves the default on the other audiences.
func TestDemoHoldsOutAQuarterOfItsLargestAudience(t *testing.T) {
	p := filepath.Join(t.TempDir(), "remarket.yaml")
	if _, err := demo.EnsureConfig(p); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(p, true)
	if err != nil {
		t.Fatal(err)
	}
	site, _ := cfg.Site(demo.Site)
	got := map[string]float64{}
	for _, a := range site.Audiences {
		got[a.Name] = a.Holdout()
	}
	if len(got) < 2 || got["viewed_not_bought"] != demo.HoldoutPercent || got["cart_abandoners"] != config.DefaultHoldoutPercent {
		t.Errorf("holdouts %v: want viewed_not_bought at %d%%, the others at the default", got, demo.HoldoutPercent)
	}
}
