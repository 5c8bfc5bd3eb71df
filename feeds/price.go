package feeds

import (
	"math"
	"strconv"

	"github.com/remarket/remarket/internal/catalog"
)

// decimalsOf is the number of minor-unit digits of an ISO 4217 code
// (the catalog's table; 2 for a code it does not know, which Build has
// already refused).
func decimalsOf(currency string) int {
	if d, ok := catalog.CurrencyDecimals(currency); ok && d <= 4 {
		return d
	}
	return 2
}

// validCurrency accepts active ISO 4217 codes.
func validCurrency(c string) bool {
	_, ok := catalog.CurrencyDecimals(c)
	return ok
}

// Money is an amount in integer minor units, so 0.1+0.2 is exactly 30
// cents and rounding happens once, when a float price is read.
type Money struct {
	Minor    int64
	Currency string
}

var pow10 = [...]float64{1, 10, 100, 1000, 10000}

// moneyOf rounds price half away from zero to the currency's minor unit;
// ok is false for NaN, infinities, non-positive or absurd prices. Google
// allows at most two decimals: currencies with three or four are rounded
// to two on output by format (they are rare in ad feeds).
func moneyOf(price float64, currency string) (Money, bool) {
	d := decimalsOf(currency)
	if math.IsNaN(price) || math.IsInf(price, 0) || price <= 0 || price > 1e12 {
		return Money{}, false
	}
	// The nudge rounds what the shop wrote, not its binary neighbour:
	// 1.005 is stored as 1.00499999..., the shop means 1.01.
	minor := int64(math.Round(price*pow10[d] + 1e-6))
	if minor <= 0 {
		return Money{}, false
	}
	return Money{Minor: minor, Currency: currency}, true
}

// shown is the amount as the feeds write it, in units of its last shown
// decimal, and how many decimals that is: Google takes at most two, so a
// three- or four-decimal currency is rounded half up to hundredths
// (0.095 KWD is shown as 0.10).
func (m Money) shown() (minor int64, decimals int) {
	d := decimalsOf(m.Currency)
	if d <= 2 {
		return m.Minor, d
	}
	div := int64(pow10[d-2])
	return (m.Minor + div/2) / div, 2
}

// amount is the decimal number, e.g. "1234.50", "1500" for JPY.
func (m Money) amount() string {
	minor, d := m.shown()
	if d == 0 {
		return strconv.FormatInt(minor, 10)
	}
	unit := int64(pow10[d])
	frac := strconv.FormatInt(minor%unit, 10)
	for len(frac) < d {
		frac = "0" + frac
	}
	return strconv.FormatInt(minor/unit, 10) + "." + frac
}

// String is the feed form "15.00 USD".
func (m Money) String() string { return m.amount() + " " + m.Currency }
