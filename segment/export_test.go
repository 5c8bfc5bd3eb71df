package segment

import "time"

// SetInsertMargin lets tests count as new only the events stored after
// the previous run started (they insert and run one after the other).
func (e *Engine) SetInsertMargin(d time.Duration) { e.insertMargin = d }
