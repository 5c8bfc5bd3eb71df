package sanitize_test

import (
	"testing"

	"github.com/remarket/remarket/internal/sanitize"
)

func TestStripBidi(t *testing.T) {
	for in, want := range map[string]string{
		"Canon\u202egpj.exe":        "Canongpj.exe",
		"\u2066a\u2069\u200e\u061c": "a",
		"plain":                     "plain",
		"עברית and العربية":         "עברית and العربية", // right-to-left text itself stays
		"👩\u200d💻":                  "👩\u200d💻",          // a zero-width joiner is not a bidi control
	} {
		if got := sanitize.StripBidi(in); got != want {
			t.Errorf("StripBidi(%q) = %q, want %q", in, got, want)
		}
	}
}
