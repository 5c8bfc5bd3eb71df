package httpx

import (
	"fmt"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
)

// Wrong secrets are throttled per client and site: a client may give
// ThrottleBurst wrong ones for a site at once, then one more every
// ThrottleEvery. While it has none left every attempt, right or wrong, is
// refused with 429 and Retry-After (a right one let through would tell
// the guesser it had found the token), so guessing a token costs time
// instead of thousands of tries a second. The state is per process: behind
// a load balancer each instance allows as much (tokens from remarket init
// are 192 random bits, so the throttle is a brake on noise and weak
// hand-made tokens, not what keeps them secret). A wrong site id counts
// like a wrong token.
const (
	ThrottleBurst = 5
	ThrottleEvery = 20 * time.Second
	// maxThrottled bounds the clients remembered at once; past it the
	// ones whose allowance is full again are forgotten first.
	maxThrottled = 65536
)

// Throttle remembers each client's wrong answers per site.
type Throttle struct {
	// Now is the clock (tests replace it).
	Now func() time.Time

	mu      sync.Mutex
	clients map[throttleKey]time.Time // when the client's allowance is full again
}

type throttleKey struct {
	client netip.Prefix // an IPv4 address, or an IPv6 /64 (one subscriber)
	site   string
}

// NewThrottle returns a throttle that remembers nobody yet.
func NewThrottle() *Throttle {
	return &Throttle{Now: time.Now, clients: map[throttleKey]time.Time{}}
}

func keyOf(ip netip.Addr, site string) throttleKey {
	bits := 32
	if ip.Is6() {
		bits = 64
	}
	p, _ := ip.Prefix(bits)
	return throttleKey{p, site}
}

// Wait is how long the client must wait before its next attempt (0: it
// may try now). The "full again" time is a leaky bucket: each failure
// adds ThrottleEvery and time drains it; a client whose bucket holds
// ThrottleBurst failures waits until one has drained.
func (t *Throttle) Wait(ip netip.Addr, site string) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.clients) == 0 {
		return 0
	}
	full, ok := t.clients[keyOf(ip, site)]
	if !ok {
		return 0
	}
	if limit := t.Now().Add((ThrottleBurst - 1) * ThrottleEvery); full.After(limit) {
		return full.Sub(limit)
	}
	return 0
}

// Failed records a wrong answer.
func (t *Throttle) Failed(ip netip.Addr, site string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.Now()
	k := keyOf(ip, site)
	full, ok := t.clients[k]
	if !ok && len(t.clients) >= maxThrottled {
		t.forget(now)
	}
	if full.Before(now) {
		full = now
	}
	t.clients[k] = full.Add(ThrottleEvery)
}

// Succeeded forgets the client's failures.
func (t *Throttle) Succeeded(ip netip.Addr, site string) {
	t.mu.Lock()
	delete(t.clients, keyOf(ip, site))
	t.mu.Unlock()
}

// forget drops the clients whose allowance is full again, and if that is
// not enough, any others: the map never grows without bound.
func (t *Throttle) forget(now time.Time) {
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

// Throttled answers 429 with Retry-After when the client of c must wait
// before trying a secret for site again; what names what was wrong
// ("sign-ins", "admin tokens"). It reports whether it answered.
func (t *Throttle) Throttled(c *gin.Context, site, what string) bool {
	wait := t.Wait(ClientIP(c.Request), site)
	if wait <= 0 {
		return false
	}
	secs := int((wait + time.Second - 1) / time.Second)
	c.Header("Retry-After", strconv.Itoa(secs))
	Fail(c, Errorf(TooMany, fmt.Sprintf("too many failed %s for this site from your address: try again in %d seconds", what, secs)))
	return true
}
