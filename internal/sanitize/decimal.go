// Package sanitize holds the rules for untrusted text and numbers that
// more than one capability applies to what it stores: ingest to events,
// the catalog to products.
package sanitize

import (
	"errors"
	"math"
	"strconv"
)

// ErrNotDecimal means a number is not written in plain decimal notation.
var ErrNotDecimal = errors.New("not a decimal number")

// Decimal parses a number written in plain decimal notation: an optional
// sign, digits with at most one decimal point (at least one digit in all),
// and an optional exponent (e or E, an optional sign, digits). Go's
// ParseFloat also takes hexadecimal floats ("0x1p10" = 1024), digit
// separators ("1_000") and "Inf"/"NaN", which no shop means as a price;
// those, spaces and anything else are ErrNotDecimal, as is a value too
// large for a float64.
func Decimal(s string) (float64, error) {
	if !isDecimal(s) {
		return 0, ErrNotDecimal
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) {
		return 0, ErrNotDecimal
	}
	return f, nil
}

func isDecimal(s string) bool {
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	digits := 0
	for ; i < len(s) && isDigit(s[i]); i++ {
		digits++
	}
	if i < len(s) && s[i] == '.' {
		for i++; i < len(s) && isDigit(s[i]); i++ {
			digits++
		}
	}
	if digits == 0 {
		return false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		start := i
		for ; i < len(s) && isDigit(s[i]); i++ {
		}
		if i == start {
			return false
		}
	}
	return i == len(s)
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
