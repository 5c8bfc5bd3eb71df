package ingest

import (
	"net/http"
	"net/netip"
	"testing"

	"github.com/remarket/remarket/internal/httpx"
)

func TestIsBot(t *testing.T) {
	bots := []string{
		"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
		"AdsBot-Google (+http://www.google.com/adsbot.html)",
		"Mediapartners-Google",
		"facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
		"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0.0.0 Safari/537.36",
		"Mozilla/5.0 (Linux; Android 11; moto g power (2022)) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/109.0.0.0 Mobile Safari/537.36 Chrome-Lighthouse",
		"curl/8.5.0", "python-requests/2.31.0", "Wget/1.21", "Go-http-client/1.1",
		"Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
		"Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
		"Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.0; +https://openai.com/gptbot)",
		"Screaming Frog SEO Spider/19.0",
	}
	humans := []string{
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 14.4; rv:125.0) Gecko/20100101 Firefox/125.0",
		"Mozilla/5.0 (Linux; Android 10; CUBOT_X30) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Mobile Safari/537.36",
		"Mozilla/5.0 (Linux; Android 13) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Mobile Safari/537.36 DuckDuckGo/5",
		"analytics-node-next/latest",
		"",
	}
	for _, ua := range bots {
		if !isBot(ua) {
			t.Errorf("isBot(%q) = false", ua)
		}
	}
	for _, ua := range humans {
		if isBot(ua) {
			t.Errorf("isBot(%q) = true", ua)
		}
	}
}

func TestClientIPAndModes(t *testing.T) {
	cases := []struct {
		name, remote, xff, want string
	}{
		{"direct peer", "203.0.113.7:5000", "", "203.0.113.7"},
		{"forwarded header from a stranger is ignored", "203.0.113.7:5000", "198.51.100.1", "203.0.113.7"},
		{"our proxy: right-most public hop", "127.0.0.1:5000", "1.2.3.4, 198.51.100.1, 10.0.0.2", "198.51.100.1"},
		{"our proxy without header", "10.1.2.3:5000", "", "10.1.2.3"},
		{"ipv6 peer", "[2001:db8::1]:443", "", "2001:db8::1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := &http.Request{RemoteAddr: c.remote, Header: http.Header{}}
			if c.xff != "" {
				r.Header.Set("X-Forwarded-For", c.xff)
			}
			if got := httpx.ClientIP(r).String(); got != c.want {
				t.Fatalf("ClientIP = %s, want %s", got, c.want)
			}
		})
	}
	modes := []struct{ ip, mode, want string }{
		{"203.0.113.77", "truncate", "203.0.113.0"},
		{"2001:db8:abcd:1234::1", "truncate", "2001:db8:abcd::"},
		{"203.0.113.77", "drop", ""},
		// IPv6 addresses that carry an IPv4 address: truncated as that IPv4.
		{"2002:cb00:714d:1::1", "truncate", "203.0.113.0"},                // 6to4 of 203.0.113.77
		{"2001:0:4136:e378:8000:63bf:3fff:fdd2", "truncate", "192.0.2.0"}, // Teredo, client 192.0.2.45
		{"64:ff9b::cb00:714d", "truncate", "203.0.113.0"},                 // NAT64
		{"::ffff:203.0.113.77", "truncate", "203.0.113.0"},                // IPv4-mapped
		{"::cb00:714d", "truncate", "203.0.113.0"},                        // IPv4-compatible
		{"2002:cb00:714d:1::1", "keep", "2002:cb00:714d:1::1"},
		{"::1", "truncate", "::"},
		{"203.0.113.77", "keep", "203.0.113.77"},
	}
	for _, m := range modes {
		if got := storedIP(netip.MustParseAddr(m.ip), m.mode); got != m.want {
			t.Errorf("storedIP(%s, %s) = %q, want %q", m.ip, m.mode, got, m.want)
		}
	}
}

func TestOptOutSignals(t *testing.T) {
	h := http.Header{}
	if optOutHeaders(h, true) {
		t.Fatal("no header must not opt out")
	}
	h.Set("DNT", "1")
	if !optOutHeaders(h, true) || optOutHeaders(h, false) {
		t.Fatal("DNT must follow honor_dnt")
	}
	h = http.Header{"Sec-Gpc": {"1"}}
	if !optOutHeaders(h, false) {
		t.Fatal("Sec-GPC must always opt out")
	}
	denied := []any{false, "0", map[string]any{"advertising": false},
		map[string]any{"categoryPreferences": map[string]any{"Advertising": false, "Analytics": true}}}
	for _, c := range denied {
		if !contextConsentDenied(c) {
			t.Errorf("consent %v must opt out", c)
		}
	}
	for _, c := range []any{nil, true, map[string]any{"categoryPreferences": map[string]any{"Advertising": true}}} {
		if contextConsentDenied(c) {
			t.Errorf("consent %v must not opt out", c)
		}
	}
}
