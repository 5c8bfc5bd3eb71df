package catalog

import (
	_ "embed"
	"strconv"
	"strings"
)

//go:embed currencies.txt
var currencyTable string

// currencies maps an active ISO 4217 code to its number of decimals.
var currencies = func() map[string]int {
	m := map[string]int{}
	for _, line := range strings.Split(currencyTable, "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || strings.HasPrefix(f[0], "#") {
			continue
		}
		d, err := strconv.Atoi(f[1])
		if err != nil {
			panic("catalog: bad currencies.txt line: " + line)
		}
		m[f[0]] = d
	}
	return m
}()

// CurrencyDecimals returns how many decimals amounts in an active ISO 4217
// currency have (JPY 0, USD 2, BHD 3), and whether code is one.
// Codes are upper case, as stored in the catalog.
func CurrencyDecimals(code string) (int, bool) {
	d, ok := currencies[code]
	return d, ok
}
