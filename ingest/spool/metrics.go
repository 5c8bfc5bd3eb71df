package spool

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// Spool and shipper metrics. Package-level: one process has one spool.
// The shipped-events count and latency are the Sink's (ingest's).
var (
	spoolAppended = promauto.NewCounter(prometheus.CounterOpts{
		Name: "remarket_spool_events_total", Help: "Events durably written to the spool.",
	})
	spoolBytes = promauto.NewGauge(prometheus.GaugeOpts{
		Name: "remarket_spool_bytes", Help: "Bytes in the spool not yet shipped to ClickHouse.",
	})
	spoolFull = promauto.NewCounter(prometheus.CounterOpts{
		Name: "remarket_spool_full_total", Help: "Appends refused because the spool reached spool.max_bytes.",
	})
	spoolWriteErrors = promauto.NewCounter(prometheus.CounterOpts{
		Name: "remarket_spool_write_errors_total", Help: "Spool writes or fsyncs that failed (a full or failing disk); appends are refused until writes work again.",
	})
	spoolCorruptBytes = promauto.NewCounter(prometheus.CounterOpts{
		Name: "remarket_spool_corrupt_bytes_total", Help: "Torn or corrupt spool bytes skipped or cut.",
	})
	spoolFsync = promauto.NewHistogram(prometheus.HistogramOpts{
		Name: "remarket_spool_fsync_seconds", Help: "Duration of one group commit (write + fsync).",
		Buckets: prometheus.ExponentialBuckets(0.0002, 2, 14),
	})
	shipErrors = promauto.NewCounter(prometheus.CounterOpts{
		Name: "remarket_ship_errors_total", Help: "Failed inserts into ClickHouse (each is retried).",
	})
	shipBatchSeconds = promauto.NewHistogram(prometheus.HistogramOpts{
		Name: "remarket_ship_batch_seconds", Help: "Duration of one batch insert into ClickHouse.",
		Buckets: prometheus.ExponentialBuckets(0.005, 2, 12),
	})
)

// spoolFsyncSeconds times one commit.
var spoolFsyncSeconds = struct{ Start func() func() }{
	Start: func() func() {
		t := time.Now()
		return func() { spoolFsync.Observe(time.Since(t).Seconds()) }
	},
}
