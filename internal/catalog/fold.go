package catalog

import (
	"context"
	"errors"
	"fmt"
)

// Writes from several processes (serve instances, the CLI) switch a site's
// catalog without a lock: ClickHouse 18.16 has none to offer. An upsert
// checks that the version it copied is still current just before it
// switches, but another process can switch in between. The version
// recorded last then lacks the other write, which was already answered.
// So each version records what it holds (sql/100_catalog_write_history.sql):
// an import holds the whole catalog; an upsert or a fold holds every write
// recorded up to its covers, plus the writes of the versions between that
// and itself that it copied. After switching, a writer settles: while the
// current version lacks a write recorded between its covers and itself, it
// folds the writes of that range into a new version and switches to it.
// A write whose own version is not current after its switch is not
// answered success (Upsert redoes it, Import answers ErrConflict): its
// record may have landed below the covers of a version copied without it,
// where no settle looks.

// foldAttempts bounds settle: each attempt is lost only to yet another
// write switching at the same moment.
const foldAttempts = 5

// switchState is a recorded catalog version as settle reads it.
type switchState struct {
	version, seq, covers, rows, written uint64
	whole                               bool
}

// settle makes the site's current version hold every write recorded before
// it, folding in the ones it lacks, and returns it (zero: no catalog).
func (s *Store) settle(ctx context.Context, site string) (switchState, error) {
	for attempt := 1; ; attempt++ {
		cur, lacking, err := s.lacking(ctx, site)
		if err != nil || lacking == nil {
			return cur, err
		}
		if attempt > foldAttempts {
			return cur, fmt.Errorf("%w: other writes kept switching while version %d was folded (%d times); send the write again",
				ErrConflict, cur.version, foldAttempts)
		}
		s.log.Info("catalog writes switched at the same moment; folding them into one version",
			"site", site, "current", cur.version, "versions", len(lacking))
		err = s.fold(ctx, site, cur, lacking)
		if err != nil && !errors.Is(err, errMoved) && !errors.Is(err, errNotCurrent) {
			return cur, err
		}
	}
}

// lacking returns the current version and, when it lacks a write, the
// versions recorded after its covers up to itself (in switch order, itself
// last); nil when it holds every write.
func (s *Store) lacking(ctx context.Context, site string) (switchState, []switchState, error) {
	var cur switchState
	var err error
	cur.version, cur.seq, err = CurrentSwitch(ctx, s.db, site)
	if err != nil || cur.version == 0 {
		return cur, nil, err
	}
	rows, err := s.db.Query(ctx, `SELECT version, switch_seq, covers, rows, written, whole
FROM catalog_versions
WHERE site = ? AND switch_seq > (SELECT any(covers) FROM catalog_versions WHERE site = ? AND version = ?) AND switch_seq <= ?
ORDER BY switch_seq, version`, site, site, cur.version, cur.seq)
	if err != nil {
		return cur, nil, fmt.Errorf("cannot read the catalog versions of %q: %w", site, err)
	}
	defer rows.Close()
	var history []switchState
	for rows.Next() {
		var v switchState
		var whole uint8
		if err := rows.Scan(&v.version, &v.seq, &v.covers, &v.rows, &v.written, &whole); err != nil {
			return cur, nil, err
		}
		v.whole = whole == 1
		history = append(history, v)
		if v.version == cur.version {
			cur = v
		}
	}
	if err := rows.Err(); err != nil {
		return cur, nil, err
	}
	if cur.whole {
		return cur, nil, nil
	}
	for _, v := range history {
		if v.version != cur.version && (v.whole || v.written > 0) {
			return cur, history, nil
		}
	}
	return cur, nil, nil
}

// fold writes a version holding what cur should: the newest version of
// history before cur that holds every write up to itself (an import, or a
// version lacking none; else cur itself) with the products written by
// every later version of history over it, the latest write of a product
// winning, and switches to it unless the current version moved meanwhile.
// Starting from the newest such version, not the newest import, a fold
// reads only versions Prune keeps: a write that stalled between its
// precondition and its switch while more than Keep others switched covers
// a range whose older versions are dropped.
func (s *Store) fold(ctx context.Context, site string, cur switchState, history []switchState) error {
	from, start := cur, -1 // none holds every write before it: cur is the start
	for i := len(history) - 1; i >= 0; i-- {
		if history[i].version == cur.version {
			continue
		}
		holds, err := s.holdsAll(ctx, site, history[i])
		if err != nil {
			return err
		}
		if holds {
			from, start = history[i], i
			break
		}
	}
	var overlay []uint64 // in switch order: a later write of a product wins
	var wantWritten uint64
	for _, v := range history[start+1:] {
		if v.written > 0 {
			overlay = append(overlay, v.version)
			wantWritten += v.written
		}
	}
	if len(overlay) == 0 {
		overlay = []uint64{0} // no version is 0: an overlay of none, typed
	}
	if err := s.checkStored(ctx, site, from, overlay, wantWritten); err != nil {
		return err
	}
	w := s.newWriter(site, newVersion())
	w.whole, w.covers, w.sent = false, cur.seq, true
	// A product's row comes from the last version of the overlay that
	// wrote it (indexOf: its place, 1-based), else from the start version
	// (0). When the start is cur, its own writes are the overlay's last.
	const foldRows = `INSERT INTO catalog_products (` + productColumns + `)
SELECT site, ?, ` + productColumnsAfterVersion + `, 0
FROM catalog_products
WHERE site = ? AND (version = ? OR (has(?, version) AND written = 1))
ORDER BY product_id, if(written = 1, indexOf(?, version), 0) DESC
LIMIT 1 BY product_id`
	if err := s.db.Exec(ctx, foldRows, w.version, site, from.version, overlay, overlay); err != nil {
		return s.abort(ctx, w, fmt.Errorf("cannot fold catalog versions of site %q: %w", site, err))
	}
	if err := s.db.QueryRow(ctx, "SELECT count() FROM catalog_products WHERE site = ? AND version = ?", site, w.version).Scan(&w.rows); err != nil {
		return s.abort(ctx, w, err)
	}
	rep := Report{Site: site, Format: "fold"}
	return s.commit(ctx, w, rep, "fold", s.unmoved(site, cur.version))
}

// holdsAll tells whether version v holds every write recorded up to it:
// an import does; an upsert or a fold does when no write is recorded
// between its covers and itself (what it was made from held the rest).
func (s *Store) holdsAll(ctx context.Context, site string, v switchState) (bool, error) {
	if v.whole {
		return true, nil
	}
	var others uint64
	if err := s.db.QueryRow(ctx, `SELECT count() FROM catalog_versions
WHERE site = ? AND switch_seq > ? AND switch_seq <= ? AND version != ? AND (whole = 1 OR written > 0)`,
		site, v.covers, v.seq, v.version).Scan(&others); err != nil {
		return false, fmt.Errorf("cannot read the catalog versions of %q: %w", site, err)
	}
	return others == 0, nil
}

// checkStored makes sure the rows a fold reads are all still stored: the
// start version's, and those each overlaid version wrote itself.
func (s *Store) checkStored(ctx context.Context, site string, from switchState, overlay []uint64, wantWritten uint64) error {
	var fromRows, written uint64
	err := s.db.QueryRow(ctx, `SELECT countIf(version = ?), countIf(has(?, version) AND written = 1)
FROM catalog_products WHERE site = ? AND (version = ? OR has(?, version))`,
		from.version, overlay, site, from.version, overlay).Scan(&fromRows, &written)
	if err != nil {
		return fmt.Errorf("cannot read the catalog versions to fold of site %q: %w", site, err)
	}
	if fromRows != from.rows || written != wantWritten {
		return fmt.Errorf("cannot fold catalog versions of site %q: rows of versions it needs were dropped (%d of %d, %d of %d written); import the catalog again",
			site, fromRows, from.rows, written, wantWritten)
	}
	return nil
}

func boolByte(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}
