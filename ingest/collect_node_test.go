package ingest

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// e2eDir is the npm project holding the official client SDKs.
const e2eDir = "../e2e"

// requireNodeSDK returns the node binary, or skips — or fails when CI
// is set, where the SDK test must run (.ci/run installs it).
func requireNodeSDK(t *testing.T, module string) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err == nil {
		_, err = os.Stat(filepath.Join(e2eDir, "node_modules", module, "package.json"))
	}
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("node or %s missing (cd e2e && npm ci): %v", module, err)
		}
		t.Skipf("node or %s missing (cd e2e && npm ci): %v", module, err)
	}
	return node
}

// requireNode returns the node binary, or skips — or fails when CI is set.
func requireNode(t *testing.T) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("node missing")
		}
		t.Skip("node missing")
	}
	return node
}

// TestSegmentNodeSDK points the official @segment/analytics-node at the
// server with its host option and checks its track, page and identify
// calls arrive as the right rows.
func TestSegmentNodeSDK(t *testing.T) {
	node := requireNodeSDK(t, "@segment/analytics-node")
	env := mustCollectEnv(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, filepath.Join(e2eDir, "segment-node.mjs"), env.srv.URL, "wk_open", "sdk")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("segment-node.mjs: %v\n%s", err, out)
	}
	env.flush(t)
	rows := env.storedEvents(t, "open")
	got := map[string]storedEvent{}
	for _, r := range rows {
		got[r.Type] = r
	}
	if len(rows) != 3 {
		t.Fatalf("want 3 rows, got %d: %+v", len(rows), rows)
	}
	view, page, id := got[ProductView], got[PageView], got[Identify]
	if view.VisitorID != "sdk-anon" || view.ProductID != "P1" || view.Price != 499.9 || view.Currency != "EUR" ||
		view.Category != "Cameras > DSLR" || !strings.Contains(view.Properties, `"brand":"Canon"`) {
		t.Errorf("track stored as %+v", view)
	}
	if page.Title != "Shop" || page.URL != "https://shop.example/" || page.Name != "Home" {
		t.Errorf("page stored as %+v", page)
	}
	if id.UserID != "sdk-user" || !strings.Contains(id.Traits, "ann@example.com") {
		t.Errorf("identify stored as %+v", id)
	}
	for _, r := range rows {
		if d := time.Since(r.EventTime); d < -5*time.Second || d > time.Minute {
			t.Errorf("%s event_time %v is not about now", r.Type, r.EventTime)
		}
	}
}

// TestSnippetInNode runs /t.js in a minimal fake browser (no sendBeacon,
// so fetch keepalive) and checks its queued page, track and identify
// calls arrive through the collect API.
func TestSnippetInNode(t *testing.T) {
	node := requireNode(t)
	env := mustCollectEnv(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, node, filepath.Join(e2eDir, "snippet-node.mjs"), env.srv.URL, "wk_open").CombinedOutput()
	if err != nil {
		t.Fatalf("snippet-node.mjs: %v\n%s", err, out)
	}
	env.flush(t)
	rows := env.storedEvents(t, "open")
	if len(rows) != 3 {
		t.Fatalf("want 3 rows, got %+v", rows)
	}
	got := map[string]storedEvent{}
	for _, r := range rows {
		got[r.Type] = r
	}
	page, view, id := got[PageView], got[ProductView], got[Identify]
	if page.URL != "https://shop.example/p/canon-250d" || page.Title != "Canon EOS 250D" || page.Referrer != "https://google.com/" {
		t.Errorf("page stored as %+v", page)
	}
	if view.ProductID != "P1" || view.Price != 499.9 || view.VisitorID == "" || view.VisitorID != page.VisitorID {
		t.Errorf("track stored as %+v (page visitor %q)", view, page.VisitorID)
	}
	if id.UserID != "snippet-user" || !strings.Contains(id.Traits, "ann@example.com") || !strings.Contains(id.UserAgent, "Firefox") {
		t.Errorf("identify stored as %+v", id)
	}
}

// TestSnippetKeepsTheOffer: the snippet keeps the landing URL's offer
// token while it is valid and sends it with the events that follow, on
// later page loads too; after the offer expires it sends none.
func TestSnippetKeepsTheOffer(t *testing.T) {
	node := requireNode(t)
	env := mustCollectEnv(t, nil)
	payload := base64.RawURLEncoding.EncodeToString([]byte(fmt.Sprintf(`{"s":"open","p":"amp","exp":%d}`, time.Now().Add(2*time.Hour).Unix())))
	token := payload + ".c2lnbmF0dXJl"
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, node, filepath.Join(e2eDir, "snippet-offer-node.mjs"), env.srv.URL, "wk_open", token, "2").CombinedOutput()
	if err != nil {
		t.Fatalf("snippet-offer-node.mjs: %v\n%s", err, out)
	}
	env.flush(t)
	byPath := map[string]string{}
	for _, r := range env.storedEvents(t, "open") {
		u, _ := url.Parse(r.URL)
		var props map[string]any
		json.Unmarshal([]byte(r.Properties), &props)
		offer, _ := props["rm_offer"].(string)
		byPath[u.Path+" "+r.Type] = offer
	}
	want := map[string]string{"/p/amp page_view": token, "/checkout/thanks purchase": token, "/later page_view": ""}
	if len(byPath) != len(want) {
		t.Fatalf("stored %v, want %v (node said %s)", byPath, want, out)
	}
	for k, w := range want {
		if got, ok := byPath[k]; !ok || got != w {
			t.Errorf("%s carries offer %q, want %q", k, got, w)
		}
	}
}
