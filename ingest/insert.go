package ingest

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/remarket/remarket/ingest/spool"
	"github.com/remarket/remarket/internal/chdb"
)

var (
	shippedEvents = promauto.NewCounter(prometheus.CounterOpts{
		Name: "remarket_shipped_events_total", Help: "Events inserted into ClickHouse.",
	})
	shipLatency = promauto.NewHistogram(prometheus.HistogramOpts{
		Name: "remarket_ship_latency_seconds", Help: "Time from receiving an event to its insert into ClickHouse (oldest event of each batch).",
		Buckets: prometheus.ExponentialBuckets(0.05, 2, 14),
	})
)

// eventSink is the spool's Sink: it decodes a batch of spool records and
// inserts the events into ClickHouse. A record that does not decode is
// logged and left out; it would fail every retry.
func eventSink(db func() *chdb.DB, log *slog.Logger) spool.Sink {
	return func(ctx context.Context, records [][]byte) error {
		conn := db()
		if conn == nil {
			return chdb.ErrNotConnected // retried: the records stay in the spool
		}
		events := make([]Event, 0, len(records))
		var oldest time.Time
		for _, rec := range records {
			var e Event
			if err := decodeEvent(rec, &e); err != nil {
				log.Error("spool: undecodable record skipped", "err", err)
				continue
			}
			if oldest.IsZero() || e.ReceivedAt.Before(oldest) {
				oldest = e.ReceivedAt
			}
			events = append(events, e)
		}
		if len(events) == 0 {
			return nil
		}
		if err := insertEvents(ctx, conn, events); err != nil {
			return err
		}
		shippedEvents.Add(float64(len(events)))
		shipLatency.Observe(time.Since(oldest).Seconds())
		return nil
	}
}

// insertColumns is the explicit column list ClickHouse 18.16 needs for a
// batch; the order matches insertEvents.
const insertEventsSQL = "INSERT INTO events (site, event_id, event_time, received_at, type, name, visitor_id, user_id, " +
	"product_id, sku, category, price, currency, quantity, order_id, revenue, " +
	"`items.product_id`, `items.sku`, `items.category`, `items.price`, `items.quantity`, " +
	"url, referrer, title, user_agent, ip, is_bot, opted_out, properties, traits)"

// insertEvents writes one batch column by column (much cheaper than row
// appends for 10,000-row batches).
func insertEvents(ctx context.Context, db *chdb.DB, events []Event) error {
	b, err := db.PrepareBatch(ctx, insertEventsSQL)
	if err != nil {
		return fmt.Errorf("cannot prepare insert: %w", err)
	}
	n := len(events)
	var (
		site, typ, name, vid, uid, pid, sku, cat, cur, oid = strs(n), strs(n), strs(n), strs(n), strs(n), strs(n), strs(n), strs(n), strs(n), strs(n)
		url, ref, title, ua, ip, props, traits             = strs(n), strs(n), strs(n), strs(n), strs(n), strs(n), strs(n)
		ids                                                = make([]string, n)
		at, recv                                           = make([]time.Time, n), make([]time.Time, n)
		price, rev                                         = make([]float64, n), make([]float64, n)
		qty                                                = make([]uint32, n)
		bot, oo                                            = make([]uint8, n), make([]uint8, n)
		iPID, iSKU, iCat                                   = make([][]string, n), make([][]string, n), make([][]string, n)
		iPrice                                             = make([][]float64, n)
		iQty                                               = make([][]uint32, n)
	)
	for i, e := range events {
		site[i], ids[i], typ[i], name[i], vid[i], uid[i] = e.Site, e.ID.String(), e.Type, e.Name, e.VisitorID, e.UserID
		at[i], recv[i] = e.Time.UTC(), e.ReceivedAt.UTC()
		pid[i], sku[i], cat[i], price[i], cur[i], qty[i] = e.ProductID, e.SKU, e.Category, e.Price, e.Currency, e.Quantity
		oid[i], rev[i] = e.OrderID, e.Revenue
		iPID[i], iSKU[i], iCat[i] = make([]string, len(e.Items)), make([]string, len(e.Items)), make([]string, len(e.Items))
		iPrice[i], iQty[i] = make([]float64, len(e.Items)), make([]uint32, len(e.Items))
		for j, it := range e.Items {
			iPID[i][j], iSKU[i][j], iCat[i][j], iPrice[i][j], iQty[i][j] = it.ProductID, it.SKU, it.Category, it.Price, it.Quantity
		}
		url[i], ref[i], title[i], ua[i], ip[i] = e.URL, e.Referrer, e.Title, e.UserAgent, e.IP
		bot[i], oo[i] = b2u(e.IsBot), b2u(e.OptedOut)
		props[i], traits[i] = e.Properties, e.Traits
	}
	cols := []any{site, ids, at, recv, typ, name, vid, uid, pid, sku, cat, price, cur, qty, oid, rev,
		iPID, iSKU, iCat, iPrice, iQty, url, ref, title, ua, ip, bot, oo, props, traits}
	for i, c := range cols {
		if err := b.Column(i).Append(c); err != nil {
			b.Abort()
			return fmt.Errorf("cannot append column %d: %w", i, err)
		}
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("cannot insert %d events: %w", n, err)
	}
	return nil
}

func strs(n int) []string { return make([]string, n) }

func b2u(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}
