package feeds

import (
	"context"
	"io"
)

// RowSource yields an audience's rows in feed order, one at a time, so a
// feed never holds its rows in memory. fn's error stops the scan.
type RowSource func(ctx context.Context, fn func(*Row) error) error

// Stats counts what one generation wrote and left out.
type Stats struct {
	Items   int
	Skipped map[string]int
	Bytes   int64
}

// Generate writes a feed of format f: each row is built into an item and
// written as it is scanned, up to max items; rows that cannot be made
// valid are counted in Stats.Skipped.
func Generate(ctx context.Context, w io.Writer, f Format, h Header, b *Builder, rows RowSource, max int) (Stats, error) {
	cw := &countingWriter{w: w}
	fw := NewWriter(f, cw)
	st := Stats{Skipped: map[string]int{}}
	if err := fw.Begin(h); err != nil {
		return st, err
	}
	var it Item // reused: one item lives at a time
	err := rows(ctx, func(r *Row) error {
		if st.Items >= max {
			return errEnough
		}
		var skip string
		it, skip = b.Build(r)
		if skip != "" {
			st.Skipped[skip]++
			return nil
		}
		st.Items++
		return fw.Item(&it)
	})
	if err != nil && err != errEnough {
		return st, err
	}
	err = fw.End()
	st.Bytes = cw.n
	for reason, n := range st.Skipped {
		skippedItems.WithLabelValues(string(f), reason).Add(float64(n))
	}
	generated.WithLabelValues(string(f)).Inc()
	return st, err
}

type stopScan struct{}

func (stopScan) Error() string { return "enough items" }

var errEnough error = stopScan{}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
