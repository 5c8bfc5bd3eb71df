package clustercheck

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/remarket/remarket/internal/chdb"
	"github.com/remarket/remarket/internal/erasures"
	"github.com/remarket/remarket/privacy"
	"github.com/remarket/remarket/segment"
)

// Erasing a signed-in user removes every row of each of their visitor ids
// from every table of every node: events, identities, profiles,
// interests, members, recommendations, on both replicas of each shard.
func TestErasureLeavesNoRowOnAnyNode(t *testing.T) {
	cfg, _ := demoOnCluster(t)
	ctx := context.Background()
	// Through replica 2 of shard 2: any node will do.
	db := openCluster(t, cluster.DSN(database, cluster.Node(2, 2)))
	var user string
	if err := db.QueryRow(ctx, `SELECT any(user_id) FROM v_audience_members WHERE site = ? AND user_id != ''`, demoSite).Scan(&user); err != nil || user == "" {
		t.Fatalf("no member with a user id (%v)", err)
	}
	var visitors []string
	rows, err := db.Query(ctx, "SELECT DISTINCT visitor_id FROM v_events WHERE site = ? AND user_id = ?", demoSite, user)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		visitors = append(visitors, v)
	}
	rows.Close()
	before := personRows(t, demoSite, user, visitors)
	if before == 0 {
		t.Fatal("the person has no rows to erase")
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	er := privacy.NewEraser(cfg, db, log)
	er.Wait = 30 * time.Second
	res, err := er.Erase(ctx, privacy.Subject{Site: demoSite, Kind: "user", ID: user}, "test")
	if err != nil {
		t.Fatal(err)
	}
	if res.Visitors != len(visitors) {
		t.Errorf("erasure %+v, want %d visitor ids", res, len(visitors))
	}
	// On a busy machine the mutations can take longer than the eraser
	// waits (18.16's replicas assign merges before mutations, and the
	// demo left many small parts to merge): the erasure then answers
	// "running", and erasures.Sweep marks it done once every node has
	// deleted the rows. That is the contract; wait for it like an
	// operator would.
	status := res.Status
	for deadline := time.Now().Add(4 * time.Minute); status == "running" && time.Now().Before(deadline); {
		time.Sleep(2 * time.Second)
		erasures.Sweep(ctx, db, log)
		if err := db.QueryRow(ctx, "SELECT status FROM erasure_log WHERE erasure_id = toUUID(?) ORDER BY finished_at DESC LIMIT 1", res.ErasureID).Scan(&status); err != nil {
			t.Fatal(err)
		}
	}
	if status != "done" {
		logMutations(t)
		t.Fatalf("erasure %+v still %s", res, status)
	}
	if left := personRows(t, demoSite, user, visitors); left > 0 {
		logMutations(t)
		t.Errorf("%d of the person's %d rows are left on the nodes", left, before)
	}
	t.Logf("erased %d rows (%d visitor ids, %d tables)", before, len(visitors), len(res.Tables))
	var logged uint64
	if err := db.QueryRow(ctx, "SELECT count() FROM erasure_log WHERE erasure_id = toUUID(?) AND status = 'done'", res.ErasureID).Scan(&logged); err != nil || logged != 1 {
		t.Errorf("erasure_log has %d rows for the erasure (%v)", logged, err)
	}
}

// logMutations logs every node's unfinished mutations and replication
// queue, to tell a slow erasure from a stuck one.
func logMutations(t *testing.T) {
	ctx := context.Background()
	for i, n := range cluster.Nodes {
		db := openNode(t, n)
		rows, err := db.Query(ctx, "SELECT database, table, mutation_id, toString(parts_to_do) FROM system.mutations WHERE is_done = 0")
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var d, tb, id, k string
			if err := rows.Scan(&d, &tb, &id, &k); err != nil {
				t.Fatal(err)
			}
			t.Logf("node %d: mutation %s of %s.%s has %s parts to do", i, id, d, tb, k)
		}
		rows.Close()
		rows, err = db.Query(ctx, "SELECT database, table, type, new_part_name, num_tries, last_exception, postpone_reason FROM system.replication_queue")
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var d, tb, ty, part, ex, why string
			var tries uint32
			if err := rows.Scan(&d, &tb, &ty, &part, &tries, &ex, &why); err != nil {
				t.Fatal(err)
			}
			t.Logf("node %d: queued %s %s of %s.%s (%d tries; %q; postponed: %q)", i, ty, part, d, tb, tries, ex, why)
		}
		rows.Close()
	}
}

// personRows counts a person's rows in every MergeTree table of both
// databases on every node, found independently of the eraser.
func personRows(t *testing.T, site, user string, visitors []string) uint64 {
	t.Helper()
	ctx := context.Background()
	var total uint64
	for _, n := range cluster.Nodes {
		db := openNode(t, n)
		rows, err := db.Query(ctx, `SELECT database, table, groupArray(name) FROM system.columns
			WHERE database IN (?, ?) AND (database, table) IN (SELECT database, name FROM system.tables WHERE engine LIKE '%MergeTree%')
			GROUP BY database, table`, database, database+chdb.LocalSuffix)
		if err != nil {
			t.Fatal(err)
		}
		type table struct {
			name string
			cols []string
		}
		var tables []table
		for rows.Next() {
			var d, name string
			var cols []string
			if err := rows.Scan(&d, &name, &cols); err != nil {
				t.Fatal(err)
			}
			tables = append(tables, table{d + "." + name, cols})
		}
		rows.Close()
		for _, tb := range tables {
			var conds []string
			for _, c := range tb.cols {
				switch c {
				case "visitor_id":
					conds = append(conds, "has(@visitors, visitor_id)")
				case "vh":
					conds = append(conds, "has(arrayMap(v -> cityHash64(v), @visitors), vh)")
				case "user_id":
					conds = append(conds, "user_id = @user")
				}
			}
			if len(conds) == 0 || !strings.Contains(strings.Join(tb.cols, ","), "site") {
				continue
			}
			var k uint64
			q := fmt.Sprintf("SELECT count() FROM %s WHERE site = @site AND (%s)", tb.name, strings.Join(conds, " OR "))
			if err := db.QueryRow(ctx, q, named("site", site), named("user", user), named("visitors", visitors)).Scan(&k); err != nil {
				t.Fatalf("%s on %s: %v", q, n.DSN(""), err)
			}
			total += k
		}
	}
	return total
}

// Retention drops an expired month on every shard, whichever node it
// runs through, and keeps the months it must.
func TestRetentionDropsTheMonthOnEveryNode(t *testing.T) {
	migrated(t)
	ctx := context.Background()
	db := openCluster(t, cluster.DSN(database, cluster.Node(1, 2)))
	// 400 events of January 2020 over 50 visitors: both shards get some.
	err := db.Exec(ctx, `INSERT INTO events (site, event_id, event_time, received_at, type, visitor_id)
		SELECT 'retention', generateUUIDv4(), toDateTime('2020-01-15 00:00:00') + number, toDateTime('2020-01-15 00:00:00') + number,
			'page_view', concat('v', toString(number % 50))
		FROM system.numbers LIMIT 400`)
	if err != nil {
		t.Fatal(err)
	}
	if n := januaryRows(t); n[0]+n[1] == 0 || n[2]+n[3] == 0 {
		t.Fatalf("January 2020 rows per node %v: want some on both shards", n)
	}
	cfg := oneSite("retention", 0)
	cfg.Sites[0].RetentionDays = 30
	r := privacy.NewRetention(cfg, db, slog.New(slog.NewTextHandler(io.Discard, nil)))
	months, err := r.Run(ctx, "retention", false)
	if err != nil {
		t.Fatal(err)
	}
	dropped := 0
	for _, m := range months {
		if m.Dropped {
			dropped++
			if m.Partition != 202001 {
				t.Errorf("dropped month %d", m.Partition)
			}
		}
	}
	if dropped != 1 {
		t.Errorf("dropped %d months, want 202001: %+v", dropped, months)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		n := januaryRows(t)
		if n == [4]uint64{} {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("January 2020 rows per node after retention: %v", n)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// januaryRows counts each node's own rows of January 2020.
func januaryRows(t *testing.T) [4]uint64 { return monthRows(t, 202001) }

// monthRows counts each node's own rows of events of a month (YYYYMM).
func monthRows(t *testing.T, month int) [4]uint64 {
	t.Helper()
	var out [4]uint64
	for i, n := range cluster.Nodes {
		if err := openNode(t, n).QueryRow(context.Background(),
			"SELECT count() FROM "+database+chdb.LocalSuffix+".events WHERE toYYYYMM(event_time) = @month", named("month", month)).Scan(&out[i]); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func named(name string, v any) any { return clickhouse.Named(name, v) }

// Retention drops a month on every shard; a late event can make it again
// before the next segment run. Block numbers tell the month made again
// from the one the previous run read on replicated tables too: inserts
// and merges into a month keep runs incremental, a month dropped and
// made again makes the next run full.
func TestARunAfterAMonthWasDroppedAndMadeAgainIsFull(t *testing.T) {
	migrated(t)
	ctx := context.Background()
	db := openCluster(t, cluster.DSN(database, cluster.Node(1, 2), cluster.Node(2, 2)))
	const site = "months"
	// n product views on the 10th of month, by 50 visitors: both shards get some.
	insert := func(month string, n int) {
		t.Helper()
		err := db.Exec(ctx, `INSERT INTO events (site, event_id, event_time, received_at, type, visitor_id, product_id)
			SELECT @site, generateUUIDv4(), toDateTime(@at) + number, now(), 'product_view', concat('v', toString(number % 50)), concat('p', toString(number % 7))
			FROM system.numbers LIMIT @n`, named("site", site), named("at", month+"-10 00:00:00"), named("n", n))
		if err != nil {
			t.Fatal(err)
		}
	}
	insert("2019-03", 400)
	insert("2019-04", 400)
	cfg := oneSite(site, 2)
	cfg.Segments.IncrementalMaxNewEventsPercent = 100
	e := quietEngine(cfg, db)
	at := time.Date(2019, 5, 1, 0, 0, 0, 0, time.UTC)
	run := func(mode string) segment.RunResult {
		t.Helper()
		time.Sleep(time.Second) // insert times are seconds: the run must start after them
		at = at.Add(time.Hour)
		e.Now = func() time.Time { return at }
		res, err := e.Run(ctx, site, segment.RunOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if res.Mode != mode {
			t.Fatalf("run at %s: %s (%s), want %s", at, res.Mode, res.Reason, mode)
		}
		return res
	}
	run(segment.ModeFull)
	insert("2019-03", 10) // more parts in a month the run read
	run(segment.ModeIncremental)
	if err := privacy.DropEventsMonth(ctx, db, 201903); err != nil {
		t.Fatal(err)
	}
	insert("2019-03", 10)
	// Every replica holds the month made again before the run lists it:
	// it is there, but not the events the previous run read.
	deadline := time.Now().Add(time.Minute)
	for n := monthRows(t, 201903); n[0]+n[1]+n[2]+n[3] != 20; n = monthRows(t, 201903) {
		if time.Now().After(deadline) {
			t.Fatalf("March 2019 rows per node: %v, want 20 in all", n)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if res := run(segment.ModeFull); res.Cause != segment.CauseRetention {
		t.Errorf("the run after March 2019 was dropped and made again: cause %q (%s), want %q", res.Cause, res.Reason, segment.CauseRetention)
	}
}
