package dashboard

import (
	"context"
	"fmt"
	"time"
)

// revoke records the session as signed out, for every instance, until it
// would have expired; months whose sessions have all expired go.
func (u *UI) revoke(ctx context.Context, s session) error {
	if err := u.db.InsertRow(ctx, "INSERT INTO dashboard_revoked_sessions (site, session, revoked_at, expires_at)",
		s.site.ID, s.id, time.Now().UTC(), s.expires); err != nil {
		return fmt.Errorf("cannot sign out: %w", err)
	}
	// Partitions (months of expiry) before the current one hold only
	// sessions past their expiry, which no cookie can use any more.
	rows, err := u.db.Query(ctx, `SELECT DISTINCT toUInt32(partition_id) AS p FROM system.parts
		WHERE database = currentDatabase() AND table = 'dashboard_revoked_sessions' AND active AND p < toYYYYMM(now())`)
	if err != nil {
		u.log.Warn("cannot list old revoked sessions", "err", err)
		return nil
	}
	var old []uint32
	for rows.Next() {
		var p uint32
		if rows.Scan(&p) == nil {
			old = append(old, p)
		}
	}
	rows.Close()
	for _, p := range old {
		// p is a YYYYMM integer read from system.parts, not user text.
		if err := u.db.Exec(ctx, fmt.Sprintf("ALTER TABLE dashboard_revoked_sessions DROP PARTITION %d", p)); err != nil {
			u.log.Warn("cannot drop old revoked sessions", "partition", p, "err", err)
		}
	}
	return nil
}

// revoked reports whether the session was signed out on any instance.
func (u *UI) revoked(ctx context.Context, s session) (bool, error) {
	var n uint64
	// Whether the session was signed out.
	if err := u.db.QueryRow(ctx, "SELECT count() FROM dashboard_revoked_sessions WHERE site = ? AND session = ?", s.site.ID, s.id).Scan(&n); err != nil {
		return false, fmt.Errorf("cannot check the session: %w", err)
	}
	return n > 0, nil
}
