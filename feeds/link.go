package feeds

import (
	"errors"
	"net/url"
	"strings"

	"golang.org/x/net/idna"
)

var errBadLink = errors.New("bad link")

// normalizeLink returns raw as an absolute http(s) URL of printable ASCII:
// an internationalised host becomes punycode, other non-ASCII bytes (and
// spaces) are percent-encoded. Anything else is errBadLink.
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
	esc := escapeNonASCII(raw)
	u, err := url.Parse(esc)
	if err != nil {
		return "", errBadLink
	}
	u.Scheme = strings.ToLower(u.Scheme)
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Opaque != "" || u.User != nil {
		return "", errBadLink
	}
	if esc == raw && strings.HasPrefix(raw, u.Scheme+"://") && asciiHost(u.Host) {
		// Already an ASCII URL with a lower-case scheme: keep it as written.
		if len(raw) > maxLink || !printableASCII(raw) {
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
	if len(out) > maxLink || !printableASCII(out) {
		return "", errBadLink
	}
	return out, nil
}

// escapeNonASCII percent-encodes bytes ≥ 0x80, spaces and quotes, leaving
// the rest (including existing %XX escapes) as written.
func escapeNonASCII(s string) string {
	const hex = "0123456789ABCDEF"
	need := false
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 0x80 || c == ' ' || c == '"' || c == '<' || c == '>' {
			need = true
			break
		}
	}
	if !need {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x80 || c == ' ' || c == '"' || c == '<' || c == '>' {
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
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

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= 0x20 || s[i] >= 0x7f {
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
