package sanitize_test

import (
	"testing"

	"github.com/remarket/remarket/internal/sanitize"
)

func TestDecimal(t *testing.T) {
	ok := map[string]float64{"0": 0, "12": 12, "12.50": 12.5, "12.": 12, ".5": 0.5, "-3": -3, "+3": 3, "1e3": 1000, "2.5E-1": 0.25, "007": 7}
	for in, want := range ok {
		if got, err := sanitize.Decimal(in); err != nil || got != want {
			t.Errorf("Decimal(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", ".", "-", "+.", "0x1p10", "0X10", "1_000", "0x1_0p0", "Inf", "+Inf", "infinity", "NaN", "nan",
		" 12", "12 ", "1,5", "1.2.3", "1e", "1e+", "e5", "١٢", "12USD", "1e400"} {
		if got, err := sanitize.Decimal(in); err == nil {
			t.Errorf("Decimal(%q) = %v, want an error", in, got)
		}
	}
}

func FuzzDecimal(f *testing.F) {
	for _, s := range []string{"12.50", "0x1p10", "1_000", "-1e-3", "Inf"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := sanitize.Decimal(s)
		if err != nil {
			return
		}
		for i := 0; i < len(s); i++ {
			if c := s[i]; !(c >= '0' && c <= '9' || c == '.' || c == '-' || c == '+' || c == 'e' || c == 'E') {
				t.Fatalf("Decimal(%q) = %v accepted byte %q", s, v, c)
			}
		}
	})
}
