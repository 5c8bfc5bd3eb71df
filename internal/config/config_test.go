package config_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/remarket/remarket/internal/config"
)

const minimal = `
clickhouse: clickhouse://127.0.0.1:9000/remarket
listen: 127.0.0.1:8080
spool_dir: ./data/spool
sites:
  - id: demo
    write_key: wk_demo
    admin_token: 0123456789abcdef-admin
    feed_token: 0123456789abcdef-feed
    origins: ["https://shop.example"]
`

func TestParseMinimalShape(t *testing.T) {
	cfg, err := config.Parse([]byte(minimal), nil)
	if err != nil {
		t.Fatal(err)
	}
	s, ok := cfg.SiteByWriteKey("wk_demo")
	if !ok || s.ID != "demo" || s.Origins[0] != "https://shop.example" {
		t.Fatalf("site = %+v, %v", s, ok)
	}
	if cfg.Spool.BatchRows != 10000 || cfg.Ingest.MaxEventBytes != 32<<10 {
		t.Fatalf("defaults not applied: %+v", cfg.Spool)
	}
}

func TestEnvOverridesTopLevelKeys(t *testing.T) {
	env := []string{
		"REMARKET_LISTEN=0.0.0.0:9999",
		"REMARKET_SPOOL_DIR=/var/spool/rm",
		"REMARKET_SPOOL={batch_rows: 5}",
		"CLICKHOUSE_DSN=clickhouse://db:9000/x",
	}
	cfg, err := config.Parse([]byte(minimal), env)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != "0.0.0.0:9999" || cfg.SpoolDir != "/var/spool/rm" || cfg.ClickHouse != "clickhouse://db:9000/x" || cfg.Spool.BatchRows != 5 {
		t.Fatalf("overrides not applied: %+v", cfg)
	}
}

// A variable set to nothing is unset, as CLICKHOUSE_DSN and
// REMARKET_CONFIG are: `REMARKET_HOLDOUT_KEY: ${HOLDOUT_KEY}` in a compose
// file with HOLDOUT_KEY unset must not drop the file's key (reassigning
// every holdout) nor an empty REMARKET_LISTEN break public_url.
func TestEmptyEnvLeavesTheFilesValue(t *testing.T) {
	raw := minimal + "erasure_key: erasure-key-from-the-file-0123456789abc\nholdout_key: holdout-key-from-the-file-0123456789ab\n"
	cfg, err := config.Parse([]byte(raw), []string{"REMARKET_HOLDOUT_KEY=", "REMARKET_ERASURE_KEY=", "REMARKET_LISTEN=", "REMARKET_SPOOL_DIR=", "REMARKET_CLICKHOUSE="})
	if err != nil {
		t.Fatal(err)
	}
	want := [][2]string{
		{cfg.HoldoutKey, "holdout-key-from-the-file-0123456789ab"},
		{cfg.ErasureKey, "erasure-key-from-the-file-0123456789abc"},
		{cfg.Listen, "127.0.0.1:8080"},
		{cfg.SpoolDir, "./data/spool"},
		{cfg.ClickHouse, "clickhouse://127.0.0.1:9000/remarket"},
	}
	for _, w := range want {
		if w[0] != w[1] {
			t.Errorf("with the variable set to nothing, got %q, want the file's %q", w[0], w[1])
		}
	}
}

func TestParseRejects(t *testing.T) {
	cases := map[string]string{
		"unknown key":       "listne: x\n",
		"short secret":      "sites:\n - {id: a, write_key: k, admin_token: short, feed_token: 0123456789abcdef}\n",
		"bad site id":       "sites:\n - {id: 'a b', write_key: k, admin_token: 0123456789abcdef, feed_token: 0123456789abcdef}\n",
		"bad ip mode":       "ingest: {ip_mode: hash}\n",
		"short erasure key": "erasure_key: guessable\n",
		"too many weights":  "segments:\n  weights: {" + manyWeights(256) + "}\n",
		"duplicate key":     "sites:\n - {id: a, write_key: k, admin_token: 0123456789abcdef, feed_token: 0123456789abcdef}\n - {id: b, write_key: k, admin_token: 0123456789abcdef, feed_token: 0123456789abcdef}\n",
	}
	for name, raw := range cases {
		if _, err := config.Parse([]byte(raw), nil); err == nil {
			t.Errorf("%s: accepted %q", name, raw)
		}
	}
}

func TestRedactedHidesSecrets(t *testing.T) {
	cfg, err := config.Parse([]byte(minimal), []string{"CLICKHOUSE_DSN=clickhouse://u:hunter2@db:9000/x",
		"REMARKET_ERASURE_KEY=erasure-key-from-env-0123456789abcdef"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ErasureKey != "erasure-key-from-env-0123456789abcdef" {
		t.Fatalf("REMARKET_ERASURE_KEY not applied: %q", cfg.ErasureKey)
	}
	r := cfg.Redacted()
	out := r.Sites[0].AdminToken + r.Sites[0].FeedToken + r.ClickHouse + r.ErasureKey
	for _, secret := range []string{"0123456789abcdef", "hunter2"} {
		if strings.Contains(out, secret) {
			t.Fatalf("redacted config shows %q: %s", secret, out)
		}
	}
	if cfg.Sites[0].AdminToken != "0123456789abcdef-admin" {
		t.Fatal("Redacted changed the original")
	}
}

func TestStarterHasFreshSecretsAndValidates(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "remarket.yaml")
	if err := config.WriteStarter(p, "shop"); err != nil {
		t.Fatal(err)
	}
	if err := config.WriteStarter(p, "shop"); err == nil {
		t.Fatal("second init overwrote the file")
	}
	raw, _ := os.ReadFile(p)
	cfg, err := config.Parse(raw, nil)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := config.Starter("shop")
	if strings.Contains(other, cfg.Sites[0].AdminToken) {
		t.Fatal("two starters share an admin token")
	}
	if len(cfg.ErasureKey) < 32 || strings.Contains(other, cfg.ErasureKey) {
		t.Fatalf("starter erasure_key %q: want a fresh secret of at least 32 characters", cfg.ErasureKey)
	}
	if st, _ := os.Stat(p); st.Mode().Perm() != 0o600 {
		t.Fatalf("starter file mode %v, want 0600 (it holds secrets)", st.Mode().Perm())
	}
}

func TestWeightsUpToTheLimitParse(t *testing.T) {
	// Configured weights add to the defaults.
	n := config.MaxWeightedTypes - len(config.Default().Segments.Weights)
	cfg, err := config.Parse([]byte("segments:\n  weights: {"+manyWeights(n)+"}\n"), nil)
	if err != nil {
		t.Fatalf("%d weights: %v", n, err)
	}
	if len(cfg.Segments.Weights) != config.MaxWeightedTypes {
		t.Fatalf("got %d weights, want %d", len(cfg.Segments.Weights), config.MaxWeightedTypes)
	}
}

// manyWeights is n weighted event types as a YAML flow mapping's body.
func manyWeights(n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "type_%c%c: 1", 'a'+i/26, 'a'+i%26)
	}
	return b.String()
}

func TestRetiredCommitIntervalLoadsWithAWarning(t *testing.T) {
	cfg, err := config.Parse([]byte(minimal), nil)
	if err != nil {
		t.Fatal(err)
	}
	if w := cfg.Warnings(); len(w) != 0 {
		t.Fatalf("warnings for a config without retired keys: %q", w)
	}
	cfg, err = config.Parse([]byte(minimal+"spool: {commit_interval: 2ms}\n"), nil)
	if err != nil {
		t.Fatalf("an older config with spool.commit_interval no longer loads: %v", err)
	}
	if w := cfg.Warnings(); len(w) != 1 || !strings.Contains(w[0], "spool.commit_interval is ignored") {
		t.Fatalf("warnings = %q, want one saying spool.commit_interval is ignored", w)
	}
}

func TestHTTPLimitsKeepRoomForBodylessRequests(t *testing.T) {
	cfg, err := config.Parse([]byte(minimal), []string{"REMARKET_HTTP={max_connections: 100, max_body_requests: 50}"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.HTTP.MaxConnections != 100 || cfg.HTTP.ReadTimeout != 30*time.Second {
		t.Fatalf("http = %+v; want the override merged over the defaults", cfg.HTTP)
	}
	_, err = config.Parse([]byte(minimal), []string{"REMARKET_HTTP={max_connections: 100, max_body_requests: 51}"})
	if err == nil || !strings.Contains(err.Error(), "http.max_body_requests (51) must be at most half of http.max_connections (100)") {
		t.Fatalf("err = %v", err)
	}
}

func TestIncrementalRunSettings(t *testing.T) {
	cfg, err := config.Parse([]byte(minimal), nil)
	if err != nil {
		t.Fatal(err)
	}
	if s := cfg.Segments; time.Duration(s.RunAbandonedAfter) != 15*time.Minute {
		t.Errorf("default run_abandoned_after %s, want 15m", time.Duration(s.RunAbandonedAfter))
	}
	if s := cfg.Segments; !s.Incremental || time.Duration(s.FullRunEvery) != 24*time.Hour || s.IncrementalMaxNewEventsPercent != 1 || s.IncrementalMaxCatalogReachPercent != 10 {
		t.Errorf("defaults: incremental %v, full_run_every %s, max new events %g%%, max catalog reach %g%%; want true, 24h, 1%%, 10%%",
			s.Incremental, time.Duration(s.FullRunEvery), s.IncrementalMaxNewEventsPercent, s.IncrementalMaxCatalogReachPercent)
	}
	cfg, err = config.Parse([]byte(minimal+"segments: {incremental: false, full_run_every: 6h, incremental_max_new_events_percent: 2.5, incremental_max_catalog_reach_percent: 0}\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if s := cfg.Segments; s.Incremental || time.Duration(s.FullRunEvery) != 6*time.Hour || s.IncrementalMaxNewEventsPercent != 2.5 || s.IncrementalMaxCatalogReachPercent != 0 {
		t.Errorf("set: %+v", s)
	}
	for raw, names := range map[string]string{
		"full_run_every: 0":                           "segments.full_run_every must be positive",
		"incremental_max_new_events_percent: 101":     "segments.incremental_max_new_events_percent must be between 0 and 100, got 101",
		"incremental_max_catalog_reach_percent: -1":   "segments.incremental_max_catalog_reach_percent must be between 0 and 100, got -1",
		"incremental_max_catalog_reach_percent: .nan": "segments.incremental_max_catalog_reach_percent must be between 0 and 100, got NaN",
		"incremental: maybe":                          "cannot unmarshal !!str `maybe` into bool",
		"run_abandoned_after: 500ms":                  "segments.run_abandoned_after must be at least 1s, got 500ms",
		"run_abandoned_after: 0":                      "segments.run_abandoned_after must be at least 1s, got 0s",
	} {
		_, err := config.Parse([]byte(minimal+"segments: {"+raw+"}\n"), nil)
		if err == nil || !strings.Contains(err.Error(), names) {
			t.Errorf("segments: {%s}: error %v; want one saying %q", raw, err, names)
		}
	}
}

// TestDurationsRefuseOverflow: a remarket duration longer than a
// time.Duration holds is refused, naming the longest one, instead of
// wrapping round to a negative span (200000w turned the schedule off).
func TestDurationsRefuseOverflow(t *testing.T) {
	if d, err := config.ParseDuration("15250w"); err != nil || time.Duration(d) != 15250*7*24*time.Hour {
		t.Errorf("15250w = %v, %v; want the longest whole-week duration", time.Duration(d), err)
	}
	for _, s := range []string{"15251w", "200000w", "1e300d", "Infd", "NaNw"} {
		if d, err := config.ParseDuration(s); err == nil {
			t.Errorf("ParseDuration(%q) = %v, want an error", s, time.Duration(d))
		}
	}
	var d config.Duration
	for _, js := range []string{"1e300", "-5"} {
		if err := json.Unmarshal([]byte(js), &d); err == nil {
			t.Errorf("JSON %s seconds = %v, want an error", js, time.Duration(d))
		}
	}
	_, err := config.Parse([]byte(minimal+"segments: {schedule: 200000w}\n"), nil)
	if err == nil || !strings.Contains(err.Error(), `segments.schedule: duration "200000w": want at most 15250w`) {
		t.Errorf("schedule 200000w: error %v, want one naming segments.schedule and the longest duration", err)
	}
}

// TestParseRejectsValuesThatBreakAtRuntime: values that would load and
// then refuse every event, throttle nothing, or behave otherwise than
// written are refused at load, each error naming its key.
func TestParseRejectsValuesThatBreakAtRuntime(t *testing.T) {
	site := func(fields string) string {
		return "sites:\n - {id: a, write_key: wk_a, admin_token: 0123456789abcdef-admin, feed_token: 0123456789abcdef-feed" + fields + "}\n"
	}
	for raw, names := range map[string]string{
		"ingest: {max_request_bytes: 0}\n":                           "ingest.max_request_bytes must be positive, got 0",
		"ingest: {max_request_bytes: -1}\n":                          "ingest.max_request_bytes must be positive, got -1",
		"ingest: {max_event_bytes: 0}\n":                             "ingest.max_event_bytes must be positive, got 0",
		"ingest: {max_event_bytes: 2000, max_request_bytes: 1000}\n": "ingest.max_event_bytes (2000) must be at most ingest.max_request_bytes (1000)",
		"ingest: {max_past: -1h}\n":                                  "ingest.max_past and ingest.max_future must be 0 or more, got -1h0m0s and 10m0s",
		"ingest: {max_future: -1h}\n":                                "ingest.max_past and ingest.max_future must be 0 or more, got 720h0m0s and -1h0m0s",
		"spool: {flush_interval: 0s}\n":                              "spool.flush_interval must be positive, got 0s",
		"spool: {max_bytes: 100000}\n":                               "spool.max_bytes (100000) must be at least ingest.max_request_bytes (512000)",
		"log_level: verbose\n":                                       `log_level "verbose": want debug, info, warn or error`,
		"public_url: shop.example\n":                                 `public_url "shop.example": want an http:// or https:// URL with a host`,
		"public_url: ftp://shop.example\n":                           `public_url "ftp://shop.example": want an http:// or https:// URL`,
		"public_url: 'https://'\n":                                   `public_url "https:": want an http:// or https:// URL with a host`,
		site(", origins: [shop.example]"):                            `sites[0].origins[0] "shop.example": want scheme://host[:port]`,
		site(", origins: ['https://shop.example/cart']"):             `sites[0].origins[0] "https://shop.example/cart": want scheme://host[:port]`,
		site(", retention_days: -30"):                                "sites[0].retention_days must be 0 (keep all) or more, got -30",
		"sites:\n - {id: a, write_key: 0123456789abcdef, admin_token: 0123456789abcdef, feed_token: 0123456789abcdef-feed}\n": "sites[0].admin_token must differ from the site's write_key and feed_token",
		"sites:\n - {id: a, write_key: wk_a, admin_token: 0123456789abcdef, feed_token: 0123456789abcdef}\n":                  "sites[0].admin_token must differ from the site's write_key and feed_token",
	} {
		_, err := config.Parse([]byte(raw), nil)
		if err == nil || !strings.Contains(err.Error(), names) {
			t.Errorf("%q: error %v; want one saying %q", raw, err, names)
		}
	}
	// What browsers send, and the keys' edges, still load.
	for _, raw := range []string{
		site(", origins: ['https://shop.example', 'http://localhost:3000', 'https://shop.example/'], retention_days: 0"),
		"ingest: {max_event_bytes: 1000, max_request_bytes: 1000, max_past: 0s, max_future: 0s}\n",
		"spool: {max_bytes: 512000}\n",
		"log_level: DEBUG\n",
		"listen: ':8080'\n",
		"public_url: https://rm.example/base/\n",
	} {
		if _, err := config.Parse([]byte(raw), nil); err != nil {
			t.Errorf("%q: %v", raw, err)
		}
	}
}

// A second YAML document would be dropped without a word, and every
// setting in it with it (here the site): it is refused, naming its line.
// A single document may still start with --- and end with a comment.
func TestParseRefusesASecondDocument(t *testing.T) {
	_, err := config.Parse([]byte("listen: 127.0.0.1:8080\n---\n"+minimal), nil)
	if err == nil || !strings.Contains(err.Error(), "second YAML document") || !strings.Contains(err.Error(), "line 2:") {
		t.Fatalf("two documents: err = %v, want the second document refused at its --- on line 2", err)
	}
	if _, err := config.Parse([]byte("---\n"+minimal+"# end\n"), nil); err != nil {
		t.Fatalf("one document after ---: %v", err)
	}
	if _, err := config.Parse([]byte(minimal), []string{"REMARKET_SPOOL={batch_rows: 5}\n---\n{batch_rows: 7}"}); err == nil {
		t.Fatal("an environment value holding two documents was accepted")
	}
}
