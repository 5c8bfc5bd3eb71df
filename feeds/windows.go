package feeds

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/remarket/remarket/internal/chdb"
	"github.com/remarket/remarket/internal/config"
)

// An offer window is persisted (feed_offer_windows) when a feed first
// lists a product under a rule, and every later feed reuses it, so a
// "48h" offer really ends 48 hours after it was first advertised instead
// of moving with each 15-minute segment run. After a window ends, the
// product shows no offer until a cooldown as long as the rule's duration
// has passed; the first run after that opens the next window.

// ruleKey identifies what an offer promises: the selector, the discount
// and the duration. Changing any of them is a new offer with its own
// windows; toggling a rule off and on again is not.
func ruleKey(r config.DiscountRule) string {
	s := r.Audience + "\x00" + r.Motivation + "\x00" + r.Strategy + "\x00" +
		strconv.FormatFloat(r.Percent, 'g', -1, 64) + "\x00" + strconv.FormatFloat(r.Amount, 'g', -1, 64) + "\x00" +
		strconv.FormatFloat(r.BundlePercent, 'g', -1, 64) + "\x00" + strconv.FormatInt(int64(r.Duration), 10) + "\x00" + r.Start
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:8])
}

// offerWindows is the resolved window of each listed product of one run
// (absent: no offer), in the run's order for a stable digest.
type offerWindows struct {
	byProduct map[string]Window
	edges     []time.Time // distinct starts and ends, ascending
	digest    string      // changes when any product's window does
}

// epoch counts the window edges at or before now; last is the latest of
// them (zero when none).
func (o offerWindows) epoch(now time.Time) (n int, last time.Time) {
	n, _ = slices.BinarySearchFunc(o.edges, now, func(e, t time.Time) int {
		if e.After(t) {
			return 1
		}
		return -1 // e <= now counts
	})
	if n > 0 {
		last = o.edges[n-1]
	}
	return n, last
}

// storedWindow is the latest window of one product under one rule.
type storedWindow struct {
	seq uint32
	w   Window
}

type windowKey struct{ product, rule string }

// listedProducts mirrors feedQuery's choice of products (same run, rank
// order, once each, present in the catalog, same limit) without the
// catalog columns: the products a feed of the run can show.
const listedProducts = `SELECT product_id, strategy, motivation
FROM v_audience_products_by_run
WHERE site = ? AND audience = ? AND run_id = ?
    AND product_id IN (SELECT product_id FROM v_products WHERE site = ?)
ORDER BY rank, product_id
LIMIT 1 BY product_id
LIMIT ?`

// latestWindows reads, per product of the run's list and rule, the window
// with the highest seq; of rows sharing a seq (generations that raced to
// open it) the earliest start wins.
const latestWindows = `SELECT product_id, rule_key, seq, start, end
FROM (
    SELECT product_id, rule_key, seq, min(window_start) AS start, argMin(window_end, window_start) AS end
    FROM feed_offer_windows
    WHERE site = ? AND audience = ? AND has(?, rule_key)
        AND product_id IN (SELECT product_id FROM v_audience_products_by_run WHERE site = ? AND audience = ? AND run_id = ?)
    GROUP BY product_id, rule_key, seq
)
ORDER BY product_id, rule_key, seq DESC
LIMIT 1 BY product_id, rule_key`

type wanted struct {
	product string
	rule    config.DiscountRule
	key     string
}

// resolveWindows decides the offer window of every product a feed of run
// can list, opening (and storing) windows where a rule allows a new one.
// Memory is one map entry per listed product: at most limit (twice the
// feed's item cap, 20,000 by default).
func resolveWindows(ctx context.Context, db *chdb.DB, site, audience string, run Run, rules []config.DiscountRule, now time.Time, limit int) (offerWindows, error) {
	out := offerWindows{byProduct: map[string]Window{}}
	if len(rules) == 0 {
		return out, nil
	}
	list, keys, err := listForWindows(ctx, db, site, audience, run.ID, rules, limit)
	if err != nil || len(list) == 0 {
		return out, err
	}
	latest, err := loadWindows(ctx, db, site, audience, run.ID, keys)
	if err != nil {
		return out, err
	}
	var opened []storedWindow
	var openedFor []wanted
	for _, x := range list {
		prev, has := latest[windowKey{x.product, x.key}]
		// A stored window stays the product's window until the first run
		// that finished a full duration after it ended.
		if has && run.Finished.Before(prev.w.End.Add(x.rule.Duration)) {
			out.byProduct[x.product] = prev.w
			continue
		}
		w := windowOf(x.rule, run.Finished, time.Time{})
		if !w.End.After(w.Start) || !w.End.After(now) {
			continue // a window over before anyone could see it is not opened
		}
		opened = append(opened, storedWindow{seq: prev.seq + 1, w: w})
		openedFor = append(openedFor, x)
	}
	if len(opened) > 0 {
		if err := insertWindows(ctx, db, site, audience, openedFor, opened, now); err != nil {
			return out, err
		}
		// Read back: a concurrent generation may have opened the same
		// window from an earlier run, and the earliest start wins.
		if latest, err = loadWindows(ctx, db, site, audience, run.ID, keys); err != nil {
			return out, err
		}
		for _, x := range openedFor {
			if s, ok := latest[windowKey{x.product, x.key}]; ok {
				out.byProduct[x.product] = s.w
			}
		}
	}
	h := sha256.New()
	for _, x := range list {
		w, ok := out.byProduct[x.product]
		if !ok {
			continue
		}
		fmt.Fprintf(h, "%s\x00%d\x00%d\x00", x.product, w.Start.Unix(), w.End.Unix())
		out.edges = append(out.edges, w.Start, w.End)
	}
	out.digest = hex.EncodeToString(h.Sum(nil)[:12])
	slices.SortFunc(out.edges, func(a, b time.Time) int { return a.Compare(b) })
	out.edges = slices.CompactFunc(out.edges, time.Time.Equal)
	return out, nil
}

// listForWindows reads the run's list and matches each product's rule.
func listForWindows(ctx context.Context, db *chdb.DB, site, audience, runID string, rules []config.DiscountRule, limit int) ([]wanted, []string, error) {
	rows, err := db.Query(ctx, listedProducts, site, audience, runID, site, uint64(limit))
	if err != nil {
		return nil, nil, fmt.Errorf("cannot list audience %q products for offer windows: %w", audience, err)
	}
	defer rows.Close()
	var list []wanted
	keyOf := map[int]string{}
	var keys []string
	for rows.Next() {
		var product, strategy, motivation string
		if err := rows.Scan(&product, &strategy, &motivation); err != nil {
			return nil, nil, fmt.Errorf("cannot read audience %q products: %w", audience, err)
		}
		rule, i, ok := matchRuleIndex(rules, audience, motivation, strategy)
		if !ok {
			continue
		}
		k, seen := keyOf[i]
		if !seen {
			k = ruleKey(rule)
			keyOf[i] = k
			keys = append(keys, k)
		}
		list = append(list, wanted{product: product, rule: rule, key: k})
	}
	return list, keys, rows.Err()
}

func loadWindows(ctx context.Context, db *chdb.DB, site, audience, runID string, keys []string) (map[windowKey]storedWindow, error) {
	rows, err := db.Query(ctx, latestWindows, site, audience, keys, site, audience, runID)
	if err != nil {
		return nil, fmt.Errorf("cannot read offer windows of audience %q: %w", audience, err)
	}
	defer rows.Close()
	out := map[windowKey]storedWindow{}
	for rows.Next() {
		var k windowKey
		var s storedWindow
		if err := rows.Scan(&k.product, &k.rule, &s.seq, &s.w.Start, &s.w.End); err != nil {
			return nil, fmt.Errorf("cannot read offer windows of audience %q: %w", audience, err)
		}
		s.w.Start, s.w.End = s.w.Start.UTC(), s.w.End.UTC()
		out[k] = s
	}
	return out, rows.Err()
}

// insertWindows stores the windows one generation opened, in one batch.
func insertWindows(ctx context.Context, db *chdb.DB, site, audience string, list []wanted, ws []storedWindow, now time.Time) error {
	b, err := db.PrepareBatch(ctx, `INSERT INTO feed_offer_windows (site, audience, product_id, rule_key, seq,
		window_start, window_end, created_at)`)
	if err != nil {
		return fmt.Errorf("cannot store offer windows: %w", err)
	}
	for i, s := range ws {
		if err := b.Append(site, audience, list[i].product, list[i].key, s.seq, s.w.Start, s.w.End, now.UTC()); err != nil {
			b.Abort()
			return fmt.Errorf("cannot store offer windows: %w", err)
		}
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("cannot store offer windows: %w", err)
	}
	return nil
}
