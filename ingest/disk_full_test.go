package ingest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/remarket/remarket/internal/config"
)

// mustMountSmallDisk mounts a tmpfs of size (e.g. "2m") on a temp dir: a
// real file system that fills up. It needs root, which CI has; a laptop
// without it skips.
func mustMountSmallDisk(t *testing.T, size string) string {
	t.Helper()
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size="+size); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("cannot mount a %s tmpfs to fill (CI runs as root): %v", size, err)
		}
		t.Skipf("cannot mount a %s tmpfs to fill (needs root): %v", size, err)
	}
	t.Cleanup(func() { unix.Unmount(dir, unix.MNT_DETACH) })
	return dir
}

// batchOf is a batch body of n track events with ids prefix-0.., each
// with a note of noteBytes, so a small disk fills in a few requests.
func batchOf(prefix string, n, noteBytes int) string {
	var b []map[string]any
	for i := range n {
		b = append(b, map[string]any{"type": "track", "event": "Product Viewed", "messageId": fmt.Sprintf("%s-%d", prefix, i),
			"anonymousId": "v-" + prefix, "properties": map[string]any{"product_id": "P1", "note": strings.Repeat("x", noteBytes)}})
	}
	body, _ := json.Marshal(map[string]any{"writeKey": "wk_open", "batch": b})
	return string(body)
}

// TestFullDiskAnswers503AndRecovers fills the spool's disk while
// ClickHouse refuses inserts (its events table renamed away), then brings
// ClickHouse back: the collect API must say 503 with Retry-After while the
// disk is full, /readyz must fail, ingest must resume by itself once the
// shipped segments are gone, no acknowledged event may be lost, and a
// restart must not replay what was shipped.
func TestFullDiskAnswers503AndRecovers(t *testing.T) {
	disk := mustMountSmallDisk(t, "2m")
	env := mustCollectEnv(t, func(c *config.Config) {
		c.SpoolDir = filepath.Join(disk, "spool")
		c.Spool.SegmentBytes = 256 << 10 // several segments and a pre-zeroed spare on the disk
	})
	ctx := context.Background()
	if err := env.db.Exec(ctx, "RENAME TABLE events TO events_offline"); err != nil {
		t.Fatal(err)
	}
	online := false
	goOnline := func() {
		if !online {
			if err := env.db.Exec(ctx, "RENAME TABLE events_offline TO events"); err != nil {
				t.Fatal(err)
			}
			online = true
		}
	}
	t.Cleanup(goOnline)

	// Fill the disk with batches, then to the last page with single
	// small events, as a mix of clients would.
	acked := 0
	var refused *http.Response
	for _, size := range []struct{ events, note int }{{20, 1000}, {1, 0}} {
		for i := 0; i < 2000; i++ {
			resp, body := env.do(t, "POST", "/v1/batch", jsonHeader(), batchOf(fmt.Sprintf("fill%d-%d", size.events, i), size.events, size.note))
			if resp.StatusCode != http.StatusOK {
				refused = resp
				t.Logf("after %d acknowledged events: %d %s", acked, resp.StatusCode, body)
				break
			}
			acked += size.events
		}
	}
	if refused == nil {
		t.Fatal("the 2 MB disk never filled")
	}
	if refused.StatusCode != http.StatusServiceUnavailable || refused.Header.Get("Retry-After") == "" {
		t.Fatalf("a write failure answered %d (Retry-After %q), want 503 with Retry-After", refused.StatusCode, refused.Header.Get("Retry-After"))
	}
	if resp, _ := env.do(t, "GET", "/p.gif?k=wk_demo&e=page_view", nil, ""); resp.StatusCode != http.StatusOK {
		t.Fatalf("pixel answered %d on a full disk, want its GIF", resp.StatusCode)
	}
	if err := env.svc.Ready(ctx); err == nil {
		t.Fatal("ready while the spool cannot write")
	}

	goOnline()
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, body := env.do(t, "POST", "/v1/batch", jsonHeader(), batchOf("after", 20, 1000))
		if resp.StatusCode == http.StatusOK {
			acked += 20
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ingest did not resume after ClickHouse came back: %d %s", resp.StatusCode, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := env.svc.Ready(ctx); err != nil {
		t.Fatalf("not ready after recovering: %v", err)
	}
	env.flush(t)
	if n := env.countView(t, "open"); n != uint64(acked) {
		t.Fatalf("v_events holds %d events, want the %d acknowledged", n, acked)
	}

	// A restart resumes from the checkpoint instead of replaying it all.
	cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := env.svc.Close(cctx); err != nil {
		t.Fatal(err)
	}
	cfg := env.svc.cfg
	svc, err := Open(cctx, Options{Config: cfg, DB: env.db, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	env.svc = svc // closed by the env's cleanup
	if n := svc.spool.Unshipped(); n != 0 {
		t.Fatalf("after a restart %d shipped bytes are replayed", n)
	}
}
