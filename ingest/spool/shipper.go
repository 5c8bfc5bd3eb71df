package spool

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"
)

// Sink stores one batch of records, in spool order. It returns nil once
// they are stored (the shipper then checkpoints past them) and an error to
// have the same batch retried with backoff. A record it cannot use it
// skips itself: a nil error means the whole batch is done with. The
// records are only valid during the call.
type Sink func(ctx context.Context, records [][]byte) error

// ShipperOptions configure NewShipper.
type ShipperOptions struct {
	BatchRows     int           // most records in one batch
	FlushInterval time.Duration // longest a record waits for a fuller batch
	Logger        *slog.Logger
}

// Shipper moves committed spool records into a Sink in large batches
// (BatchRows or FlushInterval, whichever first), retrying with backoff
// while the Sink fails, and checkpoints only after a batch was stored.
type Shipper struct {
	spool     *Spool
	sink      Sink
	log       *slog.Logger
	batchRows int
	interval  time.Duration

	kick  chan struct{} // ship what is there now
	stop  chan struct{} // drain to the committed end, then return
	abort chan struct{} // give up retrying (Stop's deadline passed)
	done  chan struct{}
}

// NewShipper prepares a shipper; Start runs it.
func NewShipper(s *Spool, sink Sink, opts ShipperOptions) *Shipper {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Shipper{spool: s, sink: sink, log: opts.Logger, batchRows: opts.BatchRows, interval: opts.FlushInterval,
		kick: make(chan struct{}, 1), stop: make(chan struct{}), abort: make(chan struct{}), done: make(chan struct{})}
}

// Start runs the shipping loop until Stop.
func (sh *Shipper) Start() { go sh.run() }

// Kick asks for an immediate batch instead of waiting for the interval.
func (sh *Shipper) Kick() {
	select {
	case sh.kick <- struct{}{}:
	default:
	}
}

// Stop ships everything committed, then returns; if ctx ends first, what is
// left stays in the spool for the next start.
func (sh *Shipper) Stop(ctx context.Context) error {
	close(sh.stop)
	select {
	case <-sh.done:
		return nil
	case <-ctx.Done():
		close(sh.abort)
		<-sh.done
		return fmt.Errorf("shipper did not drain before the deadline (%d bytes stay in the spool for the next start): %w", sh.spool.Unshipped(), ctx.Err())
	}
}

func (sh *Shipper) run() {
	defer close(sh.done)
	cur := newCursor(sh.spool, sh.spool.Shipped())
	defer cur.closeReader()
	var (
		batch    [][]byte
		end      Position
		first    time.Time // when the batch's first record was read
		kicked   bool
		stopping bool
		stop     = sh.stop
	)
	for {
		for len(batch) < sh.batchRows {
			payload, pos, err := cur.next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				sh.log.Error("spool: read failed", "err", err)
				break
			}
			end = pos
			if len(batch) == 0 {
				first = time.Now()
			}
			batch = append(batch, payload)
		}
		due := len(batch) >= sh.batchRows || stopping || kicked || time.Since(first) >= sh.interval
		if len(batch) > 0 && due {
			if !sh.ship(batch) {
				return // aborted while the sink was failing: the spool keeps it
			}
			sh.checkpoint(end)
			clear(batch)
			batch, kicked = batch[:0], false
			continue
		}
		if len(batch) == 0 && sh.spool.Shipped().Less(end) {
			sh.checkpoint(end) // only skipped bytes were read
		}
		if stopping && len(batch) == 0 && !cur.pos.Less(sh.spool.Committed()) {
			return
		}
		var timer <-chan time.Time
		if len(batch) > 0 {
			timer = time.After(sh.interval - time.Since(first))
		}
		select {
		case <-sh.spool.Notify():
		case <-sh.kick:
			kicked = true
		case <-timer:
		case <-stop:
			stopping, stop = true, nil
		}
	}
}

// ship hands batch to the sink, retrying with backoff while it fails,
// until it succeeds or Stop's deadline aborts it.
func (sh *Shipper) ship(batch [][]byte) bool {
	backoff := 200 * time.Millisecond
	for attempt := 1; ; attempt++ {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		t := time.Now()
		err := sh.sink(ctx, batch)
		cancel()
		if err == nil {
			shipBatchSeconds.Observe(time.Since(t).Seconds())
			return true
		}
		shipErrors.Inc()
		sh.log.Warn("clickhouse insert failed; will retry", "rows", len(batch), "attempt", attempt, "retry_in", backoff.String(), "err", err)
		select {
		case <-time.After(backoff):
		case <-sh.abort:
			return false
		}
		backoff = min(backoff*2, 10*time.Second)
	}
}

func (sh *Shipper) checkpoint(pos Position) {
	if err := sh.spool.Checkpoint(pos); err != nil {
		// The records are stored; a stale checkpoint only means a replay,
		// which ClickHouse deduplicates by event id.
		sh.log.Error("spool: cannot write checkpoint", "err", err)
	}
}
