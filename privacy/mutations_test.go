package privacy_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/google/uuid"

	"github.com/remarket/remarket/internal/chtest"
	"github.com/remarket/remarket/internal/erasures"
	"github.com/remarket/remarket/privacy"
)

// An erased id is never part of a statement's text: ClickHouse keeps the
// text of every mutation in system.mutations (for good) and logs every
// query, so an id in an ALTER … DELETE would outlive the erasure.
func TestErasureKeepsIdsOutOfStatements(t *testing.T) {
	db := chtest.MustOpen(t)
	now := time.Now().UTC()
	addEvent(t, db, "shop", "v-secret-7f3a", "", now)
	addEvent(t, db, "shop", "v-of-user-4d2e", "u-secret-91c2", now)
	addEvent(t, db, "shop", "v-keep", "", now)
	secrets := []string{"v-secret-7f3a", "u-secret-91c2", "v-of-user-4d2e"}

	// The server's own log of every statement, where the protocol lets
	// us ask for it (18.16 takes no string settings from this client).
	ctx := context.Background()
	var mu sync.Mutex
	var logged []string
	if db.Version.AtLeast(20, 1) {
		ctx = clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{"send_logs_level": "trace"}),
			clickhouse.WithLogs(func(l *clickhouse.Log) {
				mu.Lock()
				logged = append(logged, l.Text)
				mu.Unlock()
			}))
	}
	e := privacy.NewEraser(shopConfig, db, quiet)
	for _, s := range []privacy.Subject{{Site: "shop", Kind: "visitor", ID: "v-secret-7f3a"}, {Site: "shop", Kind: "user", ID: "u-secret-91c2"}} {
		res, err := e.Erase(ctx, s, "test")
		if err != nil || res.Status != "done" {
			t.Fatalf("erase %s: %+v %v", s.Kind, res, err)
		}
	}
	if n := count(t, db, "events", "site = 'shop'"); n != 1 {
		t.Fatalf("%d events left, want only v-keep's", n)
	}

	rows, err := db.Query(context.Background(), "SELECT command FROM system.mutations WHERE database = currentDatabase()")
	if err != nil {
		t.Fatal(err)
	}
	var commands []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			t.Fatal(err)
		}
		commands = append(commands, c)
	}
	rows.Close()
	if len(commands) == 0 {
		t.Fatal("no mutations recorded: nothing was checked")
	}
	texts := map[string][]string{"system.mutations": commands, "the server's query log": logged}
	if db.Version.AtLeast(20, 1) && len(logged) == 0 {
		t.Fatal("the server sent no log lines: nothing was checked")
	}
	for where, lines := range texts {
		for _, line := range lines {
			for _, id := range secrets {
				if strings.Contains(line, id) {
					t.Errorf("%s names %s: %s", where, id, line)
				}
			}
		}
	}
	if n := count(t, db, "erasure_subjects", "1"); n != 0 {
		t.Errorf("erasure_subjects still holds %d ids after the erasures finished", n)
	}
}

// An erasure that outlasted the eraser's wait was logged "running" (202);
// once ClickHouse has finished its deletions, the sweep marks it done and
// erasure_log gets a second row saying so, so the audit trail does not
// stay "running". (The erasure is set up as Erase leaves it: its subject
// recorded and its request logged running; nothing is left pending.)
func TestSlowErasureIsLoggedDoneBySweep(t *testing.T) {
	db := chtest.MustOpen(t)
	ctx := context.Background()
	id, at := uuid.NewString(), time.Now().UTC().Add(-time.Minute).Truncate(time.Second)
	if _, err := erasures.Record(ctx, db, id, "shop", "v-slow", "", at); err != nil {
		t.Fatal(err)
	}
	if err := db.Exec(ctx, `INSERT INTO erasure_log (site, erasure_id, requested_at, finished_at, requested_by, subject_kind, subject_sha256, subject_key, visitors, tables, status, error)
		SELECT 'shop', toUUID(@id), toDateTime(@at), toDateTime(@at), 'test', 'visitor', 'h', 'k', 1, ['events'], 'running', ''`,
		clickhouse.Named("id", id), clickhouse.Named("at", at)); err != nil {
		t.Fatal(err)
	}
	erasures.Sweep(ctx, db, quiet)
	erasures.Sweep(ctx, db, quiet) // a second sweep adds nothing
	rows, err := db.Query(ctx, "SELECT status, finished_at > requested_at, requested_by, visitors FROM erasure_log WHERE erasure_id = toUUID(?) ORDER BY finished_at", id)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var status, by string
		var later uint8
		var visitors uint32
		if err := rows.Scan(&status, &later, &by, &visitors); err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%s %d %s %d", status, later, by, visitors))
	}
	if want := "running 0 test 1,done 1 test 1"; strings.Join(got, ",") != want {
		t.Fatalf("erasure_log rows %q, want %q", got, want)
	}
	if n := count(t, db, "erasure_subjects", "erasure_id = ?", id); n != 0 {
		t.Fatalf("%d erasure_subjects rows left after the sweep", n)
	}
}
