package privacy

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/remarket/remarket/internal/chdb"
	"github.com/remarket/remarket/internal/config"
)

// Retention drops whole months of events older than the sites' retention.
// Event partitions are months shared by all sites, so a month is dropped
// only when every site with events in it agrees: each has retention_days
// set and its newest event of that month is older than its cutoff. A site
// that keeps everything (retention_days 0), or events of a site no longer
// configured, keep the month; it is reported as kept, with the reason.
type Retention struct {
	db    *chdb.DB
	sites []config.Site
	log   *slog.Logger
	now   func() time.Time
}

// NewRetention returns a Retention for the configured sites.
func NewRetention(cfg config.Config, db *chdb.DB, log *slog.Logger) *Retention {
	return &Retention{db: db, sites: cfg.Sites, log: log, now: time.Now}
}

// SetClock replaces the clock (tests).
func (r *Retention) SetClock(now func() time.Time) { r.now = now }

// Month is one events partition and what retention decided about it.
type Month struct {
	Partition int               `json:"partition"` // YYYYMM
	Newest    map[string]string `json:"newest"`    // site → newest event time in the month
	Dropped   bool              `json:"dropped"`
	Reason    string            `json:"reason"`
}

// Run examines every month of events and drops the expired ones. With
// onlySite set, only months holding that site's events are considered
// (and still only dropped when every site in them agrees). dryRun reports
// without dropping.
func (r *Retention) Run(ctx context.Context, onlySite string, dryRun bool) ([]Month, error) {
	retention := map[string]int{}
	for _, s := range r.sites {
		retention[s.ID] = s.RetentionDays
	}
	if onlySite != "" {
		if _, ok := retention[onlySite]; !ok {
			return nil, fmt.Errorf("retention: site %q is not configured", onlySite)
		}
	}
	parts, err := r.partitions(ctx)
	if err != nil {
		return nil, err
	}
	now := r.now().UTC()
	var out []Month
	for _, p := range parts {
		newest, err := r.newestBySite(ctx, p)
		if err != nil {
			return out, err
		}
		if len(newest) == 0 {
			continue
		}
		if _, ok := newest[onlySite]; onlySite != "" && !ok {
			continue
		}
		m := Month{Partition: p, Newest: map[string]string{}, Dropped: true, Reason: "every site's events in it are past retention"}
		sites := make([]string, 0, len(newest))
		for s := range newest {
			sites = append(sites, s)
		}
		sort.Strings(sites)
		for _, site := range sites {
			t := newest[site]
			m.Newest[site] = t.Format(time.RFC3339)
			days, configured := retention[site]
			switch {
			case !configured:
				m.Dropped, m.Reason = false, fmt.Sprintf("holds events of site %q, which is not configured", site)
			case days <= 0:
				m.Dropped, m.Reason = false, fmt.Sprintf("site %q keeps all events (retention_days 0)", site)
			case !t.Before(now.AddDate(0, 0, -days)):
				m.Dropped, m.Reason = false, fmt.Sprintf("site %q has events newer than its %d days", site, days)
			}
			if !m.Dropped {
				break
			}
		}
		if m.Dropped && !dryRun {
			if err := DropEventsMonth(ctx, r.db, p); err != nil {
				return out, err
			}
			r.log.Info("retention dropped events month", "partition", p, "newest", m.Newest)
		}
		out = append(out, m)
	}
	return out, nil
}

// DropEventsMonth drops the events partition p (a month, YYYYMM) on every
// shard, recorded first in events_dropped_months (on a cluster, on every
// node that answers): segment runs built on a run that read the month are
// full after it (segment/months.go), and the record is how they tell a
// drop from a month whose every event an erasure deleted. A drop that
// fails after its record costs one full run.
func DropEventsMonth(ctx context.Context, db *chdb.DB, p int) error {
	if p < 197001 || p > 999912 || p%100 < 1 || p%100 > 12 {
		return fmt.Errorf("events partition %d is not a month (YYYYMM)", p)
	}
	if err := db.InsertRow(ctx, "INSERT INTO events_dropped_months (month, dropped_at)", uint32(p), time.Now().UTC()); err != nil {
		return fmt.Errorf("cannot record the drop of events partition %d: %w", p, err)
	}
	// A run reads the record on the nodes it runs on.
	if err := db.Settle(ctx, "the record of the drop", "events_dropped_months", "month = ?", uint32(p)); err != nil {
		return err
	}
	// p is an integer, not user text. On a cluster every shard drops it
	// (replication carries it to a replica that is down, once it is back).
	if err := db.Alter(ctx, "events", fmt.Sprintf("DROP PARTITION %d", p)); err != nil {
		return fmt.Errorf("cannot drop events partition %d: %w", p, err)
	}
	return nil
}

// partitions lists the events table's active monthly partitions, oldest
// first: on a cluster those of every node that answers (each holds its
// shard's).
func (r *Retention) partitions(ctx context.Context) ([]int, error) {
	if r.db.Cluster == nil {
		return partitionsOn(ctx, r.db)
	}
	nodes, err := r.db.Nodes(ctx)
	if err != nil {
		return nil, err
	}
	var out []int
	for _, n := range nodes {
		if !n.Up(ctx) {
			continue
		}
		ps, err := partitionsOn(ctx, n.DB)
		if err != nil {
			return nil, err
		}
		out = append(out, ps...)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// partitionsOn lists the active partitions of the events table of db's
// default database (on a cluster's node, its shard database).
func partitionsOn(ctx context.Context, db *chdb.DB) ([]int, error) {
	// Active partitions of the events table.
	rows, err := db.Query(ctx, `SELECT DISTINCT partition_id FROM system.parts WHERE database = currentDatabase() AND table = 'events' AND active ORDER BY partition_id`)
	if err != nil {
		return nil, fmt.Errorf("cannot list events partitions: %w", err)
	}
	defer rows.Close()
	var out []int
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		n, err := strconv.Atoi(id)
		if err != nil || n < 197001 || n > 999912 {
			return nil, fmt.Errorf("events partition %q is not a month (YYYYMM): was the table created by another version?", id)
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

// newestBySite is each site's newest event time within month p.
func (r *Retention) newestBySite(ctx context.Context, p int) (map[string]time.Time, error) {
	// Newest event per site in one monthly partition (pruned by the key).
	rows, err := r.db.Query(ctx, `SELECT site, max(event_time) FROM events WHERE toYYYYMM(event_time) = ? GROUP BY site`, uint32(p))
	if err != nil {
		return nil, fmt.Errorf("cannot read events of %d: %w", p, err)
	}
	defer rows.Close()
	out := map[string]time.Time{}
	for rows.Next() {
		var site string
		var t time.Time
		if err := rows.Scan(&site, &t); err != nil {
			return nil, err
		}
		out[site] = t.UTC()
	}
	return out, rows.Err()
}
