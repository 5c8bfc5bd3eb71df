package ingest

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
)

// The checkpoint file holds two 32-byte slots, written in turn in place
// and flushed with fdatasync: no rename and no directory fsync per batch,
// which would force a journal commit every second. Each slot carries a
// sequence number and a CRC; the valid slot with the higher sequence
// wins, so a torn write of one slot leaves the other. (A 20-byte file is
// the single-slot format of earlier builds.)
const (
	checkpointSlot = 32
	legacyCPSize   = 20
)

// checkpointWriter keeps the checkpoint file open between writes.
type checkpointWriter struct {
	f   *os.File
	seq uint64
}

func openCheckpointWriter(dir string, seq uint64) (*checkpointWriter, error) {
	path := filepath.Join(dir, checkpointFn)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("cannot open spool checkpoint: %w", err)
	}
	if st, err := f.Stat(); err == nil && st.Size() != 2*checkpointSlot {
		// New file, or the legacy format: give it both slots first. The
		// legacy content is rewritten as slot 0 by the first write.
		if err := f.Truncate(2 * checkpointSlot); err != nil {
			f.Close()
			return nil, fmt.Errorf("cannot size spool checkpoint: %w", err)
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return nil, fmt.Errorf("cannot fsync spool checkpoint: %w", err)
		}
		if err := syncDir(dir); err != nil {
			f.Close()
			return nil, err
		}
	}
	return &checkpointWriter{f: f, seq: seq}, nil
}

func (w *checkpointWriter) write(pos Position) error {
	w.seq++
	var b [checkpointSlot]byte
	binary.LittleEndian.PutUint64(b[0:8], w.seq)
	binary.LittleEndian.PutUint64(b[8:16], pos.Segment)
	binary.LittleEndian.PutUint64(b[16:24], uint64(pos.Offset))
	binary.LittleEndian.PutUint32(b[24:28], crc32.Checksum(b[:24], crcTable))
	if _, err := w.f.WriteAt(b[:], int64(w.seq%2)*checkpointSlot); err != nil {
		return fmt.Errorf("cannot write spool checkpoint: %w", err)
	}
	if err := fdatasync(w.f); err != nil {
		return fmt.Errorf("cannot fsync spool checkpoint: %w", err)
	}
	return nil
}

func (w *checkpointWriter) close() error { return w.f.Close() }

// readCheckpoint returns the position and the sequence of the newest valid
// slot, or the zero Position when there is no checkpoint yet. A file with
// no valid slot is an error: guessing could skip or replay data.
func readCheckpoint(dir string) (Position, uint64, error) {
	path := filepath.Join(dir, checkpointFn)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return Position{}, 0, nil
	}
	if err != nil {
		return Position{}, 0, fmt.Errorf("cannot read spool checkpoint: %w", err)
	}
	if len(b) == legacyCPSize && binary.LittleEndian.Uint32(b[16:20]) == crc32.Checksum(b[:16], crcTable) {
		return Position{binary.LittleEndian.Uint64(b[0:8]), int64(binary.LittleEndian.Uint64(b[8:16]))}, 0, nil
	}
	var best Position
	var bestSeq uint64
	found, empty := false, true
	for off := 0; off+checkpointSlot <= len(b); off += checkpointSlot {
		slot := b[off : off+checkpointSlot]
		seq := binary.LittleEndian.Uint64(slot[0:8])
		if seq != 0 {
			empty = false
		}
		if seq == 0 || binary.LittleEndian.Uint32(slot[24:28]) != crc32.Checksum(slot[:24], crcTable) {
			continue
		}
		if !found || seq > bestSeq {
			found, bestSeq = true, seq
			best = Position{binary.LittleEndian.Uint64(slot[8:16]), int64(binary.LittleEndian.Uint64(slot[16:24]))}
		}
	}
	if found {
		return best, bestSeq, nil
	}
	if empty && len(b) == 2*checkpointSlot {
		return Position{}, 0, nil // created, never written
	}
	return Position{}, 0, fmt.Errorf("spool checkpoint %q is corrupt; move it away to replay the whole spool (ClickHouse drops the duplicates)", path)
}

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
