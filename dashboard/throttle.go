package dashboard

import (
	"net/netip"
	"sync"
	"time"
)

// Failed sign-ins are throttled per client and site: a client may get
// signInBurst wrong answers for a site at once, then one more every
// signInEvery. While it has none left every attempt, right or wrong, is
// refused with 429 and Retry-After, so guessing a token costs time
// instead of 2,000 tries a second. The state is per process: behind a
// load balancer each instance allows as much (admin tokens from remarket
// init are 192 random bits, so the throttle is a brake on noise and weak
// hand-made tokens, not what keeps them secret). A wrong site id counts
// like a wrong token.
const (
	signInBurst = 5
	signInEvery = 20 * time.Second
	// maxThrottled bounds the clients remembered at once; past it the
	// ones whose allowance is full again are forgotten first.
	maxThrottled = 65536
)

type throttle struct {
	mu      sync.Mutex
	now     func() time.Time
	clients map[throttleKey]time.Time // when the client's allowance is full again
}

type throttleKey struct {
	client netip.Prefix // an IPv4 address, or an IPv6 /64 (one subscriber)
	site   string
}

func newThrottle() *throttle {
	return &throttle{now: time.Now, clients: map[throttleKey]time.Time{}}
}

func keyOf(ip netip.Addr, site string) throttleKey {
	bits := 32
	if ip.Is6() {
		bits = 64
	}
	p, _ := ip.Prefix(bits)
	return throttleKey{p, site}
}

// wait is how long the client must wait before its next attempt (0: it
// may try now). The "full again" time is a leaky bucket: each failure
// adds signInEvery and time drains it; a client whose bucket holds
// signInBurst failures waits until one has drained.
func (t *throttle) wait(ip netip.Addr, site string) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	full, ok := t.clients[keyOf(ip, site)]
	if !ok {
		return 0
	}
	if limit := t.now().Add((signInBurst - 1) * signInEvery); full.After(limit) {
		return full.Sub(limit)
	}
	return 0
}

// failed records a wrong answer.
func (t *throttle) failed(ip netip.Addr, site string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	k := keyOf(ip, site)
	full, ok := t.clients[k]
	if !ok && len(t.clients) >= maxThrottled {
		t.forget(now)
	}
	if full.Before(now) {
		full = now
	}
	t.clients[k] = full.Add(signInEvery)
}

// succeeded forgets the client's failures.
func (t *throttle) succeeded(ip netip.Addr, site string) {
	t.mu.Lock()
	delete(t.clients, keyOf(ip, site))
	t.mu.Unlock()
}

// forget drops the clients whose allowance is full again, and if that is
// not enough, any others: the map never grows without bound.
func (t *throttle) forget(now time.Time) {
	for k, full := range t.clients {
		if !full.After(now) {
			delete(t.clients, k)
		}
	}
	for k := range t.clients {
		if len(t.clients) < maxThrottled {
			break
		}
		delete(t.clients, k)
	}
}
