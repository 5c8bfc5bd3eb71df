package ingest

import (
	"encoding/json"
	"net/http"
	"net/netip"
	"strings"
)

// Privacy rules applied to every event, whatever its source.
//
// Opt-out: a visitor is opted out of audiences (the event is still stored,
// flagged opted_out=1, and counts in aggregates; no cookie is set) when
//   - the request carries Sec-GPC: 1 (always honoured),
//   - or DNT: 1 and ingest.honor_dnt is true (the default),
//   - or the event carries a consent flag of "no": pixel c=0 (also
//     c=false/no/n); JSON context.consent, context.consent.advertising or
//     "advertising"/"Advertising" in context.consent.categoryPreferences
//     (Segment Consent Management) that is false, 0, "false", "0" or "no".
//
// IP: the client address is the TCP peer, or — only when the peer is a
// loopback or private address, i.e. our own proxy — the right-most
// X-Forwarded-For entry that is not itself loopback or private
// (httpx.ClientIP, which the rate limits use too). A JSON
// event's context.ip (server-side SDKs) replaces it. ingest.ip_mode then
// keeps it, drops it, or (default) truncates it to its /24 (IPv4) or /48
// (IPv6) network; an IPv6 address that carries an IPv4 address (6to4,
// Teredo, NAT64, mapped, compatible) is stored as that IPv4's /24.
//
// Bots: a user agent matching botMarkers marks the event is_bot=1; it is
// stored and kept out of segments. Whose user agent: see judgeBot.

// optOutHeaders reports a browser-level opt-out signal.
func optOutHeaders(h http.Header, honorDNT bool) bool {
	if strings.TrimSpace(h.Get("Sec-GPC")) == "1" {
		return true
	}
	return honorDNT && strings.TrimSpace(h.Get("DNT")) == "1"
}

// consentDenied reads the pixel's c parameter.
func consentDenied(c string) bool {
	switch strings.ToLower(strings.TrimSpace(c)) {
	case "0", "false", "no", "n":
		return true
	}
	return false
}

// refusal reports whether a JSON consent value says no: false, 0, or a
// string consentDenied refuses ("false", "0", "no"). SDKs and consent
// tools send all of these shapes; treating any of them as consent would
// put a person who said no into audiences.
func refusal(v any) bool {
	switch x := v.(type) {
	case bool:
		return !x
	case string:
		return consentDenied(x)
	case json.Number:
		f, err := x.Float64()
		return err == nil && f == 0
	case float64:
		return x == 0
	}
	return false
}

// contextConsentDenied reads a JSON event's context.consent: a flag, or
// an object with an advertising flag or Segment Consent Management's
// categoryPreferences.
func contextConsentDenied(consent any) bool {
	c, ok := consent.(map[string]any)
	if !ok {
		return refusal(consent)
	}
	if refusal(c["advertising"]) {
		return true
	}
	prefs, _ := c["categoryPreferences"].(map[string]any)
	for k, v := range prefs {
		if strings.EqualFold(k, "advertising") && refusal(v) {
			return true
		}
	}
	return false
}

// storedIP applies ingest.ip_mode to an address ("" when dropped or
// unknown).
func storedIP(a netip.Addr, mode string) string {
	if !a.IsValid() {
		return ""
	}
	switch mode {
	case "keep":
		return a.String()
	case "drop":
		return ""
	}
	if v4, ok := embeddedIPv4(a); ok {
		a = v4
	}
	bits := 24
	if a.Is6() {
		bits = 48
	}
	p, err := a.Prefix(bits)
	if err != nil {
		return ""
	}
	return p.Addr().String()
}

// nat64 is the well-known NAT64 prefix 64:ff9b::/96 (RFC 6052).
var nat64 = netip.MustParsePrefix("64:ff9b::/96")

// embeddedIPv4 finds the IPv4 address of a person that an IPv6 address
// carries, so that truncation treats it like any IPv4 address: a /48 of
// a 6to4 address (2002:AABB:CCDD::/48) is the whole IPv4 address
// AA.BB.CC.DD. The forms: IPv4-mapped (::ffff:a.b.c.d), IPv4-compatible
// (::a.b.c.d), NAT64 (64:ff9b::a.b.c.d), 6to4 (2002:aabb:ccdd::/16,
// bits 16-47) and Teredo (2001:0::/32, the client's address inverted in
// the last 32 bits).
func embeddedIPv4(a netip.Addr) (netip.Addr, bool) {
	if a.Is4In6() {
		return a.Unmap(), true
	}
	if !a.Is6() {
		return netip.Addr{}, false
	}
	b := a.As16()
	last := [4]byte(b[12:16])
	switch {
	case b[0] == 0x20 && b[1] == 0x02:
		return netip.AddrFrom4([4]byte(b[2:6])), true
	case b[0] == 0x20 && b[1] == 0x01 && b[2] == 0 && b[3] == 0:
		return netip.AddrFrom4([4]byte{^last[0], ^last[1], ^last[2], ^last[3]}), true
	case nat64.Contains(a):
		return netip.AddrFrom4(last), true
	case [12]byte(b[:12]) == [12]byte{} && last != [4]byte{} && last != [4]byte{0, 0, 0, 1}:
		return netip.AddrFrom4(last), true // IPv4-compatible, not :: or ::1
	}
	return netip.Addr{}, false
}

// judgeBot decides is_bot for a JSON API event, and whose user agent it
// stores. The write key is public, so a call's authentication says
// nothing about who sent it; where it came from does:
//   - context.userAgent, when present, is the visitor's browser, whoever
//     relays it: it is judged (a server may report a crawler's visit).
//   - Otherwise a request a browser sent (the snippet, a browser SDK: it
//     carries Origin, which browsers add to every POST, or Sec-Fetch-Site)
//     is judged by its own User-Agent; a browser always sends one, so an
//     empty one is a bot, as on the pixel.
//   - Otherwise it is a server-side call that did not say who the visitor
//     is: its User-Agent is the HTTP library's (Go-http-client, curl,
//     python-requests), not the visitor's, so it is neither judged nor
//     stored, and the event is not a bot. A backend reporting purchases
//     keeps them in segments.
func judgeBot(ev *Event, req *http.Request) {
	switch {
	case ev.UserAgent != "":
		ev.IsBot = isBot(ev.UserAgent)
	case fromBrowser(req):
		ev.UserAgent = cleanText(req.UserAgent(), maxUA)
		ev.IsBot = ev.UserAgent == "" || isBot(ev.UserAgent)
	}
}

// fromBrowser reports whether a browser sent req: browsers add Origin to
// every POST (fetch, sendBeacon, XHR; "null" under a strict referrer
// policy) and Sec-Fetch-Site to every request; HTTP libraries add neither.
func fromBrowser(req *http.Request) bool {
	return req.Header.Get("Origin") != "" || req.Header.Get("Sec-Fetch-Site") != ""
}

// botMarkers are lower-case substrings of user agents of crawlers,
// monitors, headless browsers and HTTP libraries. They deliberately avoid
// browser names that merely contain a crawler's brand (the DuckDuckGo,
// Baidu and Yandex browsers). A substring scan rather than a regexp: this
// runs on every pixel hit, and Go's regexp made it the hit's main cost.
var botMarkers = []string{
	"crawl", "spider", "slurp", "scraper", "headless", "phantomjs", "puppeteer", "playwright",
	"selenium", "webdriver", "lighthouse", "pagespeed", "pingdom", "uptime", "monitor",
	"curl/", "wget/", "python-requests", "python-urllib", "aiohttp", "httpx", "go-http-client",
	"java/", "okhttp", "apache-httpclient", "libwww", "node-fetch", "axios/", "postman", "insomnia",
	"facebookexternalhit", "facebookcatalog", "adsbot", "mediapartners-google", "googleother",
	"google-inspectiontool", "bingpreview", "semrush", "ahrefs", "mj12", "bytespider", "gptbot",
	"ccbot", "claudebot", "anthropic-ai", "perplexity", "preview", "validator", "feedfetcher",
	"whatsapp", "telegram", "embedly", "vkshare", "qwantify", "archive.org",
}

// isBot reports whether a user agent belongs to a machine: it contains a
// bot marker, or the word "bot" (Googlebot/2.1, bingbot, AhrefsBot...) not
// followed by a letter. The phone maker Cubot is not a bot. An empty user
// agent is judged by the caller: a browser always sends one, a server-side
// SDK reporting for a visitor may not.
func isBot(ua string) bool {
	if ua == "" {
		return false
	}
	lower := strings.ToLower(ua)
	for _, m := range botMarkers {
		if strings.Contains(lower, m) {
			return true
		}
	}
	for i := 0; ; {
		j := strings.Index(lower[i:], "bot")
		if j < 0 {
			return false
		}
		at := i + j
		end := at + 3
		cubot := at >= 2 && lower[at-2:at] == "cu"
		if !cubot && (end == len(lower) || lower[end] < 'a' || lower[end] > 'z') {
			return true
		}
		i = end
	}
}
