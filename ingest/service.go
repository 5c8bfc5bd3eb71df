package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/remarket/remarket/ingest/spool"
	"github.com/remarket/remarket/internal/chdb"
	"github.com/remarket/remarket/internal/config"
)

// Options configure Open.
type Options struct {
	Config config.Config
	DB     *chdb.DB
	// DBWhenUp, in place of DB, gives the ClickHouse to ship to once there
	// is one, nil before: serve collects while it still waits for
	// ClickHouse, and the spool keeps the events until then.
	DBWhenUp func() *chdb.DB
	Logger   *slog.Logger
	Now      func() time.Time // injectable clock; default time.Now
}

// Service is the ingest capability: HTTP collectors in front of the
// durable spool and the shipper.
type Service struct {
	cfg     config.Config
	log     *slog.Logger
	now     func() time.Time
	spool   *spool.Spool
	shipper *spool.Shipper
}

// Open opens the spool (replaying what a previous process left unshipped)
// and starts shipping to ClickHouse.
func Open(ctx context.Context, opts Options) (*Service, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	db := opts.DBWhenUp
	if db == nil && opts.DB == nil {
		return nil, errors.New("ingest: no ClickHouse connection")
	}
	if db == nil {
		db = func() *chdb.DB { return opts.DB }
	}
	sc := opts.Config.Spool
	sp, err := spool.Open(spool.Options{Dir: opts.Config.SpoolDir, SegmentBytes: sc.SegmentBytes, MaxBytes: sc.MaxBytes, Logger: opts.Logger})
	if err != nil {
		return nil, err
	}
	if n := sp.Unshipped(); n > 0 {
		opts.Logger.Info("spool: replaying unshipped events", "bytes", n)
	}
	sh := spool.NewShipper(sp, eventSink(db, opts.Logger), spool.ShipperOptions{BatchRows: sc.BatchRows, FlushInterval: sc.FlushInterval, Logger: opts.Logger})
	sh.Start()
	return &Service{cfg: opts.Config, log: opts.Logger, now: opts.Now, spool: sp, shipper: sh}, nil
}

// Register mounts the collectors on r.
func (s *Service) Register(r gin.IRouter) { s.registerRoutes(r) }

// accept makes events durable; it returns nil only once they are fsync'd.
func (s *Service) accept(ctx context.Context, events []Event) error {
	payloads := make([][]byte, len(events))
	for i := range events {
		payloads[i] = encodeEvent(nil, &events[i])
	}
	return s.spool.Append(ctx, payloads...)
}

// Flush waits until everything accepted before the call is in ClickHouse.
func (s *Service) Flush(ctx context.Context) error {
	target := s.spool.Committed()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for s.spool.Shipped().Less(target) {
		s.shipper.Kick()
		select {
		case <-ctx.Done():
			return fmt.Errorf("events not shipped yet (%d bytes waiting): %w", s.spool.Unshipped(), ctx.Err())
		case <-tick.C:
		}
	}
	return nil
}

// Ready fails while the spool cannot take more events: at its cap, or
// while its disk refuses writes.
func (s *Service) Ready(context.Context) error { return s.spool.Health() }

// Close stops accepting, finishes queued appends, ships what it can
// before ctx ends and closes the spool. Unshipped records stay on disk.
func (s *Service) Close(ctx context.Context) error {
	err := s.spool.Close()
	err = errors.Join(err, s.shipper.Stop(ctx))
	return errors.Join(err, s.spool.Release())
}
