package ingest

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/remarket/remarket/internal/sanitize"
)

// Bad-input rules shared by the pixel and the JSON API. Nothing a client
// sends is stored raw:
//
//   - Text (ids, urls, titles, names, categories, currency) has invalid
//     UTF-8 replaced by U+FFFD, tabs and line breaks turned into spaces,
//     every other control character and every bidirectional control
//     (U+202A-U+202E, U+2066-U+2069, U+200E, U+200F, U+061C) removed, surrounding space trimmed,
//     and is then cut at a character boundary to its cap (maxURL,
//     maxTitle, ...). Over-long text is clamped, not rejected; an id over
//     maxID is a rejected field (cleanID).
//   - Money (price, revenue/value/total) must be a finite number (or a
//     string in plain decimal notation) in [0, maxAmount]; quantity a whole number in
//     [0, maxQuantity]; currency three ASCII letters (upper-cased).
//   - A value breaking a money/quantity/currency rule is a rejected field:
//     the JSON API answers 400 naming it (e.g. "properties.price: ..."),
//     the pixel drops just that field and counts it in
//     remarket_pixel_fields_dropped_total{field}.
//   - Times: see eventTime (clock-skew correction and the MaxPast/MaxFuture
//     window); ids: see eventID.
const (
	maxURL      = 2000
	maxTitle    = 500
	maxName     = 200 // event and page names
	maxID       = 200 // visitor, user, product, sku, order ids
	maxCategory = 500
	maxUA       = 500
	maxMsgID    = 100 // a longer non-UUID messageId is refused, see eventID

	maxAmount   = 1e9
	maxQuantity = 1_000_000
)

// fieldError names the input field that broke a rule; the JSON API shows
// it as is, the pixel counts it by field.
type fieldError struct {
	Field  string
	Reason string
}

func (e *fieldError) Error() string { return e.Field + ": " + e.Reason }

// cleanText applies the text rule: valid UTF-8, no control characters
// or bidirectional controls, trimmed, at most max bytes (cut at a rune boundary).
func cleanText(s string, max int) string {
	if isPlain(s) && len(s) <= max {
		return strings.TrimSpace(s)
	}
	var b strings.Builder
	b.Grow(min(len(s), max))
	for _, r := range strings.ToValidUTF8(s, "\uFFFD") {
		switch {
		case r == '\t' || r == '\n' || r == '\r':
			r = ' '
		case unicode.IsControl(r), sanitize.IsBidiControl(r):
			continue
		}
		b.WriteRune(r)
	}
	return truncate(strings.TrimSpace(b.String()), max)
}

// cleanID applies the text rule to an id (visitor, user, order, product,
// sku) and refuses one over maxID bytes: cutting it, as other text is
// cut, would make two long ids that share a prefix one person, order or
// product.
func cleanID(field, s string) (string, *fieldError) {
	id := cleanText(s, len(s)*3) // room for U+FFFD replacements: nothing cut
	if len(id) > maxID {
		return "", &fieldError{field, fmt.Sprintf("longer than %d bytes", maxID)}
	}
	return id, nil
}

// isPlain reports whether s is printable ASCII: the common case, kept
// allocation-free.
func isPlain(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f {
			return false
		}
	}
	return true
}

// truncate cuts s to at most max bytes without splitting a character.
func truncate(s string, max int) string {
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return strings.TrimSpace(s[:cut])
}

// cleanCategory applies the text rule and normalises a category path to
// "A > B > C" so that "A>B" and "A >  B" count as the same category.
func cleanCategory(s string) string {
	s = cleanText(s, maxCategory*2)
	if s == "" {
		return ""
	}
	parts := strings.Split(s, ">")
	out := parts[:0]
	for _, p := range parts {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return truncate(strings.Join(out, " > "), maxCategory)
}

// parseAmount reads a price or order value from a JSON number, a numeric
// string or a pixel parameter.
func parseAmount(field string, v any) (float64, error) {
	f, err := toFloat(v)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || f > maxAmount {
		return 0, &fieldError{field, fmt.Sprintf("must be a number between 0 and %.0f", float64(maxAmount))}
	}
	return f, nil
}

// parseQuantity reads a whole number of items.
func parseQuantity(field string, v any) (uint32, error) {
	f, err := toFloat(v)
	if err != nil || f != math.Trunc(f) || f < 0 || f > maxQuantity {
		return 0, &fieldError{field, fmt.Sprintf("must be a whole number between 0 and %d", maxQuantity)}
	}
	return uint32(f), nil
}

// parseCurrency accepts an ISO 4217 code in any case.
func parseCurrency(field string, v any) (string, error) {
	s, ok := v.(string)
	s = strings.TrimSpace(s)
	if !ok || len(s) != 3 {
		return "", &fieldError{field, "must be a three-letter ISO 4217 code"}
	}
	for i := 0; i < 3; i++ {
		if c := s[i] | 0x20; c < 'a' || c > 'z' {
			return "", &fieldError{field, "must be a three-letter ISO 4217 code"}
		}
	}
	return strings.ToUpper(s), nil
}

// toFloat accepts JSON numbers (float64 or json.Number) and numeric
// strings, as sent by SDKs that stringify prices, in plain decimal
// notation only (no "0x1p10", "1_000" or "Inf").
func toFloat(v any) (float64, error) {
	switch x := v.(type) {
	case float64:
		return x, nil
	case json.Number:
		return sanitize.Decimal(string(x))
	case string:
		return sanitize.Decimal(strings.TrimSpace(x))
	}
	return 0, fmt.Errorf("not a number: %T", v)
}

// textValue turns a JSON scalar into text (ids are sometimes numbers).
func textValue(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case json.Number:
		return string(x), true
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), true
	case bool:
		return strconv.FormatBool(x), true
	}
	return "", false
}
