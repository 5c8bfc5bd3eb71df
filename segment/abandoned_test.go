package segment_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/remarket/remarket/feeds"
	"github.com/remarket/remarket/internal/chdb"
	"github.com/remarket/remarket/internal/chtest"
	"github.com/remarket/remarket/internal/config"
	"github.com/remarket/remarket/internal/runcheck"
	"github.com/remarket/remarket/segment"
)

// killedRunAt, in the environment of a copy of the test binary, makes
// TestARunKilledMidwayIsDroppedByTheNext run the site as of that Unix
// time in the database of CLICKHOUSE_DSN, to be killed mid-run.
const killedRunAt = "REMARKET_TEST_KILLED_RUN_AT"

// abandonConfig is incrementalConfig with runs taken for abandoned after
// a second of silence (they say they are alive every 200 ms).
func abandonConfig(t *testing.T) config.Config {
	cfg := incrementalConfig(t)
	cfg.Segments.RunAbandonedAfter = config.Duration(time.Second)
	return cfg
}

// A process killed in the middle of an incremental run (SIGKILL: no
// deferred cleanup runs) leaves the run marked running, with rows in the
// segment tables. The site's next run, once the killed one has been
// silent for segments.run_abandoned_after, drops those rows and records
// the run failed; it still builds on the run before it, incrementally,
// and shows users exactly what a full run on the same events shows.
func TestARunKilledMidwayIsDroppedByTheNext(t *testing.T) {
	if at := os.Getenv(killedRunAt); at != "" {
		runToBeKilled(t, at, nil)
		return
	}
	dsn := chtest.DSN(t)
	db := chtest.Open(t, dsn)
	cfg := abandonConfig(t)
	e, _, t1 := aShop(t, db, cfg, 5)
	killed, output := killRun(t, db, dsn, t1, midRun)
	if status, tables := runStatus(t, db, killed), tablesOf(t, db, killed); status != "running" || len(tables) == 0 {
		t.Fatalf("the killed run %s is %q with rows in %v; want it running, with the rows it wrote. Its output:\n%s", killed, status, tables, output)
	}
	nextRunDropsIt(t, cfg, db, e, killed, time.Now(), t1, 50)
}

// nextRunDropsIt checks what follows a run killed at killedAt: an hour
// after t1, with 30 more events (seeded by seed), and once the killed run
// has been silent a second, the next run is incremental, finds the killed
// run abandoned, and shows what a full run on the same events shows.
func nextRunDropsIt(t *testing.T, cfg config.Config, db *chdb.DB, e *segment.Engine, killed string, killedAt, t1 time.Time, seed uint64) {
	t.Helper()
	at := t1.Add(time.Hour)
	insertStored(t, db, traffic(rand.New(rand.NewPCG(17, seed)), names("v", 45, 55), 30, t1, at)...)
	time.Sleep(time.Until(killedAt.Add(1500 * time.Millisecond))) // a second of silence
	next := incRun(t, e, at, false, segment.ModeIncremental)
	checkAbandoned(t, db, killed)
	got := readRun(t, cfg, db, next, at)
	want := readRun(t, cfg, db, incRun(t, e, at, true, segment.ModeFull), at)
	runcheck.Compare(t, got, want)
}

// killRun runs the site as of at in a copy of the test binary, kills it
// (SIGKILL) once killAt returns the id of its run (why tells what to
// show if that never comes), and waits until the server has stopped every
// query of that run. It returns the run's id and the copy's output.
func killRun(t *testing.T, db *chdb.DB, dsn string, at time.Time, killAt func(t *testing.T, db *chdb.DB, why func() string) string) (runID, output string) {
	t.Helper()
	ctx := context.Background()
	cmd := exec.Command(os.Args[0], "-test.run=^"+t.Name()+"$", "-test.count=1")
	cmd.Env = append(os.Environ(), "CLICKHOUSE_DSN="+dsn, killedRunAt+"="+strconv.FormatInt(at.Unix(), 10))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	runID = killAt(t, db, func() string {
		cmd.Process.Kill()
		cmd.Wait() // out is written until then
		return "its output:\n" + out.String()
	})
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	// The server finishes or cancels the queries the copy had sent.
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(20 * time.Millisecond) {
		var n uint64
		if err := db.QueryRow(ctx, "SELECT count() FROM system.processes WHERE startsWith(query_id, ?)", runID).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d queries of the killed run %s still run a minute after it was killed", n, runID)
		}
	}
	return runID, out.String()
}

// midRun waits (bounded) until a run of the site that has not finished
// has written interests, and returns its id; why tells what to show if
// none does.
func midRun(t *testing.T, db *chdb.DB, why func() string) (runID string) {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Minute); runID == ""; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no run wrote interests within 2 minutes; %s", why())
		}
		err := db.QueryRow(context.Background(), `SELECT run_id FROM seg_runs WHERE site = ? GROUP BY run_id
			HAVING argMax(status, updated) = 'running' AND run_id IN (SELECT run_id FROM seg_interests WHERE site = ?)`, site, site).Scan(&runID)
		if err != nil && !strings.Contains(err.Error(), "no rows") {
			t.Fatal(err)
		}
	}
	return runID
}

// runToBeKilled is the copy of the test binary killRun starts; afterSwitch,
// when set, runs right after the run's switch.
func runToBeKilled(t *testing.T, at string, afterSwitch func()) {
	sec, err := strconv.ParseInt(at, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	db, err := chdb.Open(context.Background(), os.Getenv("CLICKHOUSE_DSN"))
	if err != nil {
		t.Fatal(err)
	}
	e := incrementalEngine(t, db, abandonConfig(t))
	if afterSwitch != nil {
		e.SetAfterSwitch(afterSwitch)
	}
	incRun(t, e, time.Unix(sec, 0).UTC(), false, segment.ModeIncremental)
	t.Fatal("the run to be killed finished")
}

// checkAbandoned checks that a run was found abandoned: recorded failed
// as such, with no rows left.
func checkAbandoned(t *testing.T, db *chdb.DB, runID string) {
	t.Helper()
	if status := runStatus(t, db, runID); status != "failed" {
		t.Errorf("the run %s is %q after the next run, want failed", runID, status)
	}
	var msg string
	if err := db.QueryRow(context.Background(), "SELECT error FROM v_segment_runs WHERE site = ? AND run_id = ?", site, runID).Scan(&msg); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(msg, "abandoned: the process running it stopped") || !strings.Contains(msg, "its rows were dropped") {
		t.Errorf("the run's error = %q, want it to say it was abandoned and its rows dropped", msg)
	}
	if left := tablesOf(t, db, runID); len(left) > 0 {
		t.Errorf("the abandoned run still has rows in %v", left)
	}
}

// tablesOf lists the tables holding rows of a run.
func tablesOf(t *testing.T, db *chdb.DB, runID string) []string {
	t.Helper()
	rows, err := db.Query(context.Background(), "SELECT DISTINCT table FROM system.parts WHERE database = currentDatabase() AND active AND position(partition, ?) > 0 ORDER BY table", runID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var tables []string
	for rows.Next() {
		var table string
		if err := rows.Scan(&table); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, table)
	}
	return tables
}

// runStatus is a run's status in v_segment_runs.
func runStatus(t *testing.T, db *chdb.DB, runID string) string {
	t.Helper()
	var status string
	if err := db.QueryRow(context.Background(), "SELECT status FROM v_segment_runs WHERE site = ? AND run_id = ?", site, runID).Scan(&status); err != nil {
		t.Fatalf("status of run %s: %v", runID, err)
	}
	return status
}

// ClickHouse killed in the middle of an incremental run (SIGKILL, as its
// crash or an out-of-memory kill would do) fails the run, and while it is
// down nothing can record the run failed or drop the rows it wrote, which
// the restarted server still has. The site's next run does both, and
// shows users exactly what a full run on the same events shows.
func TestARunWhoseClickHouseDiesMidwayIsDroppedByTheNext(t *testing.T) {
	srv, db := chtest.Private(t)
	ctx := context.Background()
	cfg := abandonConfig(t)
	e, _, t1 := aShop(t, db, cfg, 3)
	e.Now = func() time.Time { return t1 }
	done := make(chan error, 1)
	go func() {
		_, err := e.Run(ctx, site, segment.RunOptions{})
		done <- err
	}()
	killed := midRun(t, db, func() string { return "the run ended with " + fmt.Sprint(<-done) })
	srv.Kill()
	killedAt := time.Now()
	if err := <-done; err == nil {
		t.Fatal("the run survived its ClickHouse being killed")
	}
	if err := srv.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	if tables := tablesOf(t, db, killed); len(tables) == 0 {
		t.Fatal("the run killed mid-way left no rows: the test shows nothing")
	}
	nextRunDropsIt(t, cfg, db, e, killed, killedAt, t1, 30)
}

// aShop is a shop with a full run at now (40 visitors' 400 events over
// three days, the products of incrementalCatalog), then 100 more events
// of 20 visitors, some new, until the returned time two hours later:
// where the tests of runs that end badly start.
func aShop(t *testing.T, db *chdb.DB, cfg config.Config, seed uint64) (*segment.Engine, segment.RunResult, time.Time) {
	t.Helper()
	incrementalCatalog(t, db)
	e := incrementalEngine(t, db, cfg)
	r := rand.New(rand.NewPCG(17, seed))
	insertStored(t, db, traffic(r, names("v", 0, 40), 400, now.Add(-72*time.Hour), now)...)
	prev := incRun(t, e, now, false, segment.ModeFull)
	later := now.Add(2 * time.Hour)
	insertStored(t, db, traffic(r, names("v", 30, 50), 100, now, later)...)
	return e, prev, later
}

// A run says it is alive while it computes, and never switches readers
// to itself once another process has taken it for abandoned (a process
// paused longer than segments.run_abandoned_after, say) and dropped its
// rows: it fails, and the run before it stays current.
func TestARunTakenForAbandonedDoesNotSwitch(t *testing.T) {
	ctx := context.Background()
	db := chtest.MustOpen(t)
	e, prev, later := aShop(t, db, abandonConfig(t), 1)

	var beats, statusAfter string
	e.SetBeforeSwitch(func(ctx context.Context, site, runID string) error {
		// Silent a whole run_abandoned_after, the run would be taken for
		// abandoned: it must have said it is alive meanwhile (its newest
		// row: merges keep only that one).
		asleep := time.Now()
		time.Sleep(time.Second)
		var last uint64
		if err := db.QueryRow(ctx, "SELECT max(updated) FROM seg_runs WHERE site = ? AND run_id = ?", site, runID).Scan(&last); err != nil {
			t.Error(err)
		}
		if d := time.Unix(0, int64(last)).Sub(asleep); d < 600*time.Millisecond {
			beats = fmt.Sprintf("the run's newest sign of life is %s into a second's wait", d)
		}
		// Another process takes it for abandoned (its rows are not
		// dropped here), as a heartbeat that read the run's row just
		// before lands after it: a row saying running, newer by the clock.
		if err := e.RecordAbandoned(ctx, site, runID); err != nil {
			t.Fatal(err)
		}
		if err := db.Exec(ctx, `INSERT INTO seg_runs (site, run_id, started_at, finished_at, status, error, as_of, audiences, updated)
			SELECT site, run_id, started_at, finished_at, 'running', '', as_of, audiences, @updated
			FROM seg_runs WHERE site = @site AND run_id = @run ORDER BY updated DESC LIMIT 1`,
			clickhouse.Named("site", site), clickhouse.Named("run", runID), clickhouse.Named("updated", uint64(time.Now().UnixNano()))); err != nil {
			t.Fatal(err)
		}
		// Its heartbeats go on until it ends, and must not bring it back.
		time.Sleep(500 * time.Millisecond)
		statusAfter = runStatus(t, db, runID)
		return nil
	})
	e.Now = func() time.Time { return later }
	res, err := e.Run(ctx, site, segment.RunOptions{})
	if err == nil || !strings.Contains(err.Error(), "took this run for abandoned") {
		t.Fatalf("a run taken for abandoned ended with %v, want an error saying so", err)
	}
	if beats != "" {
		t.Error(beats)
	}
	if statusAfter != "failed" {
		t.Errorf("a run taken for abandoned is %q after its heartbeats, want failed", statusAfter)
	}
	var msg string
	if err := db.QueryRow(ctx, "SELECT error FROM v_segment_runs WHERE site = ? AND run_id = ?", site, res.RunID).Scan(&msg); err != nil || !strings.HasPrefix(msg, "abandoned:") {
		t.Errorf("the run's error = %q (%v), want the one recording it abandoned", msg, err)
	}
	if cur, err := e.CurrentRun(ctx, site); err != nil || cur != prev.RunID {
		t.Errorf("current run = %s (%v), want the one before, %s", cur, err, prev.RunID)
	}
	var n uint64
	if err := db.QueryRow(ctx, "SELECT count() FROM seg_profiles WHERE run_id = ?", res.RunID).Scan(&n); err != nil || n != 0 {
		t.Errorf("the run taken for abandoned kept %d profiles (%v)", n, err)
	}
	noHistoryOf(t, db, e, res.RunID)
	e.SetBeforeSwitch(nil)
	incRun(t, e, later, false, segment.ModeIncremental)
}

// Evaluations and dry runs write scratch rows under run ids of their own,
// which no run records. A run's cleanup must leave another process's
// scratch rows alone while it computes, and drop those left by one that
// crashed (started over an hour ago).
func TestCleanupLeavesOtherProcessesScratchRows(t *testing.T) {
	ctx := context.Background()
	db := chtest.MustOpen(t)
	e, _, later := aShop(t, db, incrementalConfig(t), 2)
	started := func(ago time.Duration) string {
		return time.Now().Add(-ago).UTC().Format("20060102T150405.000000") + "-0a0b0c"
	}
	live := []string{"er" + started(time.Minute), "r" + started(time.Minute) + "-dry"}
	crashed := []string{"er" + started(2*time.Hour), "r" + started(2*time.Hour) + "-dry"}
	for _, id := range append(live, crashed...) {
		for _, table := range []string{"seg_profiles", "seg_opted_out"} {
			if err := db.Exec(ctx, "INSERT INTO "+table+" (site, run_id, vh) SELECT ?, ?, 1", site, id); err != nil {
				t.Fatal(err)
			}
		}
	}
	for i := range 3 { // with the run before, more runs than keep_runs: cleanup drops runs
		incRun(t, e, later.Add(time.Duration(i)*time.Minute), false, segment.ModeIncremental)
	}
	for _, id := range append(live, crashed...) {
		for _, table := range []string{"seg_profiles", "seg_opted_out"} {
			var n uint64
			if err := db.QueryRow(ctx, "SELECT count() FROM "+table+" WHERE site = ? AND run_id = ?", site, id).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if isLive := slices.Contains(live, id); isLive != (n > 0) {
				t.Errorf("%s: %d rows of scratch run %s (live: %v)", table, n, id, isLive)
			}
		}
	}
}

// Two processes may run a site at once (a CLI run beside the schedule).
// When the other one finishes first, its cleanup may drop the run this
// one builds on (with keep_runs: 1, or after enough runs) while this one
// still reads it. This run must then fail rather than switch readers to
// a snapshot missing what it could not read, and the next run starts
// afresh.
func TestARunWhosePreviousRunIsDroppedMidwayDoesNotSwitch(t *testing.T) {
	ctx := context.Background()
	e, prev, t1 := aShop(t, chtest.MustOpen(t), incrementalConfig(t), 4)
	e.SetAfterPlan(func(ctx context.Context, _, prev string) error { return e.DropRun(ctx, prev) })
	e.Now = func() time.Time { return t1 }
	res, err := e.Run(ctx, site, segment.RunOptions{})
	if err == nil || !strings.Contains(err.Error(), "the previous run's rows were dropped while this run read them") {
		t.Fatalf("a %s run whose previous run was dropped under it ended with %v, want an error saying so", res.Mode, err)
	}
	if cur, err := e.CurrentRun(ctx, site); err != nil || cur != prev.RunID {
		t.Errorf("current run = %s (%v), want the one before, %s", cur, err, prev.RunID)
	}
	e.SetAfterPlan(nil)
	next := incRun(t, e, t1, false, segment.ModeFull)
	if next.Cause != segment.CauseRowsGone {
		t.Errorf("the next run is full for %q (%s), want %q", next.Cause, next.Reason, segment.CauseRowsGone)
	}
}

// A process killed right after its run's switch (before it has dropped
// its work rows) leaves readers on that run, recorded finished, since a
// run is recorded so before its switch: feeds serve it whole, nothing
// takes it for abandoned, and the site's next run builds on it.
func TestARunKilledAfterItsSwitchStaysCurrent(t *testing.T) {
	if underRace {
		// Its run is like every other, which other tests run under the
		// detector; the fault it injects involves no concurrency.
		t.Skip("a switch's fault: run without -race")
	}
	if at := os.Getenv(killedRunAt); at != "" {
		runToBeKilled(t, at, func() { select {} })
		return
	}
	dsn := chtest.DSN(t)
	db := chtest.Open(t, dsn)
	cfg := abandonConfig(t)
	e, prev, t1 := aShop(t, db, cfg, 8)
	killed, output := killRun(t, db, dsn, t1, func(t *testing.T, db *chdb.DB, why func() string) string {
		for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(5 * time.Millisecond) {
			cur, err := e.CurrentRun(context.Background(), site)
			if err != nil {
				t.Fatal(err)
			}
			if cur != prev.RunID {
				return cur
			}
			if time.Now().After(deadline) {
				t.Fatalf("no run switched within 2 minutes; %s", why())
			}
		}
	})
	if status := runStatus(t, db, killed); status != "ok" {
		t.Fatalf("the run killed after its switch is %q, want ok. Its output:\n%s", status, output)
	}
	time.Sleep(1500 * time.Millisecond) // over segments.run_abandoned_after: nothing may take it for abandoned
	readersKeep(t, cfg, db, e, killed, t1, 80)
}

// readersKeep checks that readers read run runID of the shop aShop made,
// as of t1 (readersRead), and that the run keeps its rows: the site's
// next run, an hour later with 30 more events (seeded by seed), builds on
// it incrementally and shows what a full run on the same events shows.
func readersKeep(t *testing.T, cfg config.Config, db *chdb.DB, e *segment.Engine, runID string, t1 time.Time, seed uint64) {
	t.Helper()
	readersRead(t, cfg, db, e, runID, t1)
	at := t1.Add(time.Hour)
	insertStored(t, db, traffic(rand.New(rand.NewPCG(17, seed)), names("v", 45, 55), 30, t1, at)...)
	next := incRun(t, e, at, false, segment.ModeIncremental)
	runcheck.Compare(t, readRun(t, cfg, db, next, at), readRun(t, cfg, db, incRun(t, e, at, true, segment.ModeFull), at))
}

// readersRead checks that readers read run runID as of t1: it is current
// and recorded ok, and its feed is served.
func readersRead(t *testing.T, cfg config.Config, db *chdb.DB, e *segment.Engine, runID string, t1 time.Time) {
	t.Helper()
	ctx := context.Background()
	if cur, err := e.CurrentRun(ctx, site); err != nil || cur != runID {
		t.Fatalf("the current run is %q (%v), want %s", cur, err, runID)
	}
	if status := runStatus(t, db, runID); status != "ok" {
		t.Fatalf("the current run %s is %q, want ok", runID, status)
	}
	served := export(t, feedAPI(t, cfg, db, t1), "cart_abandoners", feeds.Formats["feed.json"]) // fails the test unless served
	if !strings.Contains(served.body, runID) {
		t.Errorf("the feed did not come from the current run %s:\n%.300s", runID, served.body)
	}
}

// noHistoryOf checks that a failed run is in neither history of runs,
// though it had written its audience sizes and outcome totals when it
// failed (readers take them for a finished run's: the lift history reads
// each day's last run).
func noHistoryOf(t *testing.T, db *chdb.DB, e *segment.Engine, runID string) {
	t.Helper()
	ctx := context.Background()
	for _, view := range []string{"v_audience_sizes", "v_audience_outcome_history"} {
		var n uint64
		// view is one of the two names above.
		if err := db.QueryRow(ctx, "SELECT count() FROM "+view+" WHERE site = ? AND run_id = ?", site, runID).Scan(&n); err != nil || n != 0 {
			t.Errorf("%s has %d rows of the failed run %s (%v)", view, n, runID, err)
		}
	}
	var written uint64
	if err := db.QueryRow(ctx, "SELECT count() FROM seg_outcome_totals WHERE site = ? AND run_id = ?", site, runID).Scan(&written); err != nil || written == 0 {
		t.Errorf("the failed run wrote %d outcome totals (%v): the test shows nothing", written, err)
	}
	// Nor in the lift reports' histories, which read the tables.
	rows, err := db.Query(ctx, "SELECT DISTINCT audience, run_time FROM seg_outcome_totals WHERE site = ? AND run_id = ?", site, runID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var audience string
		var at time.Time
		if err := rows.Scan(&audience, &at); err != nil {
			t.Fatal(err)
		}
		rep, err := e.LiftReport(ctx, site, audience, false)
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range rep.History {
			if h.RunTime.Equal(at) {
				t.Errorf("%s's lift history shows the failed run's totals: %+v", audience, h)
			}
		}
	}
}
