package feeds

import (
	"html"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/rivo/uniseg"
)

// Field limits of the Google Merchant spec (Meta's are looser), in characters.
const (
	maxID          = 50
	maxTitle       = 150
	maxDescription = 5000
	maxLabel       = 100
	maxLink        = 2000
)

// cleanText makes s safe for every format: valid UTF-8, only characters
// XML 1.0 allows, no control characters, no bidirectional-text controls
// (see bidiControl), whitespace runs collapsed to one space (so a CSV cell
// never spans lines), trimmed.
func cleanText(s string) string {
	if isPlain(s) {
		return s
	}
	if t := strings.TrimSpace(s); isPlain(t) {
		return t
	}
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for i := 0; i < len(s); {
		if c := s[i]; c > 0x20 && c < 0x7f { // ASCII fast path
			if space {
				b.WriteByte(' ')
				space = false
			}
			b.WriteByte(c)
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		if r == utf8.RuneError && size <= 1 {
			continue // invalid byte: dropped
		}
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			space = b.Len() > 0
			continue
		}
		if !xmlChar(r) || r == '\u2028' || r == '\u2029' || bidiControl(r) {
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(r)
	}
	return b.String()
}

// bidiControl reports the characters that change the direction of the
// text around them (embeddings, overrides, isolates and the invisible
// direction marks). In a catalog title they can make an ad read other
// than it is written ("Trojan Source"): U+202E shows "gpj.exe" as
// "exe.jpg". Unicode classes them as format characters, not controls, so
// they are listed here. Right-to-left text displays without them (the
// Unicode bidi algorithm orders it); at worst punctuation between words of
// two directions sits on the other side.
func bidiControl(r rune) bool {
	switch {
	case r >= '\u202A' && r <= '\u202E', // LRE, RLE, PDF, LRO, RLO
		r >= '\u2066' && r <= '\u2069', // LRI, RLI, FSI, PDI
		r == '\u200E', r == '\u200F',   // LRM, RLM
		r == '\u061C': // ALM
		return true
	}
	return false
}

// isPlain is the fast path: printable ASCII, no double spaces, trimmed.
func isPlain(s string) bool {
	prevSpace := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7f {
			return false
		}
		if c == ' ' {
			if prevSpace {
				return false
			}
			prevSpace = true
		} else {
			prevSpace = false
		}
	}
	return !prevSpace || s == ""
}

// xmlChar reports whether r is allowed by XML 1.0 (Char production),
// excluding the noncharacters U+FFFE/U+FFFF.
func xmlChar(r rune) bool {
	switch {
	case r == 0x9 || r == 0xA || r == 0xD:
		return true
	case r >= 0x20 && r <= 0xD7FF:
		return true
	case r >= 0xE000 && r <= 0xFFFD:
		return true
	case r >= 0x10000 && r <= 0x10FFFF:
		return true
	}
	return false
}

// stripHTML decodes entities and removes tags, for descriptions: Meta
// wants plain text and Google discourages markup. Decoding first means an
// escaped tag ("&lt;b&gt;") is removed too.
func stripHTML(s string) string {
	if hasEntity(s) {
		s = html.UnescapeString(s)
	}
	if !hasTag(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '<' && i+1 < len(s) && (isASCIILetter(s[i+1]) || s[i+1] == '/' || s[i+1] == '!') {
			end := strings.IndexByte(s[i:], '>')
			if end >= 0 {
				b.WriteByte(' ') // a tag separates words ("a<br>b" is "a b")
				i += end
				continue
			}
		}
		b.WriteByte(c)
	}
	return b.String()
}

// hasEntity reports whether s may hold a character reference ("&amp;",
// "&#39;"): UnescapeString copies any string with an '&'.
func hasEntity(s string) bool {
	for i := strings.IndexByte(s, '&'); i >= 0 && i+1 < len(s); {
		if c := s[i+1]; isASCIILetter(c) || c == '#' {
			return true
		}
		j := strings.IndexByte(s[i+1:], '&')
		if j < 0 {
			return false
		}
		i += 1 + j
	}
	return false
}

// hasTag reports whether s has a "<" that opens a tag.
func hasTag(s string) bool {
	for i := strings.IndexByte(s, '<'); i >= 0 && i+1 < len(s); {
		if c := s[i+1]; isASCIILetter(c) || c == '/' || c == '!' {
			return strings.IndexByte(s[i:], '>') >= 0
		}
		j := strings.IndexByte(s[i+1:], '<')
		if j < 0 {
			return false
		}
		i += 1 + j
	}
	return false
}

func isASCIILetter(c byte) bool { return (c|0x20) >= 'a' && (c|0x20) <= 'z' }

// truncate shortens clean text to at most max characters, cutting at the
// last word boundary in the second half of the budget (else mid-word) and
// marking the cut with an ellipsis. It cuts between grapheme clusters, so
// a flag, an emoji sequence or a letter with its combining marks is kept
// whole or left out, never split into something else.
func truncate(s string, max int) string {
	if len(s) <= max || utf8.RuneCountInString(s) <= max {
		return s
	}
	cut := graphemePrefix(s, max-1) // room for the ellipsis
	head := s[:cut]
	if s[cut] != ' ' { // cut falls inside a word: back up to a space
		if sp := strings.LastIndexByte(head, ' '); sp > len(head)/2 {
			head = head[:sp]
		}
	}
	return strings.TrimRight(head, " ,;:-") + "…"
}

// graphemePrefix is the byte length of the longest run of whole grapheme
// clusters at the start of s that has at most n characters. When even the
// first cluster is longer (a letter under dozens of stacked marks), it
// cuts after n characters: there is no boundary to cut at.
func graphemePrefix(s string, n int) int {
	cut, runes, state := 0, 0, -1
	for cut < len(s) {
		cluster, _, _, next := uniseg.FirstGraphemeClusterInString(s[cut:], state)
		r := utf8.RuneCountInString(cluster)
		if runes+r > n {
			break
		}
		cut, runes, state = cut+len(cluster), runes+r, next
	}
	if cut > 0 {
		return cut
	}
	for runes < n {
		_, size := utf8.DecodeRuneInString(s[cut:])
		cut += size
		runes++
	}
	return cut
}

// fitText is cleanText then truncate.
func fitText(s string, max int) string { return truncate(cleanText(s), max) }
