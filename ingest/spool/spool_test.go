package spool

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"golang.org/x/sys/unix"
)

func openTestSpool(t *testing.T, dir string, segBytes, maxBytes int64) *Spool {
	t.Helper()
	s, err := Open(Options{Dir: dir, SegmentBytes: segBytes, MaxBytes: maxBytes})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// shut closes s for appends and releases its directory, as a process
// does once its shipper has stopped.
func shut(s *Spool) {
	s.Close()
	s.Release()
}

// readAll returns every committed record from the checkpoint on.
func readAll(t *testing.T, s *Spool) []string {
	t.Helper()
	c := newCursor(s, s.Shipped())
	defer c.closeReader()
	var out []string
	for {
		p, _, err := c.next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(p))
	}
}

func appendN(t *testing.T, s *Spool, from, n int) {
	t.Helper()
	for i := from; i < from+n; i++ {
		if err := s.Append(context.Background(), fmt.Appendf(nil, "record-%04d", i)); err != nil {
			t.Fatal(err)
		}
	}
}

func TestSpoolSurvivesReopenAndRotates(t *testing.T) {
	dir := t.TempDir()
	s := openTestSpool(t, dir, 200, 1<<20) // tiny segments: many rotations
	appendN(t, s, 0, 50)
	shut(s)
	segs, _ := filepath.Glob(filepath.Join(dir, "seg-*.wal"))
	if len(segs) < 5 {
		t.Fatalf("%d segments, want rotation into many", len(segs))
	}
	s = openTestSpool(t, dir, 200, 1<<20)
	defer shut(s)
	got := readAll(t, s)
	if len(got) != 50 || got[0] != "record-0000" || got[49] != "record-0049" {
		t.Fatalf("after reopen read %d records (%v...)", len(got), got[:min(3, len(got))])
	}
}

func TestSpoolCheckpointDropsShippedSegments(t *testing.T) {
	dir := t.TempDir()
	s := openTestSpool(t, dir, 200, 1<<20)
	appendN(t, s, 0, 40)
	c := newCursor(s, s.Shipped())
	var pos Position
	for range 30 {
		_, p, err := c.next()
		if err != nil {
			t.Fatal(err)
		}
		pos = p
	}
	c.closeReader()
	if err := s.Checkpoint(pos); err != nil {
		t.Fatal(err)
	}
	shut(s)
	s = openTestSpool(t, dir, 200, 1<<20)
	defer shut(s)
	got := readAll(t, s)
	if len(got) != 10 || got[0] != "record-0030" {
		t.Fatalf("after checkpoint read %d records starting %q, want 10 from record-0030", len(got), got[0])
	}
	if _, err := os.Stat(s.segPath(1)); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("a fully shipped segment was not removed")
	}
}

func TestSpoolCutsTornTail(t *testing.T) {
	dir := t.TempDir()
	s := openTestSpool(t, dir, 1<<20, 1<<20)
	appendN(t, s, 0, 20)
	shut(s)
	// A crash during a write: half a record at the end.
	f, _ := os.OpenFile(filepath.Join(dir, "seg-0000000000000001.wal"), os.O_WRONLY|os.O_APPEND, 0)
	f.Write(appendRecord(nil, []byte("record-torn-and-long"))[:15])
	f.Close()
	s = openTestSpool(t, dir, 1<<20, 1<<20)
	defer shut(s)
	appendN(t, s, 20, 1)
	got := readAll(t, s)
	if len(got) != 21 || got[19] != "record-0019" || got[20] != "record-0020" {
		t.Fatalf("read %d records, last %q; want the 20 good ones plus the new one", len(got), got[len(got)-1])
	}
}

func TestSpoolSkipsCorruptRecordKeepsTheRest(t *testing.T) {
	dir := t.TempDir()
	s := openTestSpool(t, dir, 1<<20, 1<<20)
	appendN(t, s, 0, 10)
	shut(s)
	path := filepath.Join(dir, "seg-0000000000000001.wal")
	raw, _ := os.ReadFile(path)
	recLen := headerSize + len("record-0000")
	raw[4*recLen+headerSize+3] ^= 0xFF // flip a payload byte of record 4
	os.WriteFile(path, raw, 0o644)
	s = openTestSpool(t, dir, 1<<20, 1<<20)
	defer shut(s)
	got := readAll(t, s)
	if len(got) != 9 {
		t.Fatalf("read %d records, want the 9 intact ones: %v", len(got), got)
	}
	for _, r := range got {
		if r == "record-0004" {
			t.Fatal("the corrupt record was returned")
		}
	}
	if got[4] != "record-0005" {
		t.Fatalf("record after the corrupt one is %q, want record-0005", got[4])
	}
}

func TestSpoolRefusesAtCap(t *testing.T) {
	s := openTestSpool(t, t.TempDir(), 1<<20, 100)
	defer shut(s)
	if err := s.Append(context.Background(), make([]byte, 50)); err != nil {
		t.Fatal(err)
	}
	if err := s.Append(context.Background(), make([]byte, 50)); !errors.Is(err, ErrFull) {
		t.Fatalf("append over the cap: err = %v, want ErrFull", err)
	}
}

// A spool whose unshipped bytes stop just under the cap (an insert that
// keeps failing while ClickHouse still answers pings) refuses every event
// that does not fit: Health must say so, or /readyz keeps a load balancer
// sending traffic that is all answered 429. Shipping clears it.
func TestSpoolHealthReportsFullOnceAnAppendIsRefused(t *testing.T) {
	s := openTestSpool(t, t.TempDir(), 1<<20, 100)
	defer shut(s)
	if err := s.Append(context.Background(), make([]byte, 50)); err != nil {
		t.Fatal(err)
	}
	if err := s.Health(); err != nil {
		t.Fatalf("health with %d of 100 bytes used: %v, want nil", s.Unshipped(), err)
	}
	if err := s.Append(context.Background(), make([]byte, 50)); !errors.Is(err, ErrFull) {
		t.Fatalf("append over the cap: err = %v, want ErrFull", err)
	}
	if err := s.Health(); !errors.Is(err, ErrFull) {
		t.Fatalf("health after an append was refused at the cap (%d of 100 bytes unshipped): %v, want ErrFull", s.Unshipped(), err)
	}
	if err := s.Checkpoint(s.Committed()); err != nil {
		t.Fatal(err)
	}
	if err := s.Health(); err != nil {
		t.Fatalf("health once everything is shipped: %v, want nil", err)
	}
	if err := s.Append(context.Background(), make([]byte, 50)); err != nil {
		t.Fatalf("append after shipping: %v", err)
	}
	// With nothing left to ship, nothing would ever clear a refusal: one
	// append too large for the whole spool does not make it full.
	if err := s.Checkpoint(s.Committed()); err != nil {
		t.Fatal(err)
	}
	if err := s.Append(context.Background(), make([]byte, 200)); !errors.Is(err, ErrFull) {
		t.Fatalf("append larger than the cap: err = %v, want ErrFull", err)
	}
	if err := s.Health(); err != nil {
		t.Fatalf("health of an empty spool after an append larger than the cap was refused: %v, want nil", err)
	}
}

// The spool holds events as received (visitor and user ids, traits,
// addresses): like the database, it is readable by its owner only.
func TestSpoolIsPrivateToItsOwner(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "spool")
	s := openTestSpool(t, dir, 1<<20, 1<<20)
	appendN(t, s, 0, 3)
	if err := s.Checkpoint(s.Committed()); err != nil {
		t.Fatal(err)
	}
	shut(s)
	paths, _ := filepath.Glob(filepath.Join(dir, "*"))
	for _, p := range append(paths, dir) {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if perm := fi.Mode().Perm(); perm&0o077 != 0 {
			t.Errorf("%s has mode %v: others may read the events", p, perm)
		}
	}
}

func TestSpoolConcurrentAppendsAllDurable(t *testing.T) {
	dir := t.TempDir()
	s := openTestSpool(t, dir, 4096, 1<<30)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				if err := s.Append(context.Background(), fmt.Appendf(nil, "w%d-%d", w, i)); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	shut(s)
	s = openTestSpool(t, dir, 4096, 1<<30)
	defer shut(s)
	got := readAll(t, s)
	seen := map[string]bool{}
	for _, r := range got {
		seen[r] = true
	}
	if len(got) != 1600 || len(seen) != 1600 {
		t.Fatalf("read %d records (%d distinct), want 1600", len(got), len(seen))
	}
	if err := s.Append(context.Background(), []byte("x")); err != nil {
		t.Fatal(err)
	}
	shut(s)
	if err := s.Append(context.Background(), []byte("y")); !errors.Is(err, ErrClosed) {
		t.Fatalf("append after close: %v", err)
	}
}

func TestSpoolPreZeroedSegments(t *testing.T) {
	dir := t.TempDir()
	const segBytes = 4096
	s := openTestSpool(t, dir, segBytes, 1<<20)
	appendN(t, s, 0, 400) // ~8 KB: rotations into spares prepared at half full
	// Wait for the spare the last rotation asked for, then use it.
	deadline := time.Now().Add(5 * time.Second)
	for !s.spares.ready() && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	appendN(t, s, 400, 200)
	cur := s.Committed()
	shut(s)
	st, err := os.Stat(s.segPath(cur.Segment))
	if err != nil {
		t.Fatal(err)
	}
	if st.Size() != segBytes || cur.Offset >= segBytes {
		t.Fatalf("current segment is %d bytes with data up to %d; want a pre-zeroed %d-byte file", st.Size(), cur.Offset, segBytes)
	}
	corruptBefore := corruptBytes()
	s = openTestSpool(t, dir, segBytes, 1<<20)
	if got := readAll(t, s); len(got) != 600 || got[599] != "record-0599" {
		t.Fatalf("read %d records after reopen, want 600", len(got))
	}
	if d := corruptBytes() - corruptBefore; d != 0 {
		t.Fatalf("zero padding counted as %v corrupt bytes", d)
	}
	end := s.Committed()
	shut(s)

	// A torn write inside the padding: half a record where the next goes.
	f, _ := os.OpenFile(s.segPath(end.Segment), os.O_WRONLY, 0)
	f.WriteAt(appendRecord(nil, []byte("record-torn-in-padding"))[:12], end.Offset)
	f.Close()
	s = openTestSpool(t, dir, segBytes, 1<<20)
	defer shut(s)
	if d := corruptBytes() - corruptBefore; d != 12 {
		t.Fatalf("torn tail reported as %v bytes, want 12", d)
	}
	appendN(t, s, 600, 1)
	if got := readAll(t, s); len(got) != 601 || got[600] != "record-0600" {
		t.Fatalf("read %d records after the torn tail, want 601 ending with the new one", len(got))
	}
}

func corruptBytes() float64 {
	var m dto.Metric
	spoolCorruptBytes.Write(&m)
	return m.GetCounter().GetValue()
}

func TestCheckpointSurvivesATornSlot(t *testing.T) {
	dir := t.TempDir()
	s := openTestSpool(t, dir, 1<<20, 1<<20)
	appendN(t, s, 0, 10)
	c := newCursor(s, s.Shipped())
	var positions []Position
	for range 10 {
		_, p, err := c.next()
		if err != nil {
			t.Fatal(err)
		}
		positions = append(positions, p)
	}
	c.closeReader()
	for _, i := range []int{3, 6} {
		if err := s.Checkpoint(positions[i]); err != nil {
			t.Fatal(err)
		}
	}
	shut(s)
	// Tear the newest slot (sequence 2 lives in slot 0): the older one wins.
	path := filepath.Join(dir, checkpointFn)
	raw, _ := os.ReadFile(path)
	raw[10] ^= 0xFF
	os.WriteFile(path, raw, 0o644)
	s = openTestSpool(t, dir, 1<<20, 1<<20)
	defer shut(s)
	if got := readAll(t, s); len(got) != 6 || got[0] != "record-0004" {
		t.Fatalf("after a torn checkpoint slot read %d records from %q, want 6 from record-0004", len(got), got[0])
	}
	// Both slots torn: refuse rather than guess.
	raw[32+10] ^= 0xFF
	os.WriteFile(path, raw, 0o644)
	if _, err := Open(Options{Dir: dir, SegmentBytes: 1 << 20, MaxBytes: 1 << 20}); err == nil {
		t.Fatal("opened a spool whose checkpoint has no valid slot")
	}
}

func TestSpoolDirectoryIsLockedWhileOpen(t *testing.T) {
	dir := t.TempDir()
	s := openTestSpool(t, dir, 1<<20, 1<<20)
	_, err := Open(Options{Dir: dir, SegmentBytes: 1 << 20, MaxBytes: 1 << 20})
	if err == nil {
		t.Fatal("a second spool opened a directory in use")
	}
	for _, want := range []string{dir, fmt.Sprintf("pid %d", os.Getpid()), "spool_dir"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
	// Closed for appends, the shipper may still be draining: still locked.
	s.Close()
	if _, err := Open(Options{Dir: dir, SegmentBytes: 1 << 20, MaxBytes: 1 << 20}); err == nil {
		t.Fatal("a second spool opened a directory whose shipper is still draining")
	}
	s.Release()
	shut(openTestSpool(t, dir, 1<<20, 1<<20))
}

func TestCheckpointReadsLegacyFormat(t *testing.T) {
	dir := t.TempDir()
	var b [legacyCPSize]byte
	b[0] = 7 // segment 7
	b[8] = 42
	binary.LittleEndian.PutUint32(b[16:20], crc32.Checksum(b[:16], crcTable))
	os.WriteFile(filepath.Join(dir, checkpointFn), b[:], 0o644)
	pos, _, err := readCheckpoint(dir)
	if err != nil || pos != (Position{7, 42}) {
		t.Fatalf("legacy checkpoint read as %v, %v", pos, err)
	}
	// Converted on open; a process that stops before its first checkpoint
	// must leave a file the next one still reads.
	shut(openTestSpool(t, dir, 1<<20, 1<<20))
	pos, _, err = readCheckpoint(dir)
	if err != nil || pos != (Position{7, 42}) {
		t.Fatalf("converted legacy checkpoint read as %v, %v", pos, err)
	}
}

// TestCheckpointSpaceIsAllocated: a sparse checkpoint cannot be written on
// a full disk, and then shipped segments are never deleted.
func TestCheckpointSpaceIsAllocated(t *testing.T) {
	dir := t.TempDir()
	shut(openTestSpool(t, dir, 1<<20, 1<<20))
	var st unix.Stat_t
	if err := unix.Stat(filepath.Join(dir, checkpointFn), &st); err != nil {
		t.Fatal(err)
	}
	if st.Size != 2*checkpointSlot || st.Blocks == 0 {
		t.Fatalf("checkpoint is %d bytes in %d blocks; want %d bytes, allocated", st.Size, st.Blocks, 2*checkpointSlot)
	}
}
