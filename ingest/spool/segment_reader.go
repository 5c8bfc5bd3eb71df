package spool

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
)

// segmentReader reads records from one segment file up to a limit, with a
// large buffer, resynchronising after corrupt bytes.
type segmentReader struct {
	f       *os.File
	buf     []byte
	bufOff  int64 // file offset of buf[0]
	pos     int64 // next record starts here
	limit   int64
	skipped int64 // corrupt bytes passed over
}

func openSegmentReader(path string, from, limit int64) (*segmentReader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("cannot open spool segment %q: %w", path, err)
	}
	return &segmentReader{f: f, pos: from, bufOff: from, limit: limit}, nil
}

func (r *segmentReader) Close() error { return r.f.Close() }

// fill makes buf hold at least n bytes from pos (or fewer at the limit).
func (r *segmentReader) fill(n int) ([]byte, error) {
	start := r.pos - r.bufOff
	if int64(len(r.buf))-start >= int64(n) {
		return r.buf[start : start+int64(n)], nil
	}
	want := max(n, 1<<20)
	if rem := r.limit - r.pos; int64(want) > rem {
		want = int(rem)
	}
	if want < n {
		return nil, io.ErrUnexpectedEOF
	}
	nb := make([]byte, want)
	got, err := r.f.ReadAt(nb, r.pos)
	if got < n {
		if err == nil || errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	r.buf, r.bufOff = nb[:got], r.pos
	return r.buf[:n], nil
}

// next returns the next valid record's payload and the offset after it,
// or io.EOF at the limit. Zero bytes at a record boundary are the padding
// of a pre-zeroed segment: when only zeros follow, the data has ended.
// Other bytes that do not form a valid record are skipped one at a time
// until a valid record starts, and counted.
func (r *segmentReader) next() ([]byte, int64, error) {
	for r.pos < r.limit {
		h, err := r.fill(headerSize)
		if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, r.pos, err
		}
		if err == nil && h[0] == 0 {
			zeros, err := r.zeroRun()
			if err != nil {
				return nil, r.pos, err
			}
			if r.pos+zeros >= r.limit {
				r.pos = r.limit
				return nil, r.pos, io.EOF
			}
			r.pos += zeros // zeros followed by data: not padding
			r.skipped += zeros
			continue
		}
		if err == nil && h[0] == recordMagic {
			n := binary.LittleEndian.Uint32(h[1:5])
			sum := binary.LittleEndian.Uint32(h[5:9])
			if n <= maxRecord {
				rec, err := r.fill(headerSize + int(n))
				if err == nil && crc32.Checksum(rec[headerSize:], crcTable) == sum {
					r.pos += int64(headerSize) + int64(n)
					return rec[headerSize:], r.pos, nil
				}
			}
		}
		r.pos++
		r.skipped++
	}
	return nil, r.pos, io.EOF
}

// zeroRun counts the zero bytes from pos on (up to the limit).
func (r *segmentReader) zeroRun() (int64, error) {
	var n int64
	for r.pos+n < r.limit {
		start := r.pos + n
		chunk := min(r.limit-start, 1<<20)
		buf := make([]byte, chunk)
		got, err := r.f.ReadAt(buf, start)
		if got == 0 && err != nil {
			if errors.Is(err, io.EOF) {
				return n, nil
			}
			return n, err
		}
		for i, b := range buf[:got] {
			if b != 0 {
				return n + int64(i), nil
			}
		}
		n += int64(got)
	}
	return n, nil
}

// scanGoodEnd finds where the valid records of a segment end: the offset
// after the last valid record, and how many bytes that are neither records
// nor trailing zero padding follow or precede it.
func scanGoodEnd(path string) (good, bad int64, err error) {
	st, err := os.Stat(path)
	if err != nil {
		return 0, 0, fmt.Errorf("cannot stat spool segment %q: %w", path, err)
	}
	r, err := openSegmentReader(path, 0, st.Size())
	if err != nil {
		return 0, 0, err
	}
	defer r.Close()
	var skippedAtGood int64
	for {
		_, end, err := r.next()
		if errors.Is(err, io.EOF) {
			// Corrupt bytes after the last record: the torn tail.
			return good, r.skipped - skippedAtGood, nil
		}
		if err != nil {
			return 0, 0, err
		}
		good, skippedAtGood = end, r.skipped
	}
}
