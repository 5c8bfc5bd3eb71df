package sanitize

import "strings"

// IsBidiControl reports whether r is a Unicode bidirectional control:
// an embedding or override (U+202A-U+202E), an isolate (U+2066-U+2069)
// or a mark (U+200E, U+200F, U+061C). In stored text they only serve to
// make it display as something else ("Canon<U+202E>gpj.exe" shows as
// "Canonexe.jpg"), in feeds, CSV exports and the dashboard alike.
func IsBidiControl(r rune) bool {
	switch {
	case r == 0x061C, r == 0x200E, r == 0x200F:
		return true
	case r >= 0x202A && r <= 0x202E, r >= 0x2066 && r <= 0x2069:
		return true
	}
	return false
}

// StripBidi removes bidirectional controls from s (s itself when it has
// none, without allocating).
func StripBidi(s string) string {
	if strings.IndexFunc(s, IsBidiControl) < 0 {
		return s
	}
	return strings.Map(func(r rune) rune {
		if IsBidiControl(r) {
			return -1
		}
		return r
	}, s)
}
