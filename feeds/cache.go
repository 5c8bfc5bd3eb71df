package feeds

import (
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// cache keeps generated feeds on disk, one plain and one gzipped file per
// key (site, audience, run, catalog version, rules, config, format,
// discount epoch: Plan.Key), so a feed is generated once per run and
// catalog version and then served by the kernel from the page cache. Concurrent requests for a missing key wait for one generation.
// Total size is bounded; least recently used entries go first (a file
// being served when evicted stays readable until closed).
type cache struct {
	dir      string
	maxBytes int64

	mu       sync.Mutex
	entries  map[string]*entry
	size     int64
	memBytes int64 // gzip copies held in memory
	tick     uint64
}

// The gzip copy, what platforms fetch, is also kept in memory when small:
// one write per response instead of a read loop over the file.
const (
	maxMemFeed  = 16 << 20
	maxMemTotal = 256 << 20
)

type entry struct {
	key   string
	ready chan struct{} // closed when generation ended
	err   error

	plain, gz string // file paths
	gzMem     []byte // the gzip file's bytes, when small enough
	bytes     int64
	stats     Stats
	used      uint64
}

// newCache makes an empty cache in a new directory of this process's
// inside dir (default: the system's temp dir). Processes on one host
// share the config file, so a configured dir too, and the same run and
// format give the same key in each: in one directory, one stopping
// would remove the files the others serve.
func newCache(dir string, maxBytes int64) (*cache, error) {
	if dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("cannot create feed cache dir %q: %w", dir, err)
		}
	}
	own, err := os.MkdirTemp(dir, "remarket-feeds-")
	if err != nil {
		return nil, fmt.Errorf("cannot create feed cache dir: %w", err)
	}
	return &cache{dir: own, maxBytes: maxBytes, entries: map[string]*entry{}}, nil
}

// generateFunc writes a feed to w.
type generateFunc func(ctx context.Context, w io.Writer) (Stats, error)

// get returns the entry of key, generating it when missing. hit reports
// whether it existed already.
func (c *cache) get(ctx context.Context, key string, gen generateFunc) (e *entry, hit bool, err error) {
	c.mu.Lock()
	e, hit = c.entries[key]
	if !hit {
		e = &entry{key: key, ready: make(chan struct{})}
		c.entries[key] = e
	}
	c.tick++
	e.used = c.tick
	c.mu.Unlock()

	if !hit {
		// Generation outlives the request that started it: others wait on it.
		gctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Minute)
		c.fill(gctx, e, gen)
		cancel()
	}
	select {
	case <-e.ready:
	case <-ctx.Done():
		return nil, hit, ctx.Err()
	}
	if e.err != nil {
		return nil, hit, e.err
	}
	return e, hit, nil
}

func (c *cache) fill(ctx context.Context, e *entry, gen generateFunc) {
	defer close(e.ready)
	e.err = c.write(ctx, e, gen)
	c.mu.Lock()
	defer c.mu.Unlock()
	if e.err != nil {
		delete(c.entries, e.key) // the next request tries again
		return
	}
	c.size += e.bytes
	if n := int64(len(e.gzMem)); n > 0 {
		if n > maxMemFeed || c.memBytes+n > maxMemTotal {
			e.gzMem = nil
		} else {
			c.memBytes += n
		}
	}
	c.evict()
}

// write generates into temporary files and renames them into place; the
// gzip copy is compressed in the same pass.
func (c *cache) write(ctx context.Context, e *entry, gen generateFunc) error {
	plain, err := os.CreateTemp(c.dir, "feed-*.tmp")
	if err != nil {
		return fmt.Errorf("cannot create feed cache file: %w", err)
	}
	gzf, err := os.CreateTemp(c.dir, "feed-*.gz.tmp")
	if err != nil {
		plain.Close()
		os.Remove(plain.Name())
		return fmt.Errorf("cannot create feed cache file: %w", err)
	}
	// Compressed once per run and sent many times: worth the default level.
	zw, _ := gzip.NewWriterLevel(gzf, gzip.DefaultCompression)
	st, err := gen(ctx, io.MultiWriter(plain, zw))
	if err == nil {
		err = zw.Close()
	}
	for _, f := range []*os.File{plain, gzf} {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		os.Remove(plain.Name())
		os.Remove(gzf.Name())
		return err
	}
	e.stats = st
	e.plain = filepath.Join(c.dir, e.key)
	e.gz = e.plain + ".gz"
	if err := os.Rename(plain.Name(), e.plain); err != nil {
		return err
	}
	if err := os.Rename(gzf.Name(), e.gz); err != nil {
		return err
	}
	if fi, err := os.Stat(e.gz); err == nil {
		e.bytes = st.Bytes + fi.Size()
		if fi.Size() <= maxMemFeed {
			e.gzMem, _ = os.ReadFile(e.gz) // fill decides whether it stays
		}
	}
	return nil
}

// evict drops least recently used complete entries while over budget,
// never the only one. Called with mu held.
func (c *cache) evict() {
	for c.size > c.maxBytes && len(c.entries) > 1 {
		var old *entry
		for _, e := range c.entries {
			select {
			case <-e.ready:
			default:
				continue // still generating
			}
			if old == nil || e.used < old.used {
				old = e
			}
		}
		if old == nil {
			return
		}
		delete(c.entries, old.key)
		c.size -= old.bytes
		c.memBytes -= int64(len(old.gzMem))
		os.Remove(old.plain)
		os.Remove(old.gz)
	}
}

// close removes every cached file, and the directory once empty.
func (c *cache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, e := range c.entries {
		select {
		case <-e.ready:
			os.Remove(e.plain)
			os.Remove(e.gz)
			delete(c.entries, k)
		default:
		}
	}
	os.Remove(c.dir) // fails, harmlessly, while a generation still writes
}
