package feeds

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/remarket/remarket/internal/chdb"
)

// validAudience is the audience name contract: [a-z0-9_-]{1,64}.
var validAudience = regexp.MustCompile(`^[a-z0-9_-]{1,64}$`)

// Run is the segment run a feed is generated from.
type Run struct {
	ID       string
	Finished time.Time
}

var errNoRun = errors.New("no complete segment run")

// currentRun reads the site's current complete run, once per request, so
// every part of a feed comes from the same snapshot.
func currentRun(ctx context.Context, db *chdb.DB, site string) (Run, error) {
	// The site's current complete segment run (at most one is current).
	// Not v_segment_runs: it groups every run of every site.
	const q = `SELECT run_id, finished_at FROM v_current_runs
WHERE site = ? AND status = 'ok'
ORDER BY finished_at DESC, run_id DESC LIMIT 1`
	rows, err := db.Query(ctx, q, site)
	if err != nil {
		return Run{}, fmt.Errorf("cannot read the current segment run: %w", err)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return Run{}, fmt.Errorf("cannot read the current segment run: %w", err)
		}
		return Run{}, errNoRun
	}
	var r Run
	if err := rows.Scan(&r.ID, &r.Finished); err != nil {
		return Run{}, err
	}
	r.Finished = r.Finished.UTC()
	return r, nil
}

// audienceInRun reports whether the run, one currentRun found complete,
// computed the audience (an audience may be empty and still exist).
func audienceInRun(ctx context.Context, db *chdb.DB, site, audience, runID string) (bool, error) {
	// Whether the run has a size row for the audience. Not v_audience_sizes:
	// it keeps complete runs by grouping every run of every site.
	const q = `SELECT count() FROM v_audience_sizes_by_run WHERE site = ? AND audience = ? AND run_id = ?`
	var n uint64
	if err := db.QueryRow(ctx, q, site, audience, runID).Scan(&n); err != nil {
		return false, fmt.Errorf("cannot look up audience %q: %w", audience, err)
	}
	return n > 0, nil
}

// feedQuery lists an audience's products in the segment run's rank order
// (the run ranks reminders of a cart first, then upsell before
// cross-sell), each product once, joined
// with its current catalog entry and the title of the product it relates
// to. ClickHouse 18.16 joins one table per SELECT, hence the nesting.
const feedQuery = `SELECT product_id, anchor_id, anchor_title, strategy, reason, motivation, rank,
    title, description, link, image_link, price, currency, availability, cond,
    brand, gtin, mpn, category, google_product_category, item_group_id, availability_date
FROM (
    SELECT product_id, anchor_id, strategy, reason, motivation, rank,
        title, description, link, image_link, price, currency, availability, cond,
        brand, gtin, mpn, category, google_product_category, item_group_id, availability_date
    FROM (
        SELECT product_id, anchor_id, strategy, reason, motivation, rank
        FROM v_audience_products_by_run
        WHERE site = ? AND audience = ? AND run_id = ?
    ) AS listed ALL INNER JOIN (
        SELECT product_id, title, description, link, image_link, price, currency, availability,
            ` + "`condition`" + ` AS cond, brand, gtin, mpn, category, google_product_category, item_group_id, availability_date
        FROM v_products
        WHERE site = ?
    ) AS catalog USING product_id
) AS items ANY LEFT JOIN (
    SELECT product_id AS anchor_id, title AS anchor_title
    FROM v_products
    WHERE site = ?
) AS anchors USING anchor_id
ORDER BY rank, product_id
LIMIT 1 BY product_id
LIMIT ?`

// audienceRows streams the feed rows of one run. limit bounds the query
// (the caller stops earlier once it has written enough valid items).
func audienceRows(db *chdb.DB, site, audience, runID string, limit int) RowSource {
	return func(ctx context.Context, fn func(*Row) error) error {
		// Small blocks keep the rows held at once independent of the
		// audience size.
		ctx = clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{"max_block_size": 4096}))
		rows, err := db.Query(ctx, feedQuery, site, audience, runID, site, site, uint64(limit))
		if err != nil {
			return fmt.Errorf("cannot query audience %q products: %w", audience, err)
		}
		defer rows.Close()
		var r Row
		for rows.Next() {
			if err := rows.Scan(&r.ProductID, &r.AnchorID, &r.AnchorTitle, &r.Strategy, &r.Reason, &r.Motivation, &r.Rank,
				&r.Title, &r.Description, &r.Link, &r.Image, &r.Price, &r.Currency, &r.Availability, &r.Condition,
				&r.Brand, &r.GTIN, &r.MPN, &r.Category, &r.GoogleCategory, &r.GroupID, &r.AvailabilityDate); err != nil {
				return fmt.Errorf("cannot read audience %q products: %w", audience, err)
			}
			if err := fn(&r); err != nil {
				return err
			}
		}
		return rows.Err()
	}
}
