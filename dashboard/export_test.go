package dashboard

import (
	"context"
	"time"
)

// SetClock replaces the sign-in throttle's clock (tests).
func (u *UI) SetClock(now func() time.Time) { u.signIns.Now = now }

// SizeHistory is the audiences' size history as the pages read it at now.
func (u *UI) SizeHistory(ctx context.Context, site, audience string, now time.Time) (map[string][]sizePoint, error) {
	return u.sizeHistory(ctx, site, audience, now)
}
