package dashboard

import "time"

// SetClock replaces the sign-in throttle's clock (tests).
func (u *UI) SetClock(now func() time.Time) { u.signIns.now = now }
