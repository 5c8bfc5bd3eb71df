package ingest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/remarket/remarket/internal/chdb"
)

// Shipper moves committed spool records into ClickHouse in large batches
// (BatchRows or FlushInterval, whichever first), retrying with backoff
// while ClickHouse is down, and checkpoints only after an insert succeeded.
type Shipper struct {
	spool     *Spool
	db        *chdb.DB
	log       *slog.Logger
	batchRows int
	interval  time.Duration

	kick  chan struct{} // ship what is there now
	stop  chan struct{} // drain to the committed end, then return
	abort chan struct{} // give up retrying (Stop's deadline passed)
	done  chan struct{}
}

// NewShipper prepares a shipper; Start runs it.
func NewShipper(s *Spool, db *chdb.DB, batchRows int, interval time.Duration, log *slog.Logger) *Shipper {
	return &Shipper{spool: s, db: db, log: log, batchRows: batchRows, interval: interval,
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
		batch    []Event
		end      Position
		first    time.Time // when the batch's first record was read
		oldest   time.Time // its receive time, for the latency metric
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
			var e Event
			if err := decodeEvent(payload, &e); err != nil {
				sh.log.Error("spool: undecodable record skipped", "err", err)
				continue
			}
			if len(batch) == 0 {
				first, oldest = time.Now(), e.ReceivedAt
			}
			batch = append(batch, e)
		}
		due := len(batch) >= sh.batchRows || stopping || kicked || time.Since(first) >= sh.interval
		if len(batch) > 0 && due {
			if !sh.ship(batch, oldest) {
				return // aborted while ClickHouse was down: the spool keeps it
			}
			sh.checkpoint(end)
			batch, kicked = batch[:0], false
			continue
		}
		if len(batch) == 0 && sh.spool.Shipped().less(end) {
			sh.checkpoint(end) // only skipped records were read
		}
		if stopping && len(batch) == 0 && !cur.pos.less(sh.spool.Committed()) {
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

// ship inserts batch, retrying with backoff while ClickHouse fails, until
// it succeeds or Stop's deadline aborts it.
func (sh *Shipper) ship(batch []Event, oldest time.Time) bool {
	backoff := 200 * time.Millisecond
	for attempt := 1; ; attempt++ {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		t := time.Now()
		err := insertEvents(ctx, sh.db, batch)
		cancel()
		if err == nil {
			shipBatchSeconds.Observe(time.Since(t).Seconds())
			shippedEvents.Add(float64(len(batch)))
			if !oldest.IsZero() {
				shipLatency.Observe(time.Since(oldest).Seconds())
			}
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
		// The records are in ClickHouse; a stale checkpoint only means a
		// replay, which ClickHouse deduplicates by event id.
		sh.log.Error("spool: cannot write checkpoint", "err", err)
	}
}
