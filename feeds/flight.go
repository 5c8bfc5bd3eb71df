package feeds

import (
	"context"
	"sync"
	"time"
)

// flight keeps one value per key for ttl and lets concurrent misses share
// one lookup in flight. A failed lookup is not kept, and an entry made for
// another tag (what the value was computed from) counts as a miss.
type flight[V any] struct {
	ttl time.Duration

	mu sync.Mutex
	m  map[string]*flightCall[V]
}

type flightCall[V any] struct {
	done chan struct{}
	at   time.Time
	tag  string
	v    V
	err  error
}

func newFlight[V any](ttl time.Duration) *flight[V] {
	return &flight[V]{ttl: ttl, m: map[string]*flightCall[V]{}}
}

// get returns key's value, calling load (bounded by timeout, and not
// cancelled by this caller leaving, since others may share it) on a miss.
func (f *flight[V]) get(ctx context.Context, key, tag string, timeout time.Duration, load func(context.Context) (V, error)) (V, error) {
	f.mu.Lock()
	c, ok := f.m[key]
	if ok && c.tag != tag {
		ok = false
	}
	if ok {
		select {
		case <-c.done:
			if time.Since(c.at) > f.ttl || c.err != nil {
				ok = false
			}
		default: // in flight: share it
		}
	}
	if !ok {
		c = &flightCall[V]{done: make(chan struct{}), at: time.Now(), tag: tag}
		f.m[key] = c
		f.mu.Unlock()
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
		c.v, c.err = load(lctx)
		cancel()
		close(c.done)
		return c.v, c.err
	}
	f.mu.Unlock()
	select {
	case <-c.done:
		return c.v, c.err
	case <-ctx.Done():
		var zero V
		return zero, ctx.Err()
	}
}

// forget drops key's value, so the next get loads it again (waiters of
// a lookup in flight still get its result).
func (f *flight[V]) forget(key string) {
	f.mu.Lock()
	delete(f.m, key)
	f.mu.Unlock()
}
