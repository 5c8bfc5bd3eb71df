package catalog

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/remarket/remarket/internal/sanitize"
)

// field indexes Record.Values; the order is the order of Fields.
type field int

const (
	fID field = iota
	fTitle
	fDescription
	fLink
	fImageLink
	fPrice
	fCurrency
	fAvailability
	fCondition
	fBrand
	fGTIN
	fMPN
	fCategory
	fGoogleProductCategory
	fItemGroupID
	fStockQuantity
	fLaunchDate
	fTags
	fMargin
	fComplements
	fUpgrades
	fAvailabilityDate
	numFields
)

// fieldByName maps a column or JSON key to its field.
var fieldByName = func() map[string]field {
	m := make(map[string]field, len(Fields))
	for i, name := range Fields {
		m[name] = field(i)
	}
	return m
}()

func (f field) String() string { return Fields[f] }

// Record is one row as a parser read it, before validation. Every format
// reduces to this, so the rules of Validate are the same for all of them.
type Record struct {
	Line int // line of the file where the row starts (1-based)
	Item int // position of the row among the rows of the file (1-based)

	Values                      [numFields]string // raw text of the scalar fields
	Tags, Complements, Upgrades []string

	// Err is set when the row could not even be read (bad JSON, a CSV
	// line with the wrong number of fields); the row is skipped.
	Err *RowError
	// Warnings are things ignored while reading (unknown columns or keys);
	// they do not skip the row.
	Warnings []RowError
}

// stamp copies the record's position into its error and warnings.
func (r *Record) stamp() {
	if r.Err != nil {
		r.Err.Line, r.Err.Item = r.Line, r.Item
	}
	for i := range r.Warnings {
		r.Warnings[i].Line, r.Warnings[i].Item = r.Line, r.Item
	}
}

// set stores text for a field; list fields are split on "|".
func (r *Record) set(f field, text string) {
	switch f {
	case fTags:
		r.Tags = append(r.Tags, splitList(text)...)
	case fComplements:
		r.Complements = append(r.Complements, splitList(text)...)
	case fUpgrades:
		r.Upgrades = append(r.Upgrades, splitList(text)...)
	default:
		r.Values[f] = text
	}
}

func splitList(s string) []string {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	return strings.Split(s, "|")
}

// maxIDLen bounds product ids; Google Merchant allows 50, marketplaces more.
const maxIDLen = 150

// Validate turns a record into a product, or explains every reason it
// cannot (one RowError per bad field).
func (r *Record) Validate() (Product, []RowError) {
	var errs []RowError
	fail := func(f field, format string, args ...any) {
		errs = append(errs, RowError{Line: r.Line, Item: r.Item, Field: f.String(), Message: fmt.Sprintf(format, args...)})
	}
	// Bidirectional controls only make text display as something else.
	v := func(f field) string { return strings.TrimSpace(sanitize.StripBidi(r.Values[f])) }

	p := Product{
		ID:                    v(fID),
		Title:                 v(fTitle),
		Description:           v(fDescription),
		Link:                  v(fLink),
		ImageLink:             v(fImageLink),
		Brand:                 v(fBrand),
		GTIN:                  v(fGTIN),
		MPN:                   v(fMPN),
		Category:              normalizeCategory(v(fCategory)),
		GoogleProductCategory: v(fGoogleProductCategory),
		ItemGroupID:           v(fItemGroupID),
		LaunchDate:            epoch,
		AvailabilityDate:      epoch,
	}
	for _, f := range r.notUTF8() {
		fail(f, "%s", notUTF8(f.String()))
	}
	switch {
	case !utf8.ValidString(p.ID):
		// reported above
	case p.ID == "":
		fail(fID, "id is missing")
	case len(p.ID) > maxIDLen:
		fail(fID, "id is longer than %d bytes", maxIDLen)
	case strings.IndexFunc(p.ID, unicode.IsControl) >= 0 || p.ID != strings.TrimSpace(r.Values[fID]):
		// (an id is matched against events' product ids, so it is refused
		// rather than silently changed by taking its bidi controls out)
		fail(fID, "id has invalid characters")
	}
	for _, f := range []field{fLink, fImageLink} {
		if msg := checkURL(v(f)); msg != "" {
			fail(f, "%s", msg)
		}
	}

	price, priceCur, msg := parsePrice(v(fPrice))
	if msg != "" {
		fail(fPrice, "%s", msg)
	}
	p.Price = price
	p.Currency = strings.ToUpper(v(fCurrency))
	switch {
	case p.Currency == "" && priceCur == "":
		if msg == "" {
			fail(fCurrency, "currency is missing (a currency column, or a price like \"15.00 USD\")")
		}
	case p.Currency == "":
		p.Currency = priceCur
	case priceCur != "" && priceCur != p.Currency:
		fail(fCurrency, "currency %q disagrees with the price's %q", p.Currency, priceCur)
	}
	if p.Currency != "" {
		if _, ok := CurrencyDecimals(p.Currency); !ok {
			fail(fCurrency, "unknown currency %q (want an active ISO 4217 code such as USD or EUR)", p.Currency)
		}
	}

	var ok bool
	if p.Availability, ok = normalizeAvailability(v(fAvailability)); !ok {
		fail(fAvailability, "unknown availability %q (want in_stock, out_of_stock, preorder or backorder)", v(fAvailability))
	}
	if p.Condition, ok = normalizeCondition(v(fCondition)); !ok {
		fail(fCondition, "unknown condition %q (want new, refurbished or used)", v(fCondition))
	}
	if s := v(fStockQuantity); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		switch {
		case err != nil:
			fail(fStockQuantity, "stock_quantity %q is not a whole number", s)
		case n < 0:
			fail(fStockQuantity, "stock_quantity %d is negative", n)
		default:
			p.StockQuantity = n
			if n == 0 && v(fAvailability) == "" {
				// A stock count of none says more than the in_stock default.
				p.Availability = OutOfStock
			}
		}
	}
	if s := v(fLaunchDate); s != "" {
		d, msg := parseDate(s)
		if msg != "" {
			fail(fLaunchDate, "%s", msg)
		}
		p.LaunchDate = d
	}
	if s := v(fAvailabilityDate); s != "" {
		d, err := parseDateTime(s)
		if errors.Is(err, errDateTimeRange) {
			fail(fAvailabilityDate, "availability_date %q is out of range (years 1971 to 2105)", s)
		} else if err != nil {
			fail(fAvailabilityDate, "availability_date %q is not a date (want YYYY-MM-DD, or YYYY-MM-DDThh:mm with an offset such as +0100 or Z)", s)
		}
		p.AvailabilityDate = d
	}
	if s := v(fMargin); s != "" {
		m, msg := parseMargin(s)
		if msg != "" {
			fail(fMargin, "%s", msg)
		}
		p.Margin = m
	}
	p.Tags = cleanList(r.Tags, true, "")
	p.Complements = cleanList(r.Complements, false, p.ID)
	p.Upgrades = cleanList(r.Upgrades, false, p.ID)
	for i := range errs {
		errs[i].ID = p.ID
	}
	return p, errs
}

// notUTF8 lists the fields whose text is not UTF-8: a Latin-1 or
// Windows-1252 file would otherwise be stored as bytes that feeds drop
// and browsers show as U+FFFD.
func (r *Record) notUTF8() []field {
	var bad []field
	for f, text := range r.Values {
		if !utf8.ValidString(text) {
			bad = append(bad, field(f))
		}
	}
	for f, list := range map[field][]string{fTags: r.Tags, fComplements: r.Complements, fUpgrades: r.Upgrades} {
		if slices.ContainsFunc(list, func(s string) bool { return !utf8.ValidString(s) }) {
			bad = append(bad, f)
		}
	}
	slices.Sort(bad)
	return bad
}

func notUTF8(name string) string {
	return name + " is not UTF-8 text (save the file as UTF-8)"
}

func checkURL(s string) string {
	if s == "" {
		return ""
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Sprintf("%q is not an absolute http(s) URL", s)
	}
	return ""
}

// parsePrice reads "1234.50" or Google's "1234.50 USD".
func parsePrice(s string) (price float64, currency, msg string) {
	if s == "" {
		return 0, "", "price is missing"
	}
	num := s
	if i := strings.IndexFunc(s, unicode.IsSpace); i >= 0 {
		num, currency = s[:i], strings.ToUpper(strings.TrimSpace(s[i:]))
	}
	f, err := sanitize.Decimal(num)
	switch {
	case err != nil:
		return 0, currency, fmt.Sprintf("price %q is not a number (want 1234.50 or \"1234.50 USD\")", s)
	case f < 0:
		return 0, currency, fmt.Sprintf("price %q is negative", s)
	}
	return f, currency, ""
}

// parseMargin reads a fraction ("0.25") or a percentage ("25%").
func parseMargin(s string) (float64, string) {
	text, pct := strings.CutSuffix(s, "%")
	f, err := sanitize.Decimal(strings.TrimSpace(text))
	if err != nil {
		return 0, fmt.Sprintf("margin %q is not a number", s)
	}
	if pct {
		f /= 100
	}
	if f < -1 || f > 1 {
		return 0, fmt.Sprintf("margin %q is out of range (a fraction of the price, like 0.25 or 25%%)", s)
	}
	return f, ""
}

// launch_date is a ClickHouse Date: days since 1970 in a UInt16, on 18.16
// as now. The client wraps a date outside it round (1900-01-01 is stored
// as 2079-06-07), so such a date is refused rather than changed.
var (
	minDate = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)
	maxDate = time.Date(2149, 6, 6, 0, 0, 0, 0, time.UTC)
)

// parseDate reads YYYY-MM-DD, or an ISO 8601 date-time (one of
// dateTimeLayouts) of which it keeps the date as written.
func parseDate(s string) (time.Time, string) {
	want := fmt.Sprintf("launch_date %q is not a date (want YYYY-MM-DD)", s)
	if len(s) > 10 && s[10] == 'T' {
		if !isDateTime(s) {
			return time.Time{}, want
		}
		s = s[:10]
	}
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return time.Time{}, want
	}
	if d.Before(minDate) || d.After(maxDate) {
		return time.Time{}, fmt.Sprintf("launch_date %q is out of range (from %s to %s)", s, minDate.Format(time.DateOnly), maxDate.Format(time.DateOnly))
	}
	return d, ""
}

func isDateTime(s string) bool {
	for _, l := range dateTimeLayouts {
		if _, err := time.Parse(l, s); err == nil {
			return true
		}
	}
	return false
}

// dateTimeLayouts are the spellings of availability_date: Google
// Merchant's (2025-12-01T09:00-0800), RFC 3339 and a plain date.
var dateTimeLayouts = []string{
	"2006-01-02T15:04-0700", "2006-01-02T15:04:05-0700",
	"2006-01-02T15:04Z07:00", time.RFC3339, "2006-01-02T15:04:05", "2006-01-02T15:04", time.DateOnly,
}

var errDateTimeRange = errors.New("out of range (years 1971 to 2105)")

// parseDateTime reads a point in time; one without an offset (a plain
// date at midnight) is UTC. ClickHouse's DateTime holds 1970-2105.
func parseDateTime(s string) (time.Time, error) {
	for _, l := range dateTimeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			if t = t.UTC(); t.Year() < 1971 || t.Year() > 2105 {
				return time.Time{}, fmt.Errorf("%q: %w", s, errDateTimeRange)
			}
			return t.Truncate(time.Second), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a date", s)
}

var availabilitySpelling = strings.NewReplacer(" ", "_", "-", "_")

// normalizeAvailability accepts the contract's spelling and Google's older
// "in stock" / "out of stock" ones; empty means in stock.
func normalizeAvailability(s string) (string, bool) {
	key := availabilitySpelling.Replace(strings.ToLower(s))
	switch key {
	case "", InStock, "instock":
		return InStock, true
	case OutOfStock, "outofstock", "sold_out":
		return OutOfStock, true
	case Preorder, "pre_order":
		return Preorder, true
	case Backorder, "back_order", "available_for_order":
		return Backorder, true
	}
	return "", false
}

func normalizeCondition(s string) (string, bool) {
	switch strings.ToLower(s) {
	case "", "new":
		return "new", true
	case "refurbished", "used":
		return strings.ToLower(s), true
	}
	return "", false
}

// normalizeCategory rewrites "Cameras>Mirrorless " as "Cameras > Mirrorless",
// so category prefixes compare as strings.
func normalizeCategory(s string) string {
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
	return strings.Join(out, " > ")
}

// cleanList trims, drops empties, duplicates and self (a product is not
// its own complement), and lower-cases tags so rules can match them.
// Duplicates are found with a set: a hostile file may carry huge lists.
func cleanList(in []string, lower bool, self string) []string {
	out := make([]string, 0, len(in))
	seen := make(map[string]bool, len(in))
	for _, s := range in {
		s = strings.TrimSpace(sanitize.StripBidi(s))
		if lower {
			s = strings.ToLower(s)
		}
		if s == "" || s == self || seen[s] {
			continue
		}
		seen[s] = true
		out = append(out, s)
	}
	return out
}
