package spool

import (
	"errors"
	"io"
	"os"
)

// cursor reads committed records in order across segments, starting at a
// checkpoint. Only the shipper uses it.
type cursor struct {
	spool *Spool
	seg   uint64
	r     *segmentReader
	pos   Position // after the last record returned
}

func newCursor(s *Spool, from Position) *cursor {
	return &cursor{spool: s, seg: from.Segment, pos: from}
}

// next returns the next committed record and the position after it, or
// io.EOF when it has read everything committed so far.
func (c *cursor) next() ([]byte, Position, error) {
	for {
		committed := c.spool.Committed()
		if !c.pos.Less(committed) {
			return nil, c.pos, io.EOF
		}
		limit, ok := c.spool.sizeOf(c.seg)
		if !ok || c.pos.Offset >= limit {
			if c.seg >= committed.Segment {
				return nil, c.pos, io.EOF
			}
			// This segment is done: move on to the next one that exists.
			c.closeReader()
			c.seg++
			c.pos = Position{c.seg, 0}
			continue
		}
		if c.r == nil || c.r.limit != limit {
			from := c.pos.Offset
			c.closeReader()
			r, err := openSegmentReader(c.spool.segPath(c.seg), from, limit)
			if errors.Is(err, os.ErrNotExist) {
				c.seg++
				c.pos = Position{c.seg, 0}
				continue
			}
			if err != nil {
				return nil, c.pos, err
			}
			c.r = r
		}
		skippedBefore := c.r.skipped
		payload, end, err := c.r.next()
		if d := c.r.skipped - skippedBefore; d > 0 {
			spoolCorruptBytes.Add(float64(d))
			c.spool.log.Warn("spool: skipped corrupt bytes", "segment", c.spool.segPath(c.seg), "bytes", d)
		}
		c.pos = Position{c.seg, end}
		if errors.Is(err, io.EOF) {
			continue
		}
		if err != nil {
			return nil, c.pos, err
		}
		return payload, c.pos, nil
	}
}

func (c *cursor) closeReader() {
	if c.r != nil {
		c.r.Close()
		c.r = nil
	}
}
