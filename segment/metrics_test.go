package segment_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/remarket/remarket/internal/chtest"
	"github.com/remarket/remarket/segment"
)

// metric is the value on /metrics (the default registry) of the series
// name with exactly these labels: a counter's or a gauge's value, a
// histogram's count; 0 before the series exists.
func metric(t *testing.T, name string, labels ...string) float64 {
	t.Helper()
	families, err := prometheus.DefaultGatherer.Gather()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for i := 0; i+1 < len(labels); i += 2 {
		want[labels[i]] = labels[i+1]
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	series:
		for _, m := range f.GetMetric() {
			if len(m.GetLabel()) != len(want) {
				continue
			}
			for _, l := range m.GetLabel() {
				if v, ok := want[l.GetName()]; !ok || v != l.GetValue() {
					continue series
				}
			}
			switch {
			case m.GetCounter() != nil:
				return m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				return m.GetGauge().GetValue()
			case m.GetHistogram() != nil:
				return float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return 0
}

// An operator sees on /metrics how the site's runs end, in which mode,
// how long they take, whom the last one recomputed and when a run last
// succeeded: a run that fails, or one asked for while another is in
// progress, counts but moves none of the last three.
func TestRunsOnMetrics(t *testing.T) {
	db := chtest.MustOpen(t)
	incrementalCatalog(t, db)
	cfg := incrementalConfig(t)
	e := incrementalEngine(t, db, cfg)
	r := rand.New(rand.NewPCG(17, 2))
	insertStored(t, db, traffic(r, names("v", 0, 40), 300, now.Add(-30*day), now)...)
	time.Sleep(time.Second) // insert times are seconds: the next run must see these as old

	runs := func(mode, outcome string) float64 {
		return metric(t, "remarket_segment_runs_total", "site", site, "mode", mode, "outcome", outcome)
	}
	timed := func(mode string) float64 {
		return metric(t, "remarket_segment_run_seconds", "site", site, "mode", mode)
	}
	fullOK, incOK, incFailed, busy := runs("full", "ok"), runs("incremental", "ok"), runs("incremental", "failed"), runs("none", "busy")
	fullTimed, incTimed := timed("full"), timed("incremental")
	first := metric(t, "remarket_segment_full_runs_total", "site", site, "cause", segment.CauseFirst)

	before := time.Now().Unix()
	full := incRun(t, e, now, false, segment.ModeFull)
	if full.Cause != segment.CauseFirst {
		t.Errorf("first run: cause %q, want %q", full.Cause, segment.CauseFirst)
	}
	if got := runs("full", "ok") - fullOK; got != 1 {
		t.Errorf("full runs ok: +%g, want +1", got)
	}
	if got := metric(t, "remarket_segment_full_runs_total", "site", site, "cause", segment.CauseFirst) - first; got != 1 {
		t.Errorf("full runs with cause first: +%g, want +1", got)
	}
	if got := timed("full") - fullTimed; got != 1 {
		t.Errorf("full runs timed: +%g, want +1", got)
	}
	if got := metric(t, "remarket_segment_recomputed_visitors", "site", site); got != float64(full.Affected) || got == 0 {
		t.Errorf("recomputed visitors after the full run: %g, want %d", got, full.Affected)
	}

	insertStored(t, db, traffic(r, names("v", 0, 2), 2, now, now.Add(15*time.Minute))...)
	time.Sleep(time.Second) // insert times are seconds: the run must start after them
	inc := incRun(t, e, now.Add(15*time.Minute), false, segment.ModeIncremental)
	if inc.Cause != "" {
		t.Errorf("incremental run: cause %q, want none", inc.Cause)
	}
	if got := runs("incremental", "ok") - incOK; got != 1 {
		t.Errorf("incremental runs ok: +%g, want +1", got)
	}
	if got := timed("incremental") - incTimed; got != 1 {
		t.Errorf("incremental runs timed: +%g, want +1", got)
	}
	recomputed := metric(t, "remarket_segment_recomputed_visitors", "site", site)
	if recomputed != float64(inc.Affected) || inc.Affected == 0 || inc.Affected >= full.Affected {
		t.Errorf("recomputed visitors after the incremental run: %g (run %d, full run %d)", recomputed, inc.Affected, full.Affected)
	}
	succeeded := metric(t, "remarket_segment_last_success_timestamp_seconds", "site", site)
	if succeeded < float64(before) || succeeded > float64(time.Now().Unix()) {
		t.Errorf("last success at %g, want between %d and now", succeeded, before)
	}

	// A run that fails, and one asked for while it is in progress.
	inProgress, release := make(chan struct{}), make(chan struct{})
	e.SetBeforeSwitch(func(context.Context, string, string) error {
		close(inProgress)
		<-release
		return errors.New("injected failure")
	})
	failed := make(chan error)
	go func() {
		_, err := e.Run(context.Background(), site, segment.RunOptions{})
		failed <- err
	}()
	<-inProgress
	if _, err := e.Run(context.Background(), site, segment.RunOptions{}); !errors.Is(err, segment.ErrBusy) {
		t.Errorf("a run during a run: %v, want ErrBusy", err)
	}
	close(release)
	if err := <-failed; err == nil {
		t.Fatal("the run with an injected failure succeeded")
	}
	e.SetBeforeSwitch(nil)
	if got := runs("none", "busy") - busy; got != 1 {
		t.Errorf("busy: +%g, want +1", got)
	}
	if got := runs("incremental", "failed") - incFailed; got != 1 {
		t.Errorf("incremental runs failed: +%g, want +1", got)
	}
	if got := runs("incremental", "ok") - incOK; got != 1 {
		t.Errorf("incremental runs ok after a failure: +%g, want +1 still", got)
	}
	if got := metric(t, "remarket_segment_recomputed_visitors", "site", site); got != recomputed {
		t.Errorf("recomputed visitors after a failed run: %g, want the last success's %g", got, recomputed)
	}
	if got := metric(t, "remarket_segment_last_success_timestamp_seconds", "site", site); got != succeeded {
		t.Errorf("last success after a failed run: %g, want %g", got, succeeded)
	}
}

// Each step's query carries the run's id and the step's name as its query
// id, so system.processes and system.query_log tell which step of which
// run a query is.
func TestStepsAreNamedInTheQueryLog(t *testing.T) {
	db := chtest.MustOpen(t)
	incrementalCatalog(t, db)
	e := incrementalEngine(t, db, incrementalConfig(t))
	r := rand.New(rand.NewPCG(18, 2))
	insertStored(t, db, traffic(r, names("v", 0, 10), 100, now.Add(-10*day), now)...)
	e.Now = func() time.Time { return now }
	ctx := clickhouse.Context(context.Background(), clickhouse.WithSettings(clickhouse.Settings{"log_queries": 1}))
	res, err := e.Run(ctx, site, segment.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Exec(context.Background(), "SYSTEM FLUSH LOGS"); err != nil {
		t.Fatal(err)
	}
	// The test servers of 18.16 keep a query log; chDB keeps none.
	if tables := strings1(t, db, "SELECT name FROM system.tables WHERE database = 'system' AND name = 'query_log'"); len(tables) == 0 {
		if !db.Version.AtLeast(19, 1) {
			t.Fatal("the 18.16 test server keeps no system.query_log")
		}
		t.Skipf("ClickHouse %s here keeps no system.query_log", db.Version)
	}
	logged := strings1(t, db, "SELECT DISTINCT query_id FROM system.query_log WHERE startsWith(query_id, ?) AND type = 2 ORDER BY query_id", res.RunID+"/")
	var want []string
	for _, s := range res.Steps {
		want = append(want, res.RunID+"/"+s.Name)
	}
	slices.Sort(want)
	if len(want) < 20 || !slices.Equal(logged, want) {
		t.Errorf("query ids in system.query_log:\n%v\nwant one per step:\n%v", logged, want)
	}
}
