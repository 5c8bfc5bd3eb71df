package catalog

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/remarket/remarket/internal/chdb"
)

// Store keeps versioned catalogs in ClickHouse (tables of sql/010_catalog.sql).
//
// A write never touches the current version: it fills a new version's
// partition, and only when every row is in does it add the row to
// catalog_versions that makes it current. A failure before that point
// leaves the previous catalog serving and drops the half-written partition.
type Store struct {
	db  *chdb.DB
	log *slog.Logger

	// Keep is how many completed versions of a site keep their rows
	// (default 10); older ones are dropped after each write, their
	// catalog_versions rows stay as history.
	Keep int
	// BatchRows is the number of rows sent to ClickHouse per INSERT.
	BatchRows int
	// BatchBytes sends a batch sooner, once its text adds up to this many
	// bytes: a batch is held in memory, and rows may be 4 MiB each.
	BatchBytes int

	// beforeSwitch, when set (tests), runs after all rows are written and
	// before the version is recorded; an error aborts the write.
	beforeSwitch func(ctx context.Context, site string, version uint64) error
	// beforeRecord, when set (tests), runs after the precondition was
	// checked and before the version is recorded: the moment another
	// process's switch can slip in.
	beforeRecord func(ctx context.Context, site string, version uint64) error
	// beforeInsert, when set (tests), runs once the switch_seq is chosen
	// and before the row recording it is inserted: a write whose insert
	// lands late (a slow connection, a retried insert) lands here.
	beforeInsert func(ctx context.Context, site string, version uint64) error

	locks sync.Map // site → *sync.Mutex: upserts of one site in this process take turns
}

// NewStore returns a store on db.
func NewStore(db *chdb.DB, log *slog.Logger) *Store {
	if log == nil {
		log = slog.Default()
	}
	return &Store{db: db, log: log, Keep: 10, BatchRows: 20000, BatchBytes: 32 << 20}
}

// ErrNothingImported means the input had no valid row: the current catalog
// is left as it was rather than replaced by an empty one.
var ErrNothingImported = errors.New("no valid product in the input; the current catalog is unchanged")

// abandonedAfter is the age after which rows of a version that never
// completed belong to a dead import and are dropped.
const abandonedAfter = 24 * time.Hour

var lastVersion atomic.Uint64

// newVersion returns a unique, increasing version: the start time in
// nanoseconds, so abandoned versions can be aged.
func newVersion() uint64 {
	for {
		prev := lastVersion.Load()
		v := uint64(time.Now().UnixNano())
		if v <= prev {
			v = prev + 1
		}
		if lastVersion.CompareAndSwap(prev, v) {
			return v
		}
	}
}

// ImportOptions tune Import.
type ImportOptions struct {
	Format Format // "" detects it
	Source string // recorded in the version history (file name, "api", ...)
}

// Import reads a whole catalog from r and makes it the site's current
// version. Bad rows are skipped and reported; when no row is valid the
// current catalog stays and the error is ErrNothingImported. On any error
// the report still says what was read.
func (s *Store) Import(ctx context.Context, site string, r io.Reader, opts ImportOptions) (Report, error) {
	rep := Report{Site: site, Errors: []RowError{}}
	dec, format, err := NewDecoder(r, opts.Format)
	if err != nil {
		return rep, err
	}
	rep.Format = string(format)
	version := newVersion()
	w := s.newWriter(site, version)
	seen := map[string]int{} // id → line of its first row
	for {
		rec, err := dec.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return rep, s.abort(ctx, w, err)
		}
		for _, warning := range rec.Warnings {
			rep.warn(warning)
		}
		if rec.Err != nil {
			rep.skip(*rec.Err)
			continue
		}
		p, errs := rec.Validate()
		if len(errs) == 0 {
			if first, dup := seen[p.ID]; dup {
				errs = append(errs, RowError{Line: rec.Line, Item: rec.Item, ID: p.ID, Field: "id",
					Message: fmt.Sprintf("duplicate id %q (first on line %d)", p.ID, first)})
			}
		}
		if len(errs) > 0 {
			rep.skip(errs...)
			continue
		}
		seen[p.ID] = rec.Line
		if err := w.add(ctx, p); err != nil {
			return rep, s.abort(ctx, w, err)
		}
		rep.Imported++
	}
	if rep.Imported == 0 {
		return rep, s.abort(ctx, w, ErrNothingImported)
	}
	version, err = s.settleAfter(ctx, w, s.commit(ctx, w, rep, opts.Source, nil))
	if err != nil {
		return rep, err
	}
	rep.Version = version
	return rep, nil
}

// Upsert makes a new version from the current one with products replaced
// or added (whole products: a field left out becomes empty). Concurrent
// writers are detected: when the current version moved while the copy was
// made, the copy is thrown away and made again from the new one; when
// another process switched in the moment before this one's switch, the
// writes either version lacks are folded into a new one (settle).
func (s *Store) Upsert(ctx context.Context, site string, products []Product, source string) (Report, error) {
	return s.upsert(ctx, site, products, source, 0)
}

// upsert is Upsert recording skipped, the items the caller refused, in the
// version history as an import records its bad rows.
func (s *Store) upsert(ctx context.Context, site string, products []Product, source string, skipped int) (Report, error) {
	rep := Report{Site: site, Format: "json", Errors: []RowError{}, Skipped: skipped}
	if len(products) == 0 {
		return rep, ErrNothingImported
	}
	// Callers validate (the API through Record.Validate); these two would
	// break v_products' one row per product, so they are checked here too.
	ids := make(map[string]bool, len(products))
	for i, p := range products {
		if p.ID == "" || ids[p.ID] {
			return rep, fmt.Errorf("upsert product %d: empty or duplicate id %q", i+1, p.ID)
		}
		ids[p.ID] = true
	}
	mu, _ := s.locks.LoadOrStore(site, &sync.Mutex{})
	mu.(*sync.Mutex).Lock()
	defer mu.(*sync.Mutex).Unlock()

	const attempts = 3
	for attempt := 1; ; attempt++ {
		// A base that lacks a write (its writer died before folding it)
		// is folded first, or this version would lack it too.
		base, err := s.settle(ctx, site)
		if err != nil {
			return rep, err
		}
		w := s.newWriter(site, newVersion())
		w.whole, w.covers, w.written = false, base.seq, uint64(len(products))
		for _, p := range products {
			if err := w.add(ctx, p); err != nil {
				return rep, s.abort(ctx, w, err)
			}
		}
		if err := w.flush(ctx); err != nil {
			return rep, s.abort(ctx, w, err)
		}
		kept, err := s.carryOver(ctx, site, base.version, w.version, w.rows)
		if err != nil {
			return rep, s.abort(ctx, w, err)
		}
		rep.Imported, rep.Kept = len(products), int(kept)
		w.rows = uint64(len(products)) + kept
		err = s.commit(ctx, w, rep, source, s.unmoved(site, base.version))
		if errors.Is(err, errMoved) && attempt < attempts {
			s.log.Info("catalog changed during an upsert; redoing it on the new version", "site", site, "attempt", attempt)
			continue
		}
		// Recorded, but a version with a higher switch_seq is current. It
		// may have been recorded before this row landed (the row chose its
		// switch_seq, then took long to land), and a version copied from
		// it meanwhile covers this one's switch_seq without holding it: no
		// settle ever looks there again. Which one came first cannot be
		// told, so the upsert is redone on the settled current version.
		if errors.Is(err, errNotCurrent) && attempt < attempts {
			s.log.Info("another catalog version is current after an upsert's switch; redoing it on that version", "site", site, "attempt", attempt)
			continue
		}
		if errors.Is(err, errMoved) {
			return rep, fmt.Errorf("%w (%d times in a row); nothing changed, send the upsert again", err, attempts)
		}
		current, err := s.settleAfter(ctx, w, err)
		if err != nil {
			return rep, err
		}
		rep.Version = current
		return rep, nil
	}
}

// unmoved is an upsert's precondition: the current version is still the
// one it copied.
func (s *Store) unmoved(site string, base uint64) func(context.Context) error {
	return func(ctx context.Context) error {
		now, err := s.CurrentVersion(ctx, site)
		if err == nil && now != base {
			err = errMoved
		}
		return err
	}
}

// ErrConflict means another write switched the site's catalog at the same
// time as this one (the API answers 409): either nothing changed, or this
// write's version is recorded but another is current. The error says which.
var ErrConflict = errors.New("another write switched the catalog at the same time")

// errMoved means another write switched the catalog while an upsert was
// copying the version it started from.
var errMoved = fmt.Errorf("%w: it changed while the upsert copied it", ErrConflict)

// errNotCurrent means a write's version was recorded but a version
// recorded after it is current.
var errNotCurrent = fmt.Errorf("%w: a version recorded after this one is current", ErrConflict)

// carryOver copies the products of version from that the new version does
// not replace (written rows are already in it) and returns how many it copied.
func (s *Store) carryOver(ctx context.Context, site string, from, to, written uint64) (uint64, error) {
	if from == 0 {
		return 0, nil
	}
	// Copy of the base version minus the ids just written to the new one.
	const copyRows = `INSERT INTO catalog_products (` + productColumns + `)
SELECT site, ?, ` + productColumnsAfterVersion + `, 0
FROM catalog_products
WHERE site = ? AND version = ?
  AND product_id NOT IN (SELECT product_id FROM catalog_products WHERE site = ? AND version = ?)`
	if err := s.db.Exec(ctx, copyRows, to, site, from, site, to); err != nil {
		return 0, fmt.Errorf("cannot copy catalog version %d of site %q: %w", from, site, err)
	}
	var copied uint64
	err := s.db.QueryRow(ctx, "SELECT count() FROM catalog_products WHERE site = ? AND version = ?", site, to).Scan(&copied)
	return copied - written, err
}

// commit is the switch: recording the version makes it current. A
// precondition, when given, is checked just before.
func (s *Store) commit(ctx context.Context, w *writer, rep Report, source string, precondition func(context.Context) error) error {
	if err := w.flush(ctx); err != nil {
		return s.abort(ctx, w, err)
	}
	if s.beforeSwitch != nil {
		if err := s.beforeSwitch(ctx, w.site, w.version); err != nil {
			return s.abort(ctx, w, err)
		}
	}
	if precondition != nil {
		if err := precondition(ctx); err != nil {
			return s.abort(ctx, w, err)
		}
	}
	if s.beforeRecord != nil {
		if err := s.beforeRecord(ctx, w.site, w.version); err != nil {
			return s.abort(ctx, w, err)
		}
	}
	now := time.Now()
	seq, err := s.nextSwitchSeq(ctx, w.site, now)
	if err != nil {
		return s.abort(ctx, w, err)
	}
	w.seq = seq
	if s.beforeInsert != nil {
		if err := s.beforeInsert(ctx, w.site, w.version); err != nil {
			return s.abort(ctx, w, err)
		}
	}
	err = s.db.InsertSwitch(ctx, fmt.Sprintf("catalog/%s/%d", w.site, w.version),
		"INSERT INTO catalog_versions (site, version, created_at, switch_seq, source, format, rows, skipped, whole, covers, written)",
		"SELECT count() FROM catalog_versions WHERE site = ? AND version = ?", []any{w.site, w.version},
		w.site, w.version, now.UTC(), seq, source, rep.Format, w.rows, uint64(rep.Skipped),
		boolByte(w.whole), w.covers, w.written)
	if errors.Is(err, chdb.ErrOutcomeUnknown) {
		// Readers may read the version already: its rows stay. If it
		// is not current, Prune drops them a day on, as any version
		// that never completed.
		w.discard()
		return fmt.Errorf("cannot tell whether the catalog version was recorded; if it was, it is current, if not, nothing changed: %w", err)
	}
	if err != nil {
		return s.abort(ctx, w, fmt.Errorf("cannot record catalog version: %w", err))
	}
	if err := s.Prune(ctx, w.site); err != nil {
		// The new version is current; leftovers are retried on the next write.
		s.log.Warn("cannot drop old catalog versions", "site", w.site, "err", err)
	}
	return s.confirmCurrent(ctx, w.site, w.version)
}

// settleAfter follows a write's commit (its error, err): once the write's
// version is recorded, another write may have switched just before it
// (this version lacks that one) or just after it (that one may lack this),
// so the site is settled. It returns the version that now holds the write.
// A recorded version that is not current keeps err: a version with a
// higher switch_seq may have been copied before this one landed, and then
// nothing holds this write (settle looks only after a version's covers).
func (s *Store) settleAfter(ctx context.Context, w *writer, err error) (uint64, error) {
	if err != nil && !errors.Is(err, errNotCurrent) {
		return 0, err
	}
	cur, serr := s.settle(ctx, w.site)
	if err != nil || serr != nil {
		return 0, errors.Join(err, serr)
	}
	return cur.version, nil
}

// nextSwitchSeq is the switch_seq that makes a version current: the
// clock, unless a switch already recorded for the site (by a host whose
// clock is ahead) has a higher one, which it then follows. The current
// version is argMax(version, switch_seq), so with the clock alone a later
// switch from a host whose clock is behind would be recorded and never
// become current.
func (s *Store) nextSwitchSeq(ctx context.Context, site string, now time.Time) (uint64, error) {
	var stored uint64 // max over no rows is 0
	if err := s.db.QueryRow(ctx, "SELECT max(switch_seq) FROM catalog_versions WHERE site = ?", site).Scan(&stored); err != nil {
		return 0, fmt.Errorf("cannot read the catalog switches of %q: %w", site, err)
	}
	return max(uint64(now.UnixNano()), stored+1), nil
}

// confirmCurrent checks that the version just recorded is the current one:
// a write switching at the same moment from another process may have
// read the same highest switch_seq and recorded the same or a higher one.
func (s *Store) confirmCurrent(ctx context.Context, site string, version uint64) error {
	current, err := s.CurrentVersion(ctx, site)
	if err != nil {
		return fmt.Errorf("catalog version %d was recorded, but cannot tell whether it is current: %w", version, err)
	}
	if current != version {
		return fmt.Errorf("%w: version %d was recorded but version %d is current; see GET /catalog/versions and write again if needed",
			errNotCurrent, version, current)
	}
	return nil
}

// abort drops the rows written for an unfinished version and returns err.
// It uses its own context: the caller's may be the reason for the abort.
func (s *Store) abort(_ context.Context, w *writer, err error) error {
	w.discard()
	if !w.sent {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if derr := s.dropVersion(ctx, w.site, w.version); derr != nil {
		s.log.Warn("cannot drop unfinished catalog version; it is invisible and will be dropped later",
			"site", w.site, "version", w.version, "err", derr)
	}
	return err
}

func (s *Store) dropVersion(ctx context.Context, site string, version uint64) error {
	// Values bound client-side into the partition tuple literal.
	return s.db.Exec(ctx, "ALTER TABLE catalog_products DROP PARTITION (?, ?)", site, version)
}

// Prune drops the rows of completed versions beyond the newest Keep, and
// of versions that never completed and are older than a day. Versions the
// current one may still have to fold (recorded after its covers) stay.
func (s *Store) Prune(ctx context.Context, site string) error {
	keep := max(s.Keep, 2) // an upsert may still be copying the previous version
	rows, err := s.db.Query(ctx, "SELECT version, switch_seq, covers, whole FROM catalog_versions WHERE site = ? ORDER BY switch_seq DESC, version DESC", site)
	if err != nil {
		return err
	}
	completed := map[uint64]bool{}
	var kept = map[uint64]bool{}
	var foldFrom uint64 // versions after this switch_seq may be folded
	for rows.Next() {
		var v, seq, covers uint64
		var whole uint8
		if err := rows.Scan(&v, &seq, &covers, &whole); err != nil {
			rows.Close()
			return err
		}
		if len(completed) == 0 { // the newest: the current version
			foldFrom = seq
			if whole == 0 {
				foldFrom = covers
			}
		}
		if len(kept) < keep || seq > foldFrom {
			kept[v] = true
		}
		completed[v] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	present, err := s.storedVersions(ctx, site)
	if err != nil {
		return err
	}
	cutoff := uint64(time.Now().Add(-abandonedAfter).UnixNano())
	var errs []error
	for _, v := range present {
		if kept[v] || (!completed[v] && v > cutoff) {
			continue
		}
		if err := s.dropVersion(ctx, site, v); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (s *Store) storedVersions(ctx context.Context, site string) ([]uint64, error) {
	rows, err := s.db.Query(ctx, "SELECT DISTINCT version FROM catalog_products WHERE site = ?", site)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []uint64
	for rows.Next() {
		var v uint64
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
