package privacy_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/remarket/remarket/internal/chdb"
	"github.com/remarket/remarket/internal/chtest"
	"github.com/remarket/remarket/internal/config"
	"github.com/remarket/remarket/privacy"
)

func TestMain(m *testing.M) { chtest.Main(m) }

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// shopConfig has the one site the eraser tests use.
var shopConfig = config.Config{
	ErasureKey: "erasure-key-0123456789abcdef0123456789",
	Sites:      []config.Site{{ID: "shop", WriteKey: "wk", AdminToken: "admin-token-0123456789", FeedToken: "feed-token-0123456789"}},
}

// addEvent stores one event row as ingest would.
func addEvent(t *testing.T, db *chdb.DB, site, vid, uid string, at time.Time) {
	t.Helper()
	err := db.InsertRow(context.Background(), "INSERT INTO events (site, event_id, event_time, received_at, type, visitor_id, user_id)",
		site, uuid.New(), at, at, "page_view", vid, uid)
	if err != nil {
		t.Fatal(err)
	}
}

// personTables lists tables with site and visitor_id/user_id columns, as the eraser should find them.
func personTables(t *testing.T, db *chdb.DB) map[string][3]bool {
	t.Helper()
	rows, err := db.Query(context.Background(), `SELECT table, countIf(name='visitor_id'), countIf(name='user_id'), countIf(name='site'), countIf(name='vh')
		FROM system.columns WHERE database = currentDatabase() AND table IN (SELECT name FROM system.tables WHERE database = currentDatabase() AND engine LIKE '%MergeTree%') GROUP BY table`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string][3]bool{}
	for rows.Next() {
		var name string
		var v, u, s, h uint64
		if err := rows.Scan(&name, &v, &u, &s, &h); err != nil {
			t.Fatal(err)
		}
		// erasure_subjects holds the ids being erased, on purpose.
		if s > 0 && (v > 0 || u > 0 || h > 0) && name != "erasure_subjects" {
			out[name] = [3]bool{v > 0, u > 0, h > 0}
		}
	}
	return out
}

// cityHash64 is ClickHouse's hash of s, as the segment tables key visitors.
func cityHash64(t *testing.T, db *chdb.DB, s string) uint64 {
	t.Helper()
	var h uint64
	if err := db.QueryRow(context.Background(), "SELECT cityHash64(?)", s).Scan(&h); err != nil {
		t.Fatal(err)
	}
	return h
}

func count(t *testing.T, db *chdb.DB, table, where string, args ...any) uint64 {
	t.Helper()
	var n uint64
	if err := db.QueryRow(context.Background(), fmt.Sprintf("SELECT count() FROM %s WHERE %s", table, where), args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestEraseRemovesTheSubjectEverywhere(t *testing.T) {
	cases := []struct {
		kind, id string
		gone     []string // visitor ids that must disappear
	}{
		{"visitor", "v-alice", []string{"v-alice"}},
		{"user", "u-bob", []string{"v-bob-phone", "v-bob-laptop"}},
	}
	for _, tc := range cases {
		t.Run(tc.kind, func(t *testing.T) {
			ctx := context.Background()
			db := chtest.MustOpen(t)
			// A table a future capability might add: found without being listed anywhere.
			if err := db.Exec(ctx, "CREATE TABLE future_derived (site String, visitor_id String, score Float64) ENGINE = MergeTree() ORDER BY (site, visitor_id)"); err != nil {
				t.Fatal(err)
			}
			now := time.Now().UTC().Truncate(time.Second)
			addEvent(t, db, "shop", "v-alice", "", now)
			addEvent(t, db, "shop", "v-bob-phone", "u-bob", now)
			addEvent(t, db, "shop", "v-bob-laptop", "", now)
			addEvent(t, db, "shop", "v-bob-laptop", "u-bob", now.Add(-40*24*time.Hour))
			addEvent(t, db, "shop", "v-carol", "", now)
			addEvent(t, db, "other", tc.gone[0], "", now) // same id on another site stays
			tables := personTables(t, db)
			if len(tables) < 2 {
				t.Fatalf("person tables %v", tables)
			}
			for name, has := range tables {
				if name == "events" {
					continue
				}
				for _, vid := range []string{"v-alice", "v-bob-phone", "v-bob-laptop", "v-carol"} {
					cols, args := "site", []any{"shop"}
					if has[0] {
						cols, args = cols+", visitor_id", append(args, vid)
					}
					if has[1] {
						uid := ""
						if vid == "v-bob-phone" {
							uid = "u-bob"
						}
						cols, args = cols+", user_id", append(args, uid)
					}
					if has[2] {
						cols, args = cols+", vh", append(args, cityHash64(t, db, vid))
					}
					if err := db.InsertRow(ctx, fmt.Sprintf("INSERT INTO %s (%s)", name, cols), args...); err != nil {
						t.Fatalf("%s: %v", name, err)
					}
				}
			}

			e := privacy.NewEraser(shopConfig, db, quiet)
			res, err := e.Erase(ctx, privacy.Subject{Site: "shop", Kind: tc.kind, ID: tc.id}, "test")
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != "done" || res.Visitors != len(tc.gone) || len(res.Tables) != len(tables) {
				t.Fatalf("result %+v, want done, %d visitors, %d tables", res, len(tc.gone), len(tables))
			}
			for name, has := range tables {
				if has[0] {
					if n := count(t, db, name, "site = 'shop' AND has(?, visitor_id)", tc.gone); n != 0 {
						t.Errorf("%s still has %d rows of %v", name, n, tc.gone)
					}
					if n := count(t, db, name, "site = 'shop' AND visitor_id = 'v-carol'"); n == 0 {
						t.Errorf("%s lost an unrelated visitor", name)
					}
				}
				if has[2] {
					if n := count(t, db, name, "site = 'shop' AND has(arrayMap(x -> cityHash64(x), ?), vh)", tc.gone); n != 0 {
						t.Errorf("%s still has %d rows hashed from %v", name, n, tc.gone)
					}
					if n := count(t, db, name, "site = 'shop' AND vh = cityHash64('v-carol')"); n == 0 {
						t.Errorf("%s lost an unrelated visitor's hashed rows", name)
					}
				}
			}
			if n := count(t, db, "events", "site = 'other'"); n != 1 {
				t.Errorf("another site's events were touched: %d left", n)
			}
			var by, kind, hash string
			var visitors uint32
			err = db.QueryRow(ctx, "SELECT requested_by, subject_kind, subject_sha256, visitors FROM erasure_log WHERE erasure_id = ?", uuid.MustParse(res.ErasureID)).Scan(&by, &kind, &hash, &visitors)
			if err != nil {
				t.Fatal(err)
			}
			key, _ := privacy.SubjectKey(shopConfig, shopConfig.Sites[0])
			if by != "test" || kind != tc.kind || hash != privacy.SubjectHash(key, "shop", tc.id) || int(visitors) != len(tc.gone) {
				t.Fatalf("audit row %q %q %q %d", by, kind, hash, visitors)
			}
			if n := count(t, db, "erasure_log", "positionCaseInsensitive(concat(subject_sha256, requested_by, arrayStringConcat(tables, ',')), ?) > 0", tc.id); n != 0 {
				t.Fatal("erasure_log stores the subject's id")
			}
		})
	}
}

func TestRetentionDropsOnlyExpiredMonths(t *testing.T) {
	ctx := context.Background()
	db := chtest.MustOpen(t)
	now := time.Date(2026, 6, 15, 12, 0, 0, 0, time.UTC)
	month := func(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 10, 0, 0, 0, time.UTC) }
	addEvent(t, db, "a", "v1", "", month(2026, 1, 10)) // a: 90 days → cutoff 2026-03-17
	addEvent(t, db, "a", "v1", "", month(2026, 2, 27))
	addEvent(t, db, "a", "v1", "", month(2026, 3, 5))
	addEvent(t, db, "a", "v1", "", month(2026, 3, 30)) // March still holds a newer event
	addEvent(t, db, "b", "v2", "", month(2026, 2, 1))  // b keeps everything: February stays
	addEvent(t, db, "a", "v1", "", month(2026, 6, 1))
	cfg := config.Config{Sites: []config.Site{{ID: "a", RetentionDays: 90}, {ID: "b"}}}
	r := privacy.NewRetention(cfg, db, quiet)
	r.SetClock(func() time.Time { return now })

	dry, err := r.Run(ctx, "", true)
	if err != nil {
		t.Fatal(err)
	}
	if len(dry) != 4 || count(t, db, "events", "1") != 6 {
		t.Fatalf("dry run: %+v", dry)
	}
	months, err := r.Run(ctx, "", false)
	if err != nil {
		t.Fatal(err)
	}
	want := map[int]bool{202601: true, 202602: false, 202603: false, 202606: false}
	for _, m := range months {
		if m.Dropped != want[m.Partition] {
			t.Errorf("%d dropped=%v (%s), want %v", m.Partition, m.Dropped, m.Reason, want[m.Partition])
		}
	}
	if n := count(t, db, "events", "toYYYYMM(event_time) = 202601"); n != 0 {
		t.Errorf("January still has %d events", n)
	}
	if n := count(t, db, "events", "1"); n != 5 {
		t.Errorf("%d events left, want 5", n)
	}
	if _, err := r.Run(ctx, "nope", false); err == nil {
		t.Error("unknown site accepted")
	}
}
