package feeds

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCacheEvictsLeastRecentlyUsedAndRetriesFailures(t *testing.T) {
	dir := t.TempDir()
	c, err := newCache(dir, 3000) // room for about two 1,000-byte feeds (plain + gzip)
	if err != nil {
		t.Fatal(err)
	}
	gen := func(body string) generateFunc {
		return func(ctx context.Context, w io.Writer) (Stats, error) {
			n, err := io.WriteString(w, body)
			return Stats{Bytes: int64(n)}, err
		}
	}
	ctx := context.Background()
	for _, k := range []string{"a", "b"} {
		if _, hit, err := c.get(ctx, k, gen(strings.Repeat(k, 1000))); err != nil || hit {
			t.Fatalf("%s: hit %v err %v", k, hit, err)
		}
	}
	if _, hit, _ := c.get(ctx, "a", nil); !hit { // a is now the most recent
		t.Fatal("a not cached")
	}
	if _, _, err := c.get(ctx, "c", gen(strings.Repeat("c", 1000))); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(c.dir, "b")); !os.IsNotExist(err) {
		t.Fatal("least recently used b still on disk")
	}
	e, hit, _ := c.get(ctx, "a", nil)
	if !hit {
		t.Fatal("a was evicted instead of b")
	}
	if raw, _ := os.ReadFile(e.plain); string(raw) != strings.Repeat("a", 1000) {
		t.Fatal("a's file has the wrong content")
	}

	boom := errors.New("boom")
	if _, _, err := c.get(ctx, "d", func(context.Context, io.Writer) (Stats, error) { return Stats{}, boom }); !errors.Is(err, boom) {
		t.Fatalf("failed generation: %v", err)
	}
	if _, hit, err := c.get(ctx, "d", gen("ok")); err != nil || hit {
		t.Fatalf("a failed generation is cached: hit %v err %v", hit, err)
	}
	left, _ := filepath.Glob(filepath.Join(c.dir, "*.tmp"))
	if len(left) != 0 {
		t.Fatalf("temporary files left: %v", left)
	}
}

// Instances on one host share the config file, so a configured
// feeds.cache_dir too. The same run and format name the same key in
// each: one instance stopping (or evicting) must not remove the files
// another still serves.
func TestCachesSharingACacheDirKeepTheirOwnFiles(t *testing.T) {
	dir := t.TempDir()
	gen := func(ctx context.Context, w io.Writer) (Stats, error) {
		n, err := io.WriteString(w, "feed body")
		return Stats{Bytes: int64(n)}, err
	}
	ctx := context.Background()
	a, err := newCache(dir, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	b, err := newCache(dir, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer b.close()
	if _, _, err := a.get(ctx, "run1-google", gen); err != nil {
		t.Fatal(err)
	}
	e, _, err := b.get(ctx, "run1-google", gen)
	if err != nil {
		t.Fatal(err)
	}
	a.close() // the other instance stops
	if raw, err := os.ReadFile(e.plain); err != nil || string(raw) != "feed body" {
		t.Fatalf("after another instance on the same cache_dir stopped, this one's feed file reads %q, %v", raw, err)
	}
	if _, err := os.Stat(e.gz); err != nil {
		t.Fatalf("after another instance on the same cache_dir stopped: %v", err)
	}
}
