package httpx

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// ClientIP is the address of the client behind r: the TCP peer, or, only
// when the peer is a loopback or private address (our own proxy), the
// right-most X-Forwarded-For entry that is not itself loopback or
// private. Anything further left was written by the client and proves
// nothing. (ingest applies the same rule to the events it stores.)
func ClientIP(r *http.Request) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	peer = peer.Unmap()
	if !trustedProxy(peer) {
		return peer
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break
		}
		if a = a.Unmap(); !trustedProxy(a) {
			return a
		}
	}
	return peer
}

func trustedProxy(a netip.Addr) bool { return a.IsLoopback() || a.IsPrivate() }
