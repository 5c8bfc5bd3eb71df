package spool

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// shipAll reads every record from the checkpoint on and checkpoints after
// the last, as the shipper does once ClickHouse has them.
func shipAll(t *testing.T, s *Spool) {
	t.Helper()
	c := newCursor(s, s.Shipped())
	defer c.closeReader()
	pos := s.Shipped()
	for {
		_, p, err := c.next()
		if err != nil {
			break
		}
		pos = p
	}
	if err := s.Checkpoint(pos); err != nil {
		t.Fatal(err)
	}
}

func wantRecords(t *testing.T, s *Spool, from, n int) {
	t.Helper()
	var want []string
	for i := from; i < from+n; i++ {
		want = append(want, fmt.Sprintf("record-%04d", i))
	}
	if got := readAll(t, s); !slices.Equal(got, want) {
		t.Fatalf("the shipper reads %d records %.60q…; want the %d acknowledged since the checkpoint", len(got), got, n)
	}
	if u := s.Unshipped(); u <= 0 {
		t.Fatalf("unshipped bytes = %d with %d records to ship", u, n)
	}
}

// A shipped segment whose end is damaged (here the last record's tail is
// cut) lies under the checkpoint on restart. New records must not go
// there, where the shipper never looks.
func TestRecordsAfterADamagedShippedTailAreShipped(t *testing.T) {
	dir := t.TempDir()
	s := openTestSpool(t, dir, 1<<20, 1<<20)
	appendN(t, s, 0, 10)
	shipAll(t, s)
	shut(s)
	path := filepath.Join(dir, "seg-0000000000000001.wal")
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, st.Size()-5); err != nil {
		t.Fatal(err)
	}
	s = openTestSpool(t, dir, 1<<20, 1<<20)
	defer shut(s)
	appendN(t, s, 100, 3)
	wantRecords(t, s, 100, 3)
}

// An operator removes the segments of a wholly shipped spool and keeps
// the checkpoint: new records must follow the checkpoint, not start at
// offset 0 of its segment.
func TestRecordsAfterShippedSegmentsWereRemovedAreShipped(t *testing.T) {
	dir := t.TempDir()
	s := openTestSpool(t, dir, 1<<20, 1<<20)
	appendN(t, s, 0, 50)
	shipAll(t, s)
	shut(s)
	segs, err := filepath.Glob(filepath.Join(dir, segmentGlob))
	if err != nil || len(segs) == 0 {
		t.Fatalf("no segments to remove: %v", err)
	}
	for _, p := range segs {
		os.Remove(p)
	}
	s = openTestSpool(t, dir, 1<<20, 1<<20)
	defer shut(s)
	appendN(t, s, 100, 10)
	wantRecords(t, s, 100, 10)
	shut(s)
	// And again after a restart: nothing lost, nothing twice.
	s = openTestSpool(t, dir, 1<<20, 1<<20)
	wantRecords(t, s, 100, 10)
}

// A write that fails on a full disk can leave whole records of its group
// in the file. Their clients were refused (503), so a restart must not
// find and ship them: only what was acknowledged comes back.
func TestRecordsOfAFailedWriteAreNotShippedAfterARestart(t *testing.T) {
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=1m"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("cannot mount a tmpfs to fill (CI runs as root): %v", err)
		}
		t.Skipf("cannot mount a tmpfs to fill (needs root): %v", err)
	}
	t.Cleanup(func() { unix.Unmount(dir, unix.MNT_DETACH) })
	// Segments larger than the disk: one file that grows until it fails.
	s := openTestSpool(t, dir, 64<<20, 1<<30)
	acked := 0
	var failed error
	for i := 0; i < 1000 && failed == nil; i++ {
		var group [][]byte
		for j := range 50 {
			group = append(group, fmt.Appendf(nil, "req%04d-rec%02d-%s", i, j, strings.Repeat("x", 900)))
		}
		if failed = s.Append(context.Background(), group...); failed == nil {
			acked += len(group)
		}
	}
	if !errors.Is(failed, ErrUnavailable) {
		t.Fatalf("the disk never filled: %v", failed)
	}
	shut(s)
	s = openTestSpool(t, dir, 64<<20, 1<<30)
	defer shut(s)
	if got := readAll(t, s); len(got) != acked {
		t.Fatalf("after a restart the spool ships %d records; %d were acknowledged and the rest refused", len(got), acked)
	}
}

// In a pre-zeroed segment the erasure writes the zeros back: recovery
// then sees padding where the failed write's records were.
func TestAFailedWriteInAPreZeroedSegmentIsErased(t *testing.T) {
	dir := t.TempDir()
	s := openTestSpool(t, dir, 1<<20, 1<<20)
	appendN(t, s, 0, 3)
	// Move to a pre-zeroed segment, as real traffic does.
	s.spares.want()
	for deadline := time.Now().Add(10 * time.Second); !s.spares.ready() && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if err := s.rotate(s.Committed().Segment + 1); err != nil {
		t.Fatal(err)
	}
	if !s.curZeroed {
		t.Fatal("no pre-zeroed spare was ready within 10 s")
	}
	appendN(t, s, 3, 2)
	// What a failed group may leave: whole records past the committed end.
	pos := s.Committed()
	left := appendRecord(appendRecord(nil, []byte("refused-1")), []byte("refused-2"))
	if _, err := s.cur.WriteAt(left, pos.Offset); err != nil {
		t.Fatal(err)
	}
	s.leftover = int64(len(left))
	if !s.eraseLeftover(pos) {
		t.Fatal("erasing failed")
	}
	shut(s)
	s = openTestSpool(t, dir, 1<<20, 1<<20)
	defer shut(s)
	wantRecords(t, s, 0, 5)
}
