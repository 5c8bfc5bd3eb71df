package segment

import (
	"strings"
	"testing"

	"github.com/remarket/remarket/internal/chdb"
)

// A query with two forms gives ClickHouse 18.16 (and anything before the
// current forms) the legacy one, and current servers the other.
func TestQueryForPicksTheServersForm(t *testing.T) {
	for _, c := range []struct {
		version string
		window  bool
	}{
		{"18.16.1", false},
		{"23.3.1", false},
		{"23.8.2", true},
		{"26.7.2.1", true},
	} {
		v, err := chdb.ParseVersion(c.version)
		if err != nil {
			t.Fatal(err)
		}
		q := queryFor(v, "13_audience_products")
		if got := strings.Contains(q, "row_number() OVER"); got != c.window {
			t.Errorf("ClickHouse %s: window function in the audience products query = %v, want %v", c.version, got, c.window)
		}
	}
}
