package spool

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

// openCheckpointWriter opens the checkpoint, whose newest slot holds cp
// with sequence seq (zero for none), and makes sure its blocks are
// allocated: a file sized by truncation is sparse, and on a full disk the
// first write into the hole fails, so shipped segments could never be
// deleted and the disk would stay full for good. Writing the bytes
// themselves (zeros for a new file, the same content for an existing one)
// allocates them once, up front.
func openCheckpointWriter(dir string, cp Position, seq uint64) (*checkpointWriter, error) {
	path := filepath.Join(dir, checkpointFn)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("cannot open spool checkpoint %q: %w", path, err)
	}
	w := &checkpointWriter{f: f, seq: seq}
	img := make([]byte, 2*checkpointSlot)
	n, err := f.ReadAt(img, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		f.Close()
		return nil, fmt.Errorf("cannot read spool checkpoint %q: %w", path, err)
	}
	resized := n != len(img)
	if resized {
		// New, or the legacy single-slot format: both slots, zeroed, with
		// a legacy position carried over into a proper slot.
		clear(img)
		if cp != (Position{}) {
			w.seq++
			w.encode(img[w.slot():], cp)
		}
	}
	if _, err := f.WriteAt(img, 0); err != nil {
		f.Close()
		return nil, fmt.Errorf("cannot allocate spool checkpoint %q: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, fmt.Errorf("cannot fsync spool checkpoint %q: %w", path, err)
	}
	if resized {
		if err := syncDir(dir); err != nil {
			f.Close()
			return nil, err
		}
	}
	return w, nil
}

// slot is the offset of the slot the current sequence number lives in.
func (w *checkpointWriter) slot() int64 { return int64(w.seq%2) * checkpointSlot }

// encode writes pos with the current sequence number as one slot into b.
func (w *checkpointWriter) encode(b []byte, pos Position) {
	binary.LittleEndian.PutUint64(b[0:8], w.seq)
	binary.LittleEndian.PutUint64(b[8:16], pos.Segment)
	binary.LittleEndian.PutUint64(b[16:24], uint64(pos.Offset))
	binary.LittleEndian.PutUint32(b[24:28], crc32.Checksum(b[:24], crcTable))
}

func (w *checkpointWriter) write(pos Position) error {
	w.seq++
	var b [checkpointSlot]byte
	w.encode(b[:], pos)
	if _, err := w.f.WriteAt(b[:], w.slot()); err != nil {
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
