package segment_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/remarket/remarket/internal/chtest"
	"github.com/remarket/remarket/segment"
)

// BenchmarkRunHistoryReadsWithYearsOfRuns times the reads of the run
// history that every scheduled run makes (the scheduler's check for a run
// started by another process, and cleanup's list of old runs), and an
// audience's lift report, whose history reads each day's last run, with
// BENCH_HISTORY_SITES sites (default 10), each with a year of
// quarter-hour runs, and the same reads through v_segment_runs as they
// were before. Medians of 15 reads each.
func BenchmarkRunHistoryReadsWithYearsOfRuns(b *testing.B) {
	sites := chtest.HistorySites(b)
	db := chtest.MustOpen(b)
	ctx := context.Background()
	site, current, lastStart := chtest.FillRunHistory(b, db, sites)
	// The snapshot rows of the site's newest runs, as keep_runs leaves them.
	if err := db.Exec(ctx, `INSERT INTO seg_members (site, run_id, audience, visitor_id, user_id, email_sha256, stage, customer_type, trigger_time)
		SELECT @site, concat('r', toString(@last - number * @sites)), 'a0', 'v', '', '', 'interest', 'new', now()
		FROM system.numbers LIMIT 5`,
		clickhouse.Named("site", site), clickhouse.Named("last", sites*chtest.RunsPerSiteYear-1), clickhouse.Named("sites", sites)); err != nil {
		b.Fatal(err)
	}
	a0 := segment.Templates()[0]
	a0.Name = "a0"
	cfg := testConfig(b, a0)
	cfg.Sites[0].ID = site
	cfg.Segments.Schedule = "15m"
	cfg.Segments.KeepRuns = 3
	sched := segment.NewScheduler(cfg, db, nil)
	sched.Engine().Now = func() time.Time { return lastStart.Add(5 * time.Minute) }
	since := lastStart.Add(5*time.Minute - 15*time.Minute*9/10)
	reads := []struct {
		name string
		read func() (string, error)
	}{
		{"scheduler's check, v_segment_runs (before)", func() (string, error) {
			var n uint64
			err := db.QueryRow(ctx, "SELECT count() FROM v_segment_runs WHERE site = ? AND started_at >= ? AND status != 'failed'", site, since).Scan(&n)
			return fmt.Sprint(n > 0), err
		}},
		{"scheduler's check", func() (string, error) {
			ran, err := sched.RanRecently(ctx, site)
			return fmt.Sprint(ran), err
		}},
		{"cleanup's old runs, v_segment_runs (before)", func() (string, error) {
			var ids []string
			rows, err := db.Query(ctx, `SELECT run_id FROM (SELECT DISTINCT run_id FROM seg_members WHERE site = ?)
				WHERE run_id IN (SELECT run_id FROM seg_runs WHERE site = ?)
					AND run_id NOT IN (SELECT run_id FROM v_segment_runs WHERE site = ? AND (is_current = 1 OR status = 'running'))
				GROUP BY run_id ORDER BY run_id DESC LIMIT 1000 OFFSET 2`, site, site, site)
			if err != nil {
				return "", err
			}
			defer rows.Close()
			for rows.Next() {
				var id string
				rows.Scan(&id)
				ids = append(ids, id)
			}
			return fmt.Sprint(ids), rows.Err()
		}},
		{"cleanup's old runs", func() (string, error) {
			ids, err := sched.Engine().OldRuns(ctx, site)
			return fmt.Sprint(ids), err
		}},
		{"lift report's history, v_audience_outcome_history (before)", func() (string, error) {
			var days uint64
			err := db.QueryRow(ctx, `SELECT count() FROM (
				SELECT toDate(run_time, 'UTC') AS day, grp, max(run_time), argMax(members, run_time)
				FROM v_audience_outcome_history WHERE site = ? AND audience = 'a0'
				GROUP BY day, grp ORDER BY day DESC, grp LIMIT 730)`, site).Scan(&days)
			return fmt.Sprint(days / 2), err
		}},
		{"lift report", func() (string, error) {
			rep, err := sched.Engine().LiftReport(ctx, site, "a0", false)
			return fmt.Sprint(len(rep.History)), err
		}},
	}
	want := []string{"true", "true", "", "", "", ""}
	for i, r := range reads {
		took := chtest.Timed(b, 15, func() error {
			got, err := r.read()
			if err == nil && want[i] != "" && got != want[i] {
				err = fmt.Errorf("%s: %s, want %s", r.name, got, want[i])
			}
			want[i] = got
			return err
		})
		b.Logf("%d sites × a year of runs: %s: %s", sites, r.name, took)
	}
	if want[2] != want[3] || want[3] == "[]" {
		b.Fatalf("cleanup drops %s, before %s; current run %s", want[3], want[2], current)
	}
	if want[4] != want[5] || want[5] != "365" {
		b.Fatalf("the lift report's history has %s days, before %s; want 365", want[5], want[4])
	}
}

// BenchmarkMemberJoinsWithYearsOfJoins times a run's member-joins step
// for an audience of 20,000 members, half of them new, when 2,000,000
// persons have joined it over the years, against the step's lookup as it
// was before (every person who ever joined). Medians of 15.
func BenchmarkMemberJoinsWithYearsOfJoins(b *testing.B) {
	const joined, members = 2_000_000, 20_000
	db := chtest.MustOpen(b)
	ctx := context.Background()
	asOf := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	// Persons v:0 … v:1,999,999 joined over the year before; members are
	// v:1,990,000 … v:2,009,999.
	for _, q := range []string{
		`INSERT INTO seg_member_joins (site, audience, person, visitor_id, user_id, grp, joined_at, run_id)
		SELECT @site, 'a0', concat('v:', toString(number)), toString(number), '', 'treatment',
			toDateTime(@as_of) - 86400 * 365 + intDiv(number * 86400 * 365, @joined), concat('r', toString(intDiv(number, 100)))
		FROM system.numbers LIMIT @joined`,
		`INSERT INTO seg_members (site, run_id, audience, visitor_id, user_id, email_sha256, stage, customer_type, trigger_time)
		SELECT @site, 'now', 'a0', toString(@joined - @members / 2 + number), '', '', 'interest', 'new', toDateTime(@as_of)
		FROM system.numbers LIMIT @members`,
	} {
		if err := db.Exec(ctx, q, clickhouse.Named("site", site), clickhouse.Named("as_of", asOf.Format(time.DateTime)),
			clickhouse.Named("joined", joined), clickhouse.Named("members", members)); err != nil {
			b.Fatal(err)
		}
	}
	e := newEngine(b, db, testConfig(b))
	took := chtest.Timed(b, 15, func() error {
		var n uint64
		err := db.QueryRow(ctx, `SELECT count() FROM (
				SELECT concat('v:', visitor_id) AS person FROM seg_members WHERE site = ? AND run_id = 'now' AND audience = 'a0')
			WHERE person NOT IN (SELECT person FROM seg_member_joins WHERE site = ? AND audience = 'a0')`, site, site).Scan(&n)
		if err == nil && n != members/2 {
			err = fmt.Errorf("%d new persons, want %d", n, members/2)
		}
		return err
	})
	b.Logf("%d persons joined, %d members: the new members against every join (before): %s", joined, members, took)
	took = chtest.Timed(b, 15, func() error { return e.RecordJoins(ctx, site, "now", "a0", asOf) })
	var n uint64
	if err := db.QueryRow(ctx, "SELECT count() FROM seg_member_joins WHERE site = ? AND run_id = 'now'", site).Scan(&n); err != nil || n != members/2 {
		b.Fatalf("the step recorded %d joins (%v), want %d", n, err, members/2)
	}
	b.Logf("%d persons joined, %d members: the joins step (the first records them, the others nothing): %s", joined, members, took)
}

// BenchmarkEventMonthsWithYearsOfEvents times what every run reads to
// find a month of the site's events dropped since the previous run (retention):
// the events partitions, and the site's months among the partitions new
// to it (an incremental run: here another shop's six months), and the
// site's months read from all its events (a full run).
// BENCH_HISTORY_EVENTS (default 9,000,000) events over two years, and a
// ninth as many of another shop's in the half year before. Medians of 15.
func BenchmarkEventMonthsWithYearsOfEvents(b *testing.B) {
	events := chtest.PositiveEnv(b, "BENCH_HISTORY_EVENTS", 9_000_000)
	db := chtest.MustOpen(b)
	ctx := context.Background()
	for _, fill := range []struct {
		site  string
		from  string
		days  int
		count int
	}{{"ours", "2025-01-01 00:00:00", 730, events}, {"theirs", "2024-07-01 00:00:00", 180, events / 9}} {
		// Spread over the days by a prime step; event ids from the row number.
		if err := db.Exec(ctx, `INSERT INTO events (site, event_id, visitor_id, type, product_id, event_time, received_at, inserted_at)
			SELECT @site, toUUID(concat('00000000-0000-4000-8000-', hex(number + 17592186044416))), toString(number % 300000),
				'product_view', toString(number % 500), toDateTime(@from) + (number * 7919) % (@days * 86400), now(), now()
			FROM system.numbers LIMIT @count`,
			clickhouse.Named("site", fill.site), clickhouse.Named("from", fill.from), clickhouse.Named("days", fill.days), clickhouse.Named("count", fill.count)); err != nil {
			b.Fatal(err)
		}
	}
	e := segment.New(testConfig(b), db, nil)
	var partitions []string
	took := chtest.Timed(b, 15, func() (err error) {
		partitions, err = e.EventsPartitions(ctx)
		return err
	})
	b.Logf("%d events: the events partitions (every run): %s", events, took)
	var all, added []string
	took = chtest.Timed(b, 15, func() (err error) {
		all, err = segment.EventMonths(ctx, db, "ours", nil)
		return err
	})
	b.Logf("%d events: the site's months from all its events (a full run): %s", events, took)
	var theirs []string
	for _, p := range partitions {
		if !slices.Contains(all, p) {
			theirs = append(theirs, p)
		}
	}
	took = chtest.Timed(b, 15, func() (err error) {
		added, err = segment.EventMonths(ctx, db, "ours", theirs)
		return err
	})
	b.Logf("%d events: the site's months among %d partitions new to it (an incremental run): %s", events, len(theirs), took)
	if len(all) != 24 || len(theirs) != 6 || len(added) != 0 {
		b.Fatalf("the site's months %v, the other shop's %v, of those the site's %v; want 24, 6 and none", all, theirs, added)
	}
}
