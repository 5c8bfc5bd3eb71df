package spool

import (
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// Disk space. A spool on a full disk must neither wedge nor lie:
//
//   - The checkpoint's blocks are allocated when it is created (see
//     checkpoint.go), so shipping can always record its progress, and
//     shipped segments can always be deleted, however full the disk is.
//   - A failed write puts the spool in a failing state: Append returns
//     ErrUnavailable at once (no write is attempted, no request waits),
//     and Health reports it, so /readyz fails and the collect API answers
//     503 with Retry-After.
//   - Every probeInterval the commit loop tries to get out of it: once
//     everything written so far is shipped, it moves to a new segment and
//     deletes the old one (on a fresh spool all data sits in the current
//     segment, which the checkpoint alone never frees), and once the disk
//     has resumeFreeBytes free it takes appends again.
//   - A pre-zeroed spare segment is only prepared while the disk has room
//     for two segments, so it never takes the last free space.
const (
	probeInterval   = time.Second
	resumeFreeBytes = 1 << 20
)

// failWrite records a write of n bytes at pos that failed, erases what
// it may have left in the file, and returns the error Append gives.
func (s *Spool) failWrite(pos Position, n int, cause error) error {
	s.leftover = max(s.leftover, int64(n))
	s.eraseLeftover(pos)
	return s.failWrites(cause)
}

// eraseLeftover removes the bytes a failed write may have left past the
// committed end pos. A write can fail after some of its records reached
// the file (a full disk mid-way, or an fsync error after the write), and
// a restart's recovery takes every whole record it finds as acknowledged:
// events whose clients were refused (and who may send them again under
// new ids) would be shipped. A growing segment is cut back; a pre-zeroed
// one gets its zeros back. Until that has worked, the spool stays
// failing (recoverWrites tries again).
func (s *Spool) eraseLeftover(pos Position) bool {
	if s.leftover == 0 {
		return true
	}
	var err error
	if s.curZeroed {
		_, err = s.cur.WriteAt(make([]byte, s.leftover), pos.Offset)
	} else {
		err = s.cur.Truncate(pos.Offset)
	}
	if err == nil {
		err = fdatasync(s.cur)
	}
	if err != nil {
		s.log.Warn("spool: cannot yet erase what a failed write left; trying again", "segment", s.segPath(pos.Segment), "offset", pos.Offset, "err", err)
		return false
	}
	s.leftover = 0
	return true
}

// failWrites records a failed write and returns the error Append gives.
func (s *Spool) failWrites(cause error) error {
	err := fmt.Errorf("%w: %w", ErrUnavailable, cause)
	s.mu.Lock()
	first := s.writeErr == nil
	s.writeErr = err
	s.mu.Unlock()
	spoolWriteErrors.Inc()
	if first {
		s.log.Error("spool: cannot write; events are refused until it can (checked every second)", "dir", s.opts.Dir, "err", cause)
	}
	return err
}

func (s *Spool) failing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.writeErr != nil
}

// recoverWrites frees what is shipped and takes appends again once the
// disk has room. Only the commit loop calls it.
func (s *Spool) recoverWrites() {
	erased := s.eraseLeftover(s.Committed())
	s.reclaim()
	if !erased {
		return
	}
	free, err := freeBytes(s.opts.Dir)
	if err != nil || free < resumeFreeBytes {
		return
	}
	s.mu.Lock()
	s.writeErr = nil
	s.mu.Unlock()
	s.log.Info("spool: writing again", "dir", s.opts.Dir, "free_bytes", free)
}

// reclaim moves on to a new segment and deletes the current one when
// everything in it is shipped.
func (s *Spool) reclaim() {
	s.mu.Lock()
	end, drained := s.committed, !s.shipped.Less(s.committed)
	s.mu.Unlock()
	if !drained || end.Offset == 0 {
		return
	}
	if s.rotate(end.Segment+1) != nil {
		return
	}
	s.mu.Lock()
	delete(s.sizes, end.Segment)
	s.mu.Unlock()
	if err := os.Remove(s.segPath(end.Segment)); err != nil {
		s.log.Warn("spool: cannot remove shipped segment", "segment", s.segPath(end.Segment), "err", err)
		return
	}
	// The shipper's reader may still hold the deleted file open, which
	// keeps its blocks allocated: wake it to move on.
	select {
	case s.notify <- struct{}{}:
	default:
	}
}

// Health is nil while the spool takes appends, else why not: ErrFull at
// the cap, or once an append did not fit under it until something ships
// (unshipped bytes can stop just short of the cap, refusing every event
// that does not fit), an ErrUnavailable while writes fail.
func (s *Spool) Health() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.writeErr != nil {
		return s.writeErr
	}
	// A refusal with nothing left to ship was an append larger than the
	// whole spool: nothing would clear it.
	if n := s.unshippedLocked(); n >= s.opts.MaxBytes || (s.refused && n > 0) {
		return ErrFull
	}
	return nil
}

// freeBytes is the space an unprivileged writer may still use on dir's
// file system.
func freeBytes(dir string) (int64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, fmt.Errorf("cannot statfs spool dir %q: %w", dir, err)
	}
	return int64(st.Bavail) * st.Bsize, nil
}
