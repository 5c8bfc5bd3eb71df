package catalog

import "context"

// SetBeforeSwitch installs the hook that runs between the last row and
// the version switch, so tests can look at (or break) that moment.
func (s *Store) SetBeforeSwitch(f func(ctx context.Context, site string, version uint64) error) {
	s.beforeSwitch = f
}

// SetBeforeRecord installs the hook that runs after a write checked its
// precondition and before it records its version: where another process's
// switch slips in.
func (s *Store) SetBeforeRecord(f func(ctx context.Context, site string, version uint64) error) {
	s.beforeRecord = f
}

// SetBeforeInsert installs the hook that runs after a write chose its
// switch_seq and before the row recording it is inserted: a write whose
// insert lands late.
func (s *Store) SetBeforeInsert(f func(ctx context.Context, site string, version uint64) error) {
	s.beforeInsert = f
}
