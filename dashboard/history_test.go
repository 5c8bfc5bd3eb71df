package dashboard_test

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/remarket/remarket/segment"
)

// The audiences page's sparklines and an audience's size chart show the
// last 90 days in at most 200 points: each the size found by the last run
// recorded ok in its step of time, the step the shortest that fits
// (15 minutes for a young shop's day and a half of runs, 12 hours for 90
// days of them). Failed and unfinished runs, and other sites, are not
// shown.
func TestSizeHistoryShowsTheLastRunOfEachStep(t *testing.T) {
	for _, tc := range []struct {
		name string
		days int
		step time.Duration
	}{
		{"a young shop", 1, 15 * time.Minute},
		{"a shop with months of runs", 100, 12 * time.Hour},
	} {
		t.Run(tc.name, func(t *testing.T) {
			audiences := segment.Templates()[:2]
			a, b := audiences[0].Name, audiences[1].Name
			srv, db, auth := newServerWithAPIs(t, audiences)
			ctx := context.Background()
			// Before any run: no history, and an empty chart.
			if resp, body := do(t, srv, "GET", "/ui/api/audiences", "", auth); resp.StatusCode != 200 || strings.Contains(body, `"history":{`) {
				t.Errorf("audiences before any run: %d %s", resp.StatusCode, body)
			}
			if resp, body := do(t, srv, "GET", "/ui/api/audiences/"+b, "", auth); resp.StatusCode != 200 || !strings.Contains(body, `"history":[]`) {
				t.Errorf("%s before any run: %d %s", b, resp.StatusCode, body)
			}
			// Quarter-hour runs up to now: run k starts at base + k × 15m.
			// Every 97th run failed after writing its sizes and the last
			// is still running. Audience a is k members at run k; b has a
			// size only at even runs. A second site runs at the same times.
			runs := tc.days*96 + 12
			base := time.Now().UTC().Truncate(15 * time.Minute).Add(-time.Duration(runs) * 15 * time.Minute)
			status := func(k int) string {
				switch {
				case k == runs-1:
					return "running"
				case k%97 == 5:
					return "failed"
				}
				return "ok"
			}
			if err := db.Exec(ctx, "SYSTEM STOP MERGES seg_runs"); err != nil {
				t.Fatal(err)
			}
			for _, q := range []string{
				`INSERT INTO seg_runs (site, run_id, started_at, finished_at, status, error, as_of, audiences, updated)
				SELECT s, concat(s, toString(k)), toDateTime(@base) + k * 900, toDateTime(@base) + k * 900 + 60,
					'running', '', toDateTime(@base) + k * 900, [], k * 2
				FROM (SELECT number AS k FROM system.numbers LIMIT @runs) ARRAY JOIN ['demo', 'other'] AS s`,
				`INSERT INTO seg_runs (site, run_id, started_at, finished_at, status, error, as_of, audiences, updated)
				SELECT s, concat(s, toString(k)), toDateTime(@base) + k * 900, toDateTime(@base) + k * 900 + 60,
					if(k % 97 = 5, 'failed', 'ok'), '', toDateTime(@base) + k * 900, [], k * 2 + 1
				FROM (SELECT number AS k FROM system.numbers LIMIT @runs) ARRAY JOIN ['demo', 'other'] AS s
				WHERE k < @runs - 1`,
				`INSERT INTO seg_audience_sizes (site, audience, run_id, run_time, size)
				SELECT s, @a, concat(s, toString(k)), toDateTime(@base) + k * 900, if(s = 'demo', k, 1000000)
				FROM (SELECT number AS k FROM system.numbers LIMIT @runs) ARRAY JOIN ['demo', 'other'] AS s`,
				`INSERT INTO seg_audience_sizes (site, audience, run_id, run_time, size)
				SELECT 'demo', @b, concat('demo', toString(k)), toDateTime(@base) + k * 900, 100000 + k
				FROM (SELECT number AS k FROM system.numbers LIMIT @runs) WHERE k % 2 = 0`,
			} {
				if err := db.Exec(ctx, q, clickhouse.Named("base", base.Format(time.DateTime)), clickhouse.Named("runs", runs),
					clickhouse.Named("a", a), clickhouse.Named("b", b)); err != nil {
					t.Fatal(err)
				}
			}
			// What each audience's history should show from a given time.
			want := func(from time.Time) map[string][]string {
				out := map[string][]string{}
				for _, aud := range []struct {
					name string
					size func(k int) (int, bool)
				}{
					{a, func(k int) (int, bool) { return k, true }},
					{b, func(k int) (int, bool) { return 100000 + k, k%2 == 0 }},
				} {
					var points []string
					lastStep := int64(-1)
					for k := range runs {
						at := base.Add(time.Duration(k) * 15 * time.Minute)
						size, ok := aud.size(k)
						if at.Before(from) || !ok || status(k) != "ok" {
							continue
						}
						p := fmt.Sprintf("%s %d", at.Format(time.RFC3339), size)
						if s := at.Unix() / int64(tc.step/time.Second); s == lastStep {
							points[len(points)-1] = p
						} else {
							points, lastStep = append(points, p), s
						}
					}
					out[aud.name] = points
				}
				return out
			}
			before := want(time.Now().Add(-90 * 24 * time.Hour))
			_, body := do(t, srv, "GET", "/ui/api/audiences", "", auth)
			var list struct {
				Audiences []struct {
					Name    string
					History *struct {
						Times []time.Time
						Sizes []uint64
					}
				}
			}
			if err := json.Unmarshal([]byte(body), &list); err != nil {
				t.Fatalf("%v: %s", err, body)
			}
			_, body = do(t, srv, "GET", "/ui/api/audiences/"+b, "", auth)
			var one struct {
				History []struct {
					RunTime time.Time `json:"run_time"`
					Size    uint64
				}
			}
			if err := json.Unmarshal([]byte(body), &one); err != nil {
				t.Fatalf("%v: %s", err, body)
			}
			after := want(time.Now().Add(-90 * 24 * time.Hour))
			got := map[string][]string{}
			for _, l := range list.Audiences {
				if l.History == nil {
					continue
				}
				for i, at := range l.History.Times {
					got[l.Name] = append(got[l.Name], fmt.Sprintf("%s %d", at.UTC().Format(time.RFC3339), l.History.Sizes[i]))
				}
			}
			var page []string
			for _, p := range one.History {
				page = append(page, fmt.Sprintf("%s %d", p.RunTime.UTC().Format(time.RFC3339), p.Size))
			}
			// The 90 days may have moved past a run while the pages were read.
			if !reflect.DeepEqual(got, before) && !reflect.DeepEqual(got, after) {
				t.Errorf("audiences page's histories:\n%v\nwant:\n%v", got, after)
			}
			if !reflect.DeepEqual(page, before[b]) && !reflect.DeepEqual(page, after[b]) {
				t.Errorf("%s's page history:\n%v\nwant:\n%v", b, page, after[b])
			}
			if n := len(got[a]); n > 200 || n < 100 {
				t.Errorf("%d points for %s", n, a)
			}
		})
	}
}
