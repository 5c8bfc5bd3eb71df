package segment

import (
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// Segment runs on /metrics, so an operator can alert on what the log
// lines only tell: runs failing, runs that stopped finishing, and
// scheduled runs that keep falling back to full ones (by cause, a fixed
// code: the reason itself holds counts). Labels are the configured sites,
// modes and causes only: a run for an unknown site is refused before it
// counts.
var (
	segmentRuns = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "remarket_segment_runs_total",
		Help: "Segment runs, by site, mode (full, incremental; none when the run failed or was refused before choosing) and outcome (ok, failed, busy: another run of the site was in progress).",
	}, []string{"site", "mode", "outcome"})
	fullRuns = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "remarket_segment_full_runs_total",
		Help: "Segment runs that were full, by site and cause (asked, first, periodic, settings, catalog, increment, ...).",
	}, []string{"site", "cause"})
	runSeconds = promauto.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "remarket_segment_run_seconds",
		Help:    "Duration of a successful segment run, by site and mode.",
		Buckets: []float64{0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800},
	}, []string{"site", "mode"})
	recomputedVisitors = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Name: "remarket_segment_recomputed_visitors",
		Help: "Visitors the site's last successful segment run recomputed from their events (all of them in a full run).",
	}, []string{"site"})
	lastSuccess = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Name: "remarket_segment_last_success_timestamp_seconds",
		Help: "When the site's last successful segment run finished (Unix time).",
	}, []string{"site"})
)

// observeRun counts a run of a configured site that ended with err.
func observeRun(res RunResult, err error) {
	mode := res.Mode
	if mode == "" {
		mode = "none"
	}
	switch {
	case errors.Is(err, ErrBusy):
		segmentRuns.WithLabelValues(res.Site, mode, "busy").Inc()
		return
	case err != nil:
		segmentRuns.WithLabelValues(res.Site, mode, "failed").Inc()
		return
	}
	segmentRuns.WithLabelValues(res.Site, mode, "ok").Inc()
	if res.Cause != "" {
		fullRuns.WithLabelValues(res.Site, res.Cause).Inc()
	}
	runSeconds.WithLabelValues(res.Site, mode).Observe(res.Took.Seconds())
	recomputedVisitors.WithLabelValues(res.Site).Set(float64(res.Affected))
	lastSuccess.WithLabelValues(res.Site).Set(float64(time.Now().Unix()))
}
