package feeds

import (
	"errors"
	"net/url"
	"strings"

	"golang.org/x/net/idna"
)

var errBadLink = errors.New("bad link")

// normalizeLink returns raw as an absolute http(s) URL that is RFC 3986
// compliant, as Google requires of links ("ASCII characters only, and RFC
// 3986 compliant"): an internationalised host becomes punycode, other
// characters RFC 3986 does not allow are percent-encoded (percentEncode).
// Anything else is errBadLink.
func normalizeLink(raw string) (string, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" || len(raw) > 4*maxLink {
		return "", errBadLink
	}
	for i := 0; i < len(raw); i++ {
		if raw[i] < 0x20 || raw[i] == 0x7f {
			return "", errBadLink
		}
	}
	esc := percentEncode(raw)
	u, err := url.Parse(esc)
	if err != nil {
		return "", errBadLink
	}
	u.Scheme = strings.ToLower(u.Scheme)
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Opaque != "" || u.User != nil {
		return "", errBadLink
	}
	if esc == raw && strings.HasPrefix(raw, u.Scheme+"://") && asciiHost(u.Host) {
		// Already a compliant URL with a lower-case scheme: keep it as written.
		if len(raw) > maxLink {
			return "", errBadLink
		}
		return raw, nil
	}
	host := u.Host
	if !asciiHost(host) {
		if host, err = idna.Lookup.ToASCII(host); err != nil || host == "" {
			return "", errBadLink
		}
	}
	u.Host = host
	out := u.String()
	if len(out) > maxLink || !rfc3986(out) {
		return "", errBadLink
	}
	return out, nil
}

// percentEncode percent-encodes every byte RFC 3986 does not allow in a
// URI: non-ASCII bytes, spaces and " < > \ ^ ` { | }, a '%' that does not
// start a %XX escape (so "50%" means what the shop wrote), a '#' after
// the first (a fragment cannot hold one) and '[' or ']' outside the host
// (only an IPv6 host may hold them; "?size[]=m" is common in shop links).
// The rest, including existing %XX escapes, stays as written: re-encoding
// them would change the link.
func percentEncode(s string) string {
	if rfc3986(s) {
		return s
	}
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s) + 16)
	host := hostEnd(s)
	fragment := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		keep := allowedAt(s, i, host, fragment)
		fragment = fragment || c == '#'
		if keep {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

// rfc3986 reports whether s is made only of characters RFC 3986 allows,
// with every '%' starting a %XX escape, at most one '#' and brackets only
// in the host.
func rfc3986(s string) bool {
	host := hostEnd(s)
	fragment := false
	for i := 0; i < len(s); i++ {
		if !allowedAt(s, i, host, fragment) {
			return false
		}
		fragment = fragment || s[i] == '#'
	}
	return true
}

// allowedAt reports whether RFC 3986 allows s[i] where it stands: host is
// where the authority ends (hostEnd), fragment whether a '#' came before.
func allowedAt(s string, i, host int, fragment bool) bool {
	switch c := s[i]; {
	case !uriChar(c):
		return false
	case c == '%':
		return escapeAt(s, i)
	case c == '#':
		return !fragment
	case c == '[', c == ']':
		return i < host
	}
	return true
}

// hostEnd is the index where the authority of "scheme://authority/..."
// ends (the first '/', '?' or '#' after it), or 0 when s has none.
func hostEnd(s string) int {
	_, rest, ok := strings.Cut(s, "://")
	if !ok {
		return 0
	}
	start := len(s) - len(rest)
	if end := strings.IndexAny(rest, "/?#"); end >= 0 {
		return start + end
	}
	return len(s)
}

// uriChar reports the characters RFC 3986 allows in a URI: unreserved
// (letters, digits, - . _ ~), reserved (: / ? # [ ] @ ! $ & ' ( ) * + , ; =)
// and '%' for escapes.
func uriChar(c byte) bool {
	return isASCIILetter(c) || (c >= '0' && c <= '9') || strings.IndexByte("-._~:/?#[]@!$&'()*+,;=%", c) >= 0
}

// escapeAt reports whether s[i] starts a %XX escape.
func escapeAt(s string, i int) bool {
	return i+2 < len(s) && s[i] == '%' && isHexDigit(s[i+1]) && isHexDigit(s[i+2])
}

func isHexDigit(c byte) bool {
	return (c >= '0' && c <= '9') || ((c|0x20) >= 'a' && (c|0x20) <= 'f')
}

// asciiHost accepts host[:port] made of letters, digits, '-', '.', ':'
// and IPv6 brackets.
func asciiHost(h string) bool {
	if h == "" {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !(isASCIILetter(c) || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == ':' || c == '[' || c == ']' || c == '_') {
			return false
		}
	}
	return true
}

// landing adds the tracking parameters to a normalised link: existing
// utm_source/utm_medium/utm_campaign and the offer parameter are replaced,
// other parameters and the fragment are kept.
func landing(link string, params [][2]string) string {
	base, frag, hasFrag := strings.Cut(link, "#")
	path, query, _ := strings.Cut(base, "?")
	replaced := map[string]bool{}
	for _, p := range params {
		replaced[p[0]] = true
	}
	var b strings.Builder
	b.Grow(len(link) + 128)
	b.WriteString(path)
	sep := byte('?')
	if query != "" {
		for _, kv := range strings.Split(query, "&") {
			k, _, _ := strings.Cut(kv, "=")
			if kv == "" || replaced[k] {
				continue
			}
			b.WriteByte(sep)
			b.WriteString(kv)
			sep = '&'
		}
	}
	for _, p := range params {
		if p[1] == "" {
			continue
		}
		b.WriteByte(sep)
		b.WriteString(p[0])
		b.WriteByte('=')
		b.WriteString(url.QueryEscape(p[1]))
		sep = '&'
	}
	if hasFrag {
		b.WriteByte('#')
		b.WriteString(frag)
	}
	return b.String()
}
