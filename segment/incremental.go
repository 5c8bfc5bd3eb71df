package segment

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/remarket/remarket/internal/chdb"
)

// Incremental runs. A full run reads every event of the site twice (the
// interests and profiles passes), which grows with history, not with
// traffic. An incremental run recomputes those two passes only for the
// visitors whose state may have changed since the previous run
// (00_affected) and copies every other visitor's interests, profile,
// baskets and product lines from the previous run (carry_*.sql), decaying
// their scores to the new as-of time. The co-occurrence sums are the
// previous run's, updated with the recomputed visitors' baskets
// (07_pairs_update). Everything after the two passes (products, related
// products, members, recommendations, lists) is computed from those
// tables as in a full run, so time-based conditions stay exact for
// visitors without new events.
//
// On a cluster each shard finds and recomputes its own affected visitors
// (00_affected runs per shard, like the passes and the copies), and the
// pairs are updated over the Distributed tables (see clusterRun).
//
// A run is incremental when segments.incremental allows it and the
// previous run's state can stand for a full run's: it recorded its state
// (seg_run_state) and its settings, no month of the site's events was
// dropped since (months.go), and its last full run is less than
// segments.full_run_every old. Then it is incremental while it pays:
// the events new since the previous run, and the visitors the catalog's
// changes reach (catalogReason), stay under their limits (config.Segments
// says why those are). Anything else makes a full run, whose reason the
// run's log line and seg_run_state give.

// defaultInsertMargin is how long before the previous run started an
// insert is taken to have been still in progress: an event stored then
// might not have been visible to that run's reads, so its visitor is
// recomputed. Ingest inserts take milliseconds to seconds.
const defaultInsertMargin = 2 * time.Minute

// catalogChangedMidRun is the catalog fingerprint a run records when the
// catalog changed while it computed: its steps may have read either
// version, so the next run is full.
const catalogChangedMidRun = "changed while the run computed"

// Run modes, as RunResult.Mode and seg_run_state.mode say.
const (
	ModeFull        = "full"
	ModeIncremental = "incremental"
)

// Causes of a full run, as RunResult.Cause and the metric
// remarket_segment_full_runs_total say: a fixed code per reason, for
// alerts and dashboards (the reason itself holds counts).
const (
	CauseAsked         = "asked"           // --full, ?full=1
	CauseAudience      = "audience"        // a single-audience run
	CauseFirst         = "first"           // no previous run
	CauseNoState       = "no_state"        // the previous run kept no state
	CauseEarlierAsOf   = "earlier_as_of"   // an as-of time before the previous run's
	CauseConfigured    = "configured"      // segments.incremental is false
	CausePeriodic      = "periodic"        // the last full run is segments.full_run_every old
	CauseSettings      = "settings"        // weights, half-life, conditions or queries changed
	CauseCatalogMidRun = "catalog_mid_run" // the catalog switched while the previous run computed
	CauseRetention     = "retention"       // a month of the site's events was dropped
	CauseRowsGone      = "rows_gone"       // the previous run's rows are gone
	CauseCatalog       = "catalog"         // catalog changes reach too many visitors
	CauseIncrement     = "increment"       // too many new events
)

// fullRun is why a run is full: cause, one of the codes above, and
// reason, the sentence the log line and seg_run_state give. The zero
// value lets the run be incremental.
type fullRun struct{ cause, reason string }

// increment is what an incremental run builds on.
type increment struct {
	prevAsOf time.Time // the previous run's as-of time (@prev_now)
	since    time.Time // events stored from then on are new (@inc_since)
	windows  []int64   // the audiences' event windows in seconds
	// erased: an erasure finished since the previous run or is still in
	// progress, so events may have gone, not only come.
	erased bool
	// pairKinds are the co-occurrence kinds whose sums the previous run
	// kept (seg_pairs; a run of an earlier version kept none).
	pairKinds []string
	// renumbered: products were added to or removed from the catalog, so
	// some product has another number in this run than in the previous
	// one. The previous run's baskets, product lines and pair sums are
	// read through renumber. Set by the numbers step (numberProducts),
	// before any step that reads them starts.
	renumbered bool
}

// updatesPairs says whether the run updates the previous run's
// co-occurrence sums of kind (07_pairs_update) instead of counting them
// from every basket (07_pairs). Not after an erasure: it takes baskets
// out of the previous run's rows, not out of its sums.
func (inc *increment) updatesPairs(kind string) bool {
	return inc != nil && !inc.erased && slices.Contains(inc.pairKinds, kind)
}

// params are the increment's bound values.
func (inc *increment) params() []any {
	p := []any{clickhouse.Named("inc_since", inc.since.Unix()), clickhouse.Named("prev_now", inc.prevAsOf.Unix())}
	for i, w := range inc.windows {
		p = append(p, clickhouse.Named(fmt.Sprintf("inc_w%d", i), w))
	}
	return p
}

// affected is 00_affected with a clause per event window: a line whose
// time is within [as-of − w] of either run's as-of time may have crossed
// the window's edge between the runs.
func (inc *increment) affected() string {
	var w strings.Builder
	for i := range inc.windows {
		fmt.Fprintf(&w, " OR (event_time >= %s AND event_time <= %s)",
			ago("@prev_now", fmt.Sprintf("@inc_w%d", i)), ago("@now", fmt.Sprintf("@inc_w%d", i)))
	}
	return query("00_affected", "/*WINDOWS*/", w.String())
}

// affectedVisitors are the event rows of the visitors an incremental run
// recomputes (lines.sql), found by their visitor id: ClickHouse 18.16
// refuses cityHash64(visitor_id) in a PREWHERE when the query computes it
// again ("Column already exists").
const affectedVisitors = "visitor_id IN (SELECT visitor_id FROM seg_affected WHERE site = @site AND run_id = @run)"

// andAffected narrows a WHERE or PREWHERE to those visitors.
const andAffected = "AND " + affectedVisitors

// carried are the per-visitor tables an incremental run copies for the
// visitors it does not recompute: their columns after vh, what is
// selected into them (the columns themselves unless said; renumbered
// when the products' numbers changed), a WITH clause and any filter on
// the previous run's rows.
var carried = []struct{ table, columns, selects, renumbered, with, where string }{
	{table: "seg_profiles",
		columns: "visitor_id, user_id, email_sha256, customer_type, customer_type_source, price_band, avg_price, " +
			"opted_out, first_seen, last_seen, events, traits, cond_events, cond_last",
		selects: "visitor_id, user_id, email_sha256, customer_type, customer_type_source, " + priceBand + ", avg_price, " +
			"opted_out, first_seen, last_seen, events, traits, cond_events, cond_last",
		with: "WITH " + query("price_bands") + " AS bands", where: "AND opted_out = 0"},
	{table: "seg_baskets", columns: "basket_view, basket_buy",
		renumbered: renumberAll("basket_view") + ", " + renumberAll("basket_buy")},
	// A purchase line is a product number << 32 | its units and flag.
	{table: "seg_product_lines", columns: "product_views, product_buys",
		renumbered: renumberAll("product_views") + ", arrayMap(l -> bitOr(bitShiftLeft(toUInt64(" +
			renumber("toUInt32(bitShiftRight(l, 32))") + "), 32), bitAnd(l, 4294967295)), product_buys)"},
}

// renumber is the previous run's product number expression as this
// run's (renumber.sql).
func renumber(number string) string {
	return oneLine(query("renumber", "/*NUMBER*/", number, "/*NUMBERS*/", oneLine(query("renumbered"))))
}

// oneLine is a fragment without its comment lines, on one line: it goes
// into the middle of expressions, several times over.
func oneLine(fragment string) string {
	var lines []string
	for line := range strings.Lines(fragment) {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "--") {
			lines = append(lines, line)
		}
	}
	return strings.Join(lines, " ")
}

// renumberAll renumbers every product number of an array column, in place.
func renumberAll(column string) string {
	return "arrayMap(p -> " + renumber("p") + ", " + column + ")"
}

// numberProducts is an incremental run's numbers step: 01_numbers, as in
// a full run, then whether any product of the previous run got another
// number (inc.renumbered). A run with the same products as the previous
// one numbers them alike, and so does one that only added products
// whose ids sort after every other.
func (e *Engine) numberProducts(ctx context.Context, res *RunResult, inc *increment, params []any) func() error {
	return func() error {
		if err := e.step(ctx, res, "01_numbers", query("01_numbers"), params); err != nil {
			return err
		}
		var moved uint64
		if err := e.conn(res).QueryRow(ctx, "SELECT count() FROM ("+query("renumbered")+") WHERE new != idx", params...).Scan(&moved); err != nil {
			return fmt.Errorf("cannot compare the products' numbers with the previous run's: %w", err)
		}
		inc.renumbered = moved > 0
		return nil
	}
}

// pairsUpdate is 07_pairs_update for a kind's basket column, with the
// previous run's numbers read as they are or renumbered.
func (inc *increment) pairsUpdate(column string) string {
	x, y, kept, old := "x", "y", "", "old_basket"
	if inc.renumbered {
		x, y, old = renumber("x"), renumber("y"), renumberAll(old)
		kept = "AND (x = 0 OR " + x + " != 0) AND (y = 0 OR " + y + " != 0)"
	}
	changed := query("changed_baskets", "/*RENUMBERED*/", old)
	return query("07_pairs_update", "/*BASKET_PAIRS*/", basketPairs(changed), "/*CHANGED_BASKETS*/", changed,
		"/*X*/", x, "/*Y*/", y, "/*KEPT*/", kept, "/*BASKET*/", column)
}

// priceBand is a visitor's price band from their average price (0 when
// none of their lines had one) and the catalog's terciles (bands,
// price_bands.sql): the profiles pass and the copied profiles band alike.
const priceBand = "multiIf(avg_price = 0 OR isNaN(bands[1]), '', avg_price < bands[1], 'low', avg_price < bands[2], 'mid', 'high')"

// runState is a run's row of seg_run_state.
type runState struct {
	asOf, watermark, fullAsOf time.Time
	mode, reason              string
	settings, catalog         string
	months                    months // holding the site's events (months.go)
	visitors                  uint64 // not opted out, when the run was published
}

// planIncrement decides how the run computes: it returns the increment
// for an incremental run, or nil for a full one, and records in res the
// mode, the reason for a full run and the state the run will publish.
// It takes the watermark first, before the run reads any event.
func (e *Engine) planIncrement(ctx context.Context, res *RunResult, prev string, opt RunOptions, plan *eventPlan) (*increment, error) {
	db := e.conn(res)
	st := &runState{asOf: res.AsOf, mode: ModeFull, fullAsOf: res.AsOf, settings: e.settingsFingerprint(plan)}
	if err := db.QueryRow(ctx, "SELECT now()").Scan(&st.watermark); err != nil {
		return nil, fmt.Errorf("cannot read the server's clock: %w", err)
	}
	if c := res.cluster; c != nil && !c.eventsBehindSince.IsZero() {
		// An event a lagging replica has not fetched yet is not read by
		// this run; the next one reads it if it was stored after the
		// watermark. Its rows carry the second its insert began, its
		// replication entry the second it ended (absolute_delay's
		// origin): one second earlier still. Anchored to the moment,
		// not to the delay, the time the run took since it measured
		// the delay cannot move the watermark past those rows.
		if w := c.eventsBehindSince.Add(-time.Second); w.Before(st.watermark) {
			st.watermark = w
		}
	}
	site := clickhouse.Named("site", res.Site)
	var err error
	if st.catalog, err = catalogFingerprint(ctx, db, res.Site); err != nil {
		return nil, err
	}
	partitions, err := e.eventsPartitions(ctx, res)
	if err != nil {
		return nil, err
	}
	res.state = st

	full, prevState, err := e.fullReason(ctx, res, prev, opt, st, partitions)
	if err != nil {
		return nil, err
	}
	if full.cause != "" {
		res.Mode, res.Cause, res.Reason, st.reason = ModeFull, full.cause, full.reason, full.reason
		// Read after the watermark: the months of events stored since
		// are found again by the next run among its new events.
		held, err := eventMonths(ctx, e.conn(res), res.Site, nil)
		st.months = partitions.of(held)
		return nil, err
	}
	res.Mode, st.mode, st.fullAsOf = ModeIncremental, ModeIncremental, prevState.fullAsOf
	inc := &increment{
		prevAsOf: prevState.asOf,
		since:    prevState.watermark.Add(-e.insertMargin),
		windows:  plan.windows,
	}
	if inc.erased, err = erasedSince(ctx, db, res.Site, inc.since); err != nil {
		return nil, err
	}
	// The pair (0, 0), the number of baskets, is in every kind's sums
	// that has a basket (07_pairs); a kind without one is cheap to count.
	if err := db.QueryRow(ctx, "SELECT groupUniqArray(kind) FROM seg_pairs WHERE site = @site AND run_id = @prev AND x = 0 AND y = 0",
		site, clickhouse.Named("prev", prev)).Scan(&inc.pairKinds); err != nil {
		return nil, fmt.Errorf("cannot read the previous run's co-occurrence sums: %w", err)
	}
	return inc, nil
}

// fullReason says why the run cannot build on prev (the zero fullRun when
// it can), and returns prev's state. partitions are the events partitions
// that hold rows now; when the run can build on prev, it sets st.months.
func (e *Engine) fullReason(ctx context.Context, res *RunResult, prev string, opt RunOptions, st *runState, partitions partitions) (fullRun, runState, error) {
	var ps runState
	var recorded []string
	switch {
	case opt.Full:
		return fullRun{CauseAsked, "a full run was asked for"}, ps, nil
	case opt.Audience != "":
		return fullRun{CauseAudience, "a single-audience run is full"}, ps, nil
	case !e.cfg.Segments.Incremental:
		return fullRun{CauseConfigured, "segments.incremental is false"}, ps, nil
	case prev == "":
		return fullRun{CauseFirst, "no previous run"}, ps, nil
	}
	rows, err := e.conn(res).Query(ctx, `SELECT as_of, watermark, full_as_of, settings, catalog, partitions, visitors
		FROM seg_run_state WHERE site = @site AND run_id = @prev LIMIT 1`,
		clickhouse.Named("site", res.Site), clickhouse.Named("prev", prev))
	if err != nil {
		return fullRun{}, ps, fmt.Errorf("cannot read the previous run's state: %w", err)
	}
	defer rows.Close()
	if !rows.Next() {
		return fullRun{CauseNoState, "the previous run kept no state"}, ps, rows.Err()
	}
	if err := rows.Scan(&ps.asOf, &ps.watermark, &ps.fullAsOf, &ps.settings, &ps.catalog, &recorded, &ps.visitors); err != nil {
		return fullRun{}, ps, err
	}
	switch {
	case res.AsOf.Before(ps.asOf):
		return fullRun{CauseEarlierAsOf, "the as-of time is before the previous run's"}, ps, nil
	case res.AsOf.Sub(ps.fullAsOf) >= time.Duration(e.cfg.Segments.FullRunEvery):
		return fullRun{CausePeriodic, fmt.Sprintf("the last full run is %s old or more (segments.full_run_every)", e.cfg.Segments.FullRunEvery)}, ps, nil
	case ps.settings != st.settings:
		return fullRun{CauseSettings, "the interest, basket or customer-type settings, the audiences' event conditions or the run's queries changed"}, ps, nil
	case ps.catalog == catalogChangedMidRun:
		return fullRun{CauseCatalogMidRun, "the catalog changed while the previous run computed"}, ps, nil
	}
	if ps.months, err = parseMonths(recorded); err != nil {
		return fullRun{}, ps, err
	}
	dropped, err := e.droppedMonths(ctx, res, ps.months.changedIn(partitions))
	if err != nil {
		return fullRun{}, ps, err
	}
	if len(dropped) > 0 {
		return fullRun{CauseRetention, fmt.Sprintf("the events partition %s, a month of the site's events, was dropped (retention) since the previous run", dropped[0])}, ps, nil
	}
	if gone, err := e.prevGone(ctx, res, prev, ps); gone || err != nil {
		return fullRun{CauseRowsGone, "the previous run's rows are gone"}, ps, err
	}
	if ps.catalog != st.catalog {
		if full, err := e.catalogReason(ctx, res, prev, ps); full.cause != "" || err != nil {
			return full, ps, err
		}
	}
	var fresh, total uint64
	if err := e.conn(res).QueryRow(ctx, "SELECT countIf(inserted_at >= toDateTime(@since)), count() FROM events WHERE site = @site",
		clickhouse.Named("site", res.Site), clickhouse.Named("since", ps.watermark.Add(-e.insertMargin).Unix())).Scan(&fresh, &total); err != nil {
		return fullRun{}, ps, fmt.Errorf("cannot count the new events: %w", err)
	}
	if limit := e.cfg.Segments.IncrementalMaxNewEventsPercent; float64(fresh)*100 > limit*float64(total) {
		// Say what was counted: with the margin, events stored just
		// before the previous run count too, so a run right after a bulk
		// load is full though nothing arrived since.
		since := "since the previous run"
		if e.insertMargin > 0 {
			since = fmt.Sprintf("since %s before the previous run started", e.insertMargin)
		}
		return fullRun{CauseIncrement, fmt.Sprintf("%d of the site's %d events were stored %s (over %g%%: segments.incremental_max_new_events_percent)", fresh, total, since, limit)}, ps, nil
	}
	// The site's months are prev's and those of the partitions that may
	// hold its events only now (a new month, a late event): usually
	// none, or another shop's months, looked into by the key.
	known := ps.months.names()
	var others []string
	for _, p := range partitions.names() {
		if _, found := slices.BinarySearch(known, p); !found {
			others = append(others, p)
		}
	}
	added, err := eventMonths(ctx, e.conn(res), res.Site, others)
	if err != nil {
		return fullRun{}, ps, err
	}
	st.months = partitions.of(append(known, added...))
	return fullRun{}, ps, rows.Err()
}

// catalogFingerprint identifies the site's current catalog as far as a
// visitor's state depends on it: its products, their categories and
// prices.
func catalogFingerprint(ctx context.Context, db *chdb.DB, site string) (string, error) {
	var fp string
	if err := db.QueryRow(ctx, `SELECT concat(toString(count()), ':', toString(groupBitXor(cityHash64(product_id, category, price))))
		FROM v_products WHERE site = @site AND product_id != ''`, clickhouse.Named("site", site)).Scan(&fp); err != nil {
		return "", fmt.Errorf("cannot fingerprint the catalog: %w", err)
	}
	return fp, nil
}

// catalogSides are the catalog's products now and in the previous run's
// snapshot (its catalog when it computed: a run whose catalog changed
// meanwhile records catalogChangedMidRun), one row per product and side:
// a product whose category or price changed between them gives two
// distinct rows, one added or removed a single row.
const catalogSides = `SELECT cityHash64(product_id) AS ph, category, price FROM v_products WHERE site = @site AND product_id != ''
	UNION ALL
	SELECT ph, category, price FROM seg_products WHERE site = @site AND run_id = @prev AND known = 1`

// catalogReason says why the catalog's changes since prev keep the run
// from building on it (the zero fullRun when they do not). A product
// added, removed, repriced or moved to another category is followed by
// recomputing the visitors with an interest in it (00_affected), by
// banding every visitor's average price again (carry_profiles) and, when
// the products' numbers changed, by reading the previous run's baskets,
// product lines and pair sums with this run's numbers (renumber.sql);
// unless so many visitors have such an interest that a full run is
// cheaper.
func (e *Engine) catalogReason(ctx context.Context, res *RunResult, prev string, ps runState) (fullRun, error) {
	p := []any{clickhouse.Named("site", res.Site), clickhouse.Named("prev", prev)}
	// GLOBAL: on a cluster seg_interests is Distributed and the products
	// are whole on every node.
	var reach uint64
	if err := e.conn(res).QueryRow(ctx, `SELECT uniqExact(vh) FROM seg_interests WHERE site = @site AND run_id = @prev AND ph GLOBAL IN (
		SELECT ph FROM (`+catalogSides+`) GROUP BY ph, category, price HAVING count() = 1)`, p...).Scan(&reach); err != nil {
		return fullRun{}, fmt.Errorf("cannot count the visitors of the changed products: %w", err)
	}
	if limit := e.cfg.Segments.IncrementalMaxCatalogReachPercent; float64(reach)*100 > limit*float64(ps.visitors) {
		return fullRun{CauseCatalog, fmt.Sprintf("%d of the previous run's %d visitors have an interest in a product added, removed, repriced or recategorised (over %g%%: segments.incremental_max_catalog_reach_percent)",
			reach, ps.visitors, limit)}, nil
	}
	return fullRun{}, nil
}

// erasedSince says whether an erasure finished since since or is still
// in progress: events, and the kept runs' rows, may have gone, not only
// come.
func erasedSince(ctx context.Context, db *chdb.DB, site string, since time.Time) (bool, error) {
	var erasures uint64
	if err := db.QueryRow(ctx, `SELECT (SELECT count() FROM erasure_log WHERE site = @site AND finished_at >= toDateTime(@since))
		+ (SELECT count() FROM erasure_subjects WHERE site = @site AND done_at = toDateTime(0))`,
		clickhouse.Named("site", site), clickhouse.Named("since", since.Unix())).Scan(&erasures); err != nil {
		return false, fmt.Errorf("cannot look for erasures since the previous run: %w", err)
	}
	return erasures > 0, nil
}

// prevGone says whether the rows of prev, which had visitors, are gone:
// a run is only ever built on the current one, whose rows are kept, but
// on a cluster a coordinator whose replica of the pointer lags could take
// an older run for it, and rows can be dropped by hand. An erasure since
// prev can take all of them too (a shop whose only visitors asked to be
// forgotten): then they are not missing.
func (e *Engine) prevGone(ctx context.Context, res *RunResult, prev string, ps runState) (bool, error) {
	if ps.visitors == 0 {
		return false, nil
	}
	const q = "SELECT count() FROM seg_profiles WHERE site = @site AND run_id = @prev"
	p := []any{clickhouse.Named("site", res.Site), clickhouse.Named("prev", prev)}
	if err := e.settle(ctx, res, q, p); err != nil {
		return false, err
	}
	var n uint64
	if err := e.conn(res).QueryRow(ctx, q, p...).Scan(&n); err != nil {
		return false, fmt.Errorf("cannot count the previous run's rows: %w", err)
	}
	if n > 0 {
		return false, nil
	}
	erased, err := erasedSince(ctx, e.conn(res), res.Site, ps.watermark.Add(-e.insertMargin))
	return !erased, err
}

// settingsFingerprint identifies everything a visitor's state depends on
// besides its events and the catalog: the settings the two passes use,
// the audiences' event conditions, and the text of the queries that
// compute and copy it (so an upgrade that changes them starts afresh).
func (e *Engine) settingsFingerprint(plan *eventPlan) string {
	s := e.cfg.Segments
	h := sha256.New()
	fmt.Fprintf(h, "weights=%v half_life=%v cap=%d pro_qty=%d\n", s.Weights, s.HalfLife, s.MaxItemsPerBasket, s.ProfessionalMinQuantity)
	flags, counts, lasts := plan.fragments()
	fmt.Fprintf(h, "%s\n%s\n%s\n%v\n", flags, counts, lasts, plan.args)
	for _, q := range []string{"lines", "copies", "00_identities", "00_opted_out", "01_unknown_products", "02_interests", "03_profiles",
		"04_opted_out_profiles", "00_affected", "carry_interests", "carry_profiles", "renumber", "renumbered", "price_bands"} {
		h.Write([]byte(query(q)))
	}
	h.Write([]byte(priceBand))
	return hex.EncodeToString(h.Sum(nil))
}

// carryInterests is an incremental run's interests pass: the affected
// visitors from their events, then the others from the previous run.
func carryInterests(exec func(name, q string) error, interests string) func() error {
	return func() error {
		if err := exec("02_interests", interests); err != nil {
			return err
		}
		return exec("02_interests/carry", query("carry_interests"))
	}
}

// carryProfiles is an incremental run's profiles pass, likewise, for the
// profiles, baskets and product lines.
func carryProfiles(exec func(name, q string) error, profiles string, inc *increment) func() error {
	return func() error {
		if err := exec("03_profiles", profiles); err != nil {
			return err
		}
		for _, c := range carried {
			selects := c.selects
			if inc.renumbered && c.renumbered != "" {
				selects = c.renumbered
			}
			if selects == "" {
				selects = c.columns
			}
			q := query("carry_profiles", "/*WITH*/", c.with, "/*TABLE*/", c.table, "/*COLUMNS*/", c.columns, "/*SELECT*/", selects, "/*WHERE*/", c.where)
			if err := exec("03_profiles/carry_"+strings.TrimPrefix(c.table, "seg_"), q); err != nil {
				return err
			}
		}
		return nil
	}
}

// recordState writes the run's seg_run_state row, with how many visitors
// it recomputed and holds; publish calls it just before the switch.
func (e *Engine) recordState(ctx context.Context, res *RunResult) error {
	st := res.state
	if st == nil {
		return nil
	}
	p := []any{clickhouse.Named("site", res.Site), clickhouse.Named("run", res.RunID)}
	db := e.conn(res)
	var visitors uint64
	if err := db.QueryRow(ctx, "SELECT count() FROM seg_profiles WHERE site = @site AND run_id = @run AND opted_out = 0", p...).Scan(&visitors); err != nil {
		return err
	}
	res.Affected = visitors
	// A catalog switched while the run computed may have been read by
	// some steps and not others.
	catalog, err := catalogFingerprint(ctx, db, res.Site)
	if err != nil {
		return err
	}
	if catalog != st.catalog {
		st.catalog = catalogChangedMidRun
	}
	if st.mode == ModeIncremental {
		// On a cluster every shard lists the visitors of an erasure in
		// progress, whichever shard holds them.
		const q = "SELECT uniqExact(vh) FROM seg_affected WHERE site = @site AND run_id = @run"
		if err := e.settle(ctx, res, q, p); err != nil {
			return err
		}
		if err := db.QueryRow(ctx, q, p...).Scan(&res.Affected); err != nil {
			return err
		}
	}
	return db.Exec(ctx, `INSERT INTO seg_run_state (site, run_id, as_of, watermark, mode, reason, settings, catalog, partitions, full_as_of, affected, visitors)
		SELECT @site, @run, toDateTime(@as_of), toDateTime(@watermark), @mode, @reason, @settings, @catalog, @partitions, toDateTime(@full_as_of), @affected, @visitors`,
		append(p, clickhouse.Named("as_of", st.asOf.Unix()), clickhouse.Named("watermark", st.watermark.Unix()),
			clickhouse.Named("mode", st.mode), clickhouse.Named("reason", st.reason), clickhouse.Named("settings", st.settings),
			clickhouse.Named("catalog", st.catalog), clickhouse.Named("partitions", st.months.record()),
			clickhouse.Named("full_as_of", st.fullAsOf.Unix()), clickhouse.Named("affected", res.Affected),
			clickhouse.Named("visitors", visitors))...)
}
