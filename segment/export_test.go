package segment

import "time"

// SetInsertMargin lets tests count as new only the events stored after
// the previous run started (they insert and run one after the other).
func (e *Engine) SetInsertMargin(d time.Duration) { e.insertMargin = d }

// SetMaxIncrement lets tests of small shops run incrementally after
// batches that are a large share of their events.
func (e *Engine) SetMaxIncrement(share float64) { e.maxIncrement = share }
