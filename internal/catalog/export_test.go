package catalog

import "context"

// SetBeforeSwitch installs the hook that runs between the last row and
// the version switch, so tests can look at (or break) that moment.
func (s *Store) SetBeforeSwitch(f func(ctx context.Context, site string, version uint64) error) {
	s.beforeSwitch = f
}
