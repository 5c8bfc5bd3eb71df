package segment_test

import (
	"context"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/remarket/remarket/internal/chtest"
	"github.com/remarket/remarket/segment"
)

// Every ```sql example in docs/analytics.md runs against a real run, so
// the page cannot drift from the views.
func TestAnalyticsDocExamplesRun(t *testing.T) {
	raw, err := os.ReadFile("../docs/analytics.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```sql\n(.*?)```").FindAllStringSubmatch(string(raw), -1)
	if len(blocks) < 5 {
		t.Fatalf("found %d sql examples, want at least 5", len(blocks))
	}
	db := chtest.MustOpen(t)
	shopCatalog(t, db)
	insertEvents(t, db, cameraShop(t)...)
	run(t, newEngine(t, db, testConfig(t, segment.Templates()...)))
	for _, b := range blocks {
		q := strings.TrimSuffix(strings.TrimSpace(b[1]), ";")
		rows, err := db.Query(context.Background(), q)
		if err != nil {
			t.Errorf("example fails: %v\n%s", err, q)
			continue
		}
		rows.Close()
	}
}
