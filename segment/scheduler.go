package segment

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/remarket/remarket/internal/chdb"
	"github.com/remarket/remarket/internal/config"
)

// Scheduler runs every site's segments on the configured schedule inside
// serve: one run at a time (sites one after another), each logged.
type Scheduler struct {
	engine *Engine
	every  time.Duration
	log    *slog.Logger
}

// NewScheduler reads segments.schedule; a disabled schedule makes Run
// return at once.
func NewScheduler(cfg config.Config, db *chdb.DB, log *slog.Logger) *Scheduler {
	if log == nil {
		log = slog.Default()
	}
	every, err := cfg.Segments.ScheduleEvery()
	if err != nil { // Validate already rejected it; be safe anyway
		every = 0
	}
	return &Scheduler{engine: New(cfg, db, log), every: every, log: log}
}

// WithRedemptions has the scheduled runs record offer redemptions first
// (Engine.SetRedemptions).
func (s *Scheduler) WithRedemptions(r Redemptions) *Scheduler {
	s.engine.SetRedemptions(r)
	return s
}

// Run runs all sites now and then every interval until ctx ends. A run
// that outlasts the interval delays the next one (never two at once).
func (s *Scheduler) Run(ctx context.Context) {
	if s.every <= 0 {
		s.log.Info("segment schedule disabled")
		return
	}
	s.log.Info("segment schedule", "every", s.every.String())
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.RunOnce(ctx)
		t.Reset(s.every)
	}
}

// RunOnce runs every configured site once, except sites another serve
// instance ran within the last 90% of the interval: with several
// instances behind a load balancer, each site is then computed about once
// per interval instead of once per instance. (Two instances checking at
// the same instant may both run; each run is a complete snapshot and the
// later one becomes current, so that costs time, never correctness.)
func (s *Scheduler) RunOnce(ctx context.Context) {
	for _, site := range s.engine.cfg.Sites {
		if ctx.Err() != nil {
			return
		}
		if recent, err := s.ranRecently(ctx, site.ID); err == nil && recent {
			s.log.Info("segment run skipped: another instance ran it recently", "site", site.ID)
			continue
		}
		_, err := s.engine.Run(ctx, site.ID, RunOptions{})
		if errors.Is(err, ErrBusy) {
			s.log.Info("segment run skipped: one is in progress", "site", site.ID)
		}
		// Run logs its own success or failure.
	}
}

// ranRecently reports whether any process started a run of site within
// the last 90% of the schedule interval. It reads seg_runs by its key
// rather than v_segment_runs, which ClickHouse 18.16 groups over every
// site's history before filtering; every row of a run has its started_at.
func (s *Scheduler) ranRecently(ctx context.Context, site string) (bool, error) {
	since := s.engine.Now().Add(-s.every * 9 / 10).UTC()
	var n uint64
	err := s.engine.db.QueryRow(ctx, `SELECT count() FROM (
			SELECT run_id FROM seg_runs WHERE site = ? AND started_at >= ?
			GROUP BY run_id HAVING argMax(status, updated) != 'failed')`,
		site, since).Scan(&n)
	return n > 0, err
}
