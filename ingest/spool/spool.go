// Package spool is remarket's write-ahead log: records (encoded events)
// are appended and fsync'd before they are acknowledged, and a Shipper
// hands them to a Sink (ClickHouse) in batches. It knows nothing of what
// a record holds; ingest encodes events and supplies the Sink.
package spool

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// A Spool is a write-ahead log of records on local disk. HTTP handlers
// append and wait for the group fsync before they acknowledge; the Shipper
// reads committed records in order, hands them to its Sink (ClickHouse) in
// batches and moves a checkpoint forward once the Sink has them. A crash
// loses nothing acknowledged: on the next start the shipper resumes from
// the checkpoint (replayed records keep their event ids, so ClickHouse
// collapses any it already had).
//
// Layout: dir/seg-<16 digit id>.wal files, sealed at SegmentBytes, and
// dir/checkpoint (segment id and offset of the first unshipped record).
//
// Record framing: magic byte, payload length (uint32 LE), CRC-32C of the
// payload (uint32 LE), payload. A torn or corrupt record is detected by the
// CRC; readers skip forward to the next valid record and count the bytes.
//
// Policy at the cap: when unshipped data reaches MaxBytes, Append fails
// with ErrFull and nothing is written: the JSON API answers 429 with
// Retry-After, the pixel drops the event and counts it.
//
// When a write fails (a full disk, mostly), Append fails fast with
// ErrUnavailable until the spool can write again, which it checks by
// itself every second (see space.go): the JSON API answers 503 with
// Retry-After and /readyz fails meanwhile. Nothing acknowledged is lost,
// because nothing that failed was acknowledged.

const (
	recordMagic  = 0xA7
	headerSize   = 9
	maxRecord    = 4 << 20 // far above any accepted event; a larger length is corruption
	segmentGlob  = "seg-*.wal"
	checkpointFn = "checkpoint"
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// ErrFull means the spool reached its size cap.
var ErrFull = errors.New("spool is full: ClickHouse is not keeping up or is down")

// ErrClosed means Append was called after Close.
var ErrClosed = errors.New("spool is closed")

// ErrUnavailable means the spool cannot write (the disk is full or
// failing); errors wrapping it say why.
var ErrUnavailable = errors.New("spool cannot write")

// Position addresses a byte in the spool.
type Position struct {
	Segment uint64
	Offset  int64
}

// Less reports whether p comes before q.
func (p Position) Less(q Position) bool {
	return p.Segment < q.Segment || (p.Segment == q.Segment && p.Offset < q.Offset)
}

// Options configure Open.
type Options struct {
	Dir          string
	SegmentBytes int64
	MaxBytes     int64
	Logger       *slog.Logger
}

// Spool is the durable queue. Append is safe for concurrent use; one reader
// (the shipper) consumes it.
type Spool struct {
	opts Options
	log  *slog.Logger

	reqs   chan *appendReq
	done   chan struct{} // closed when the commit loop exits
	notify chan struct{} // signalled after each commit

	// sendMu orders Append's send against Close's close(reqs).
	sendMu sync.RWMutex

	mu        sync.Mutex
	committed Position // end of durable data
	shipped   Position // checkpoint: start of unshipped data
	sizes     map[uint64]int64
	closed    bool
	refused   bool     // an append was refused at the cap and nothing has shipped since
	writeErr  error    // the last write failed and no write has worked since
	cur       *os.File // owned by the commit loop
	curZeroed bool     // cur was pre-zeroed to SegmentBytes
	leftover  int64    // bytes a failed write may have left in cur past the committed end, not yet erased (commit loop)
	spares    *spares
	cpw       *checkpointWriter // used by Checkpoint (the shipper) only
	lock      *dirLock
}

type appendReq struct {
	payloads [][]byte
	size     int64
	done     chan error
}

// Open opens or creates the spool in opts.Dir, repairing a torn tail. The
// directory stays locked against other processes until Release.
func Open(opts Options) (*Spool, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("cannot create spool dir %q: %w", opts.Dir, err)
	}
	lock, err := lockDir(opts.Dir)
	if err != nil {
		return nil, err
	}
	s := &Spool{
		lock:   lock,
		opts:   opts,
		log:    opts.Logger,
		reqs:   make(chan *appendReq, 4096),
		done:   make(chan struct{}),
		notify: make(chan struct{}, 1),
		sizes:  map[uint64]int64{},
	}
	s.spares = newSpares(opts.Dir, opts.SegmentBytes, opts.Logger)
	if err := s.recover(); err != nil {
		s.spares.close()
		if s.cpw != nil {
			s.cpw.close()
		}
		lock.unlock()
		return nil, err
	}
	go s.commitLoop()
	return s, nil
}

// recover reads the checkpoint, drops fully shipped segments, finds where
// each segment's records end, and cuts a torn tail so new records follow
// good ones.
func (s *Spool) recover() error {
	cp, seq, err := readCheckpoint(s.opts.Dir)
	if err != nil {
		return err
	}
	if s.cpw, err = openCheckpointWriter(s.opts.Dir, cp, seq); err != nil {
		return err
	}
	ids, err := s.segmentIDs()
	if err != nil {
		return err
	}
	last := cp.Segment
	for _, id := range ids {
		if id < cp.Segment {
			os.Remove(s.segPath(id))
			continue
		}
		last = max(last, id)
		// Segments may be pre-zeroed: the data ends where the records end,
		// not at the file size.
		good, bad, err := scanGoodEnd(s.segPath(id))
		if err != nil {
			return err
		}
		if id == cp.Segment && good < cp.Offset {
			// The checkpoint lies past this segment's records: its end was
			// damaged or cut after it had been shipped. Every record in it
			// is shipped; new ones must not go under the checkpoint, where
			// the shipper would never read them.
			s.log.Warn("spool: the checkpoint lies past the records of its segment; the segment is shipped and new records go to a new one",
				"segment", s.segPath(id), "records_end", good, "checkpoint", cp.Offset)
			os.Remove(s.segPath(id))
			continue
		}
		s.sizes[id] = good
		if bad > 0 {
			s.log.Warn("spool: found torn or corrupt bytes after the last good record", "segment", s.segPath(id), "bytes", bad, "kept_bytes", good)
			spoolCorruptBytes.Add(float64(bad))
			// Cut them (with any padding) so new records follow good ones.
			if err := os.Truncate(s.segPath(id), good); err != nil {
				return fmt.Errorf("cannot truncate spool segment %q: %w", s.segPath(id), err)
			}
		}
	}
	if _, ok := s.sizes[cp.Segment]; cp.Segment != 0 && !ok {
		// The checkpoint's segment is gone (removed above, or by hand):
		// continue after it.
		last = max(last, cp.Segment+1)
	}
	if last == 0 {
		last = 1
	}
	f, err := os.OpenFile(s.segPath(last), os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("cannot open spool segment %q: %w", s.segPath(last), err)
	}
	if err := syncDir(s.opts.Dir); err != nil {
		f.Close()
		return err
	}
	if st, err := f.Stat(); err == nil {
		s.curZeroed = st.Size() >= s.opts.SegmentBytes
	}
	s.cur = f
	s.committed = Position{last, s.sizes[last]}
	if cp.Segment == 0 {
		cp = Position{firstID(ids, last), 0}
	}
	s.shipped = cp
	spoolBytes.Set(float64(s.unshippedLocked()))
	return nil
}

func firstID(ids []uint64, def uint64) uint64 {
	if len(ids) > 0 {
		return ids[0]
	}
	return def
}

// Append writes payloads as records and returns once they are fsync'd.
func (s *Spool) Append(ctx context.Context, payloads ...[]byte) error {
	var size int64
	for _, p := range payloads {
		size += int64(headerSize + len(p))
	}
	s.sendMu.RLock()
	defer s.sendMu.RUnlock()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	if err := s.writeErr; err != nil {
		s.mu.Unlock()
		return err
	}
	// A soft cap: appends racing past this check may overshoot it by one
	// group, which is bounded by the request limits.
	if s.unshippedLocked()+size > s.opts.MaxBytes {
		s.refused = true
		s.mu.Unlock()
		spoolFull.Inc()
		return ErrFull
	}
	s.mu.Unlock()
	req := &appendReq{payloads: payloads, size: size, done: make(chan error, 1)}
	select {
	case s.reqs <- req:
	case <-ctx.Done():
		return ctx.Err()
	}
	// Once queued the records will be written; wait for the verdict even if
	// the client goes away, so "acknowledged" always means durable.
	return <-req.done
}

// commitLoop is the single writer: it takes every queued request, writes
// them in one go and fsyncs once for all of them (group commit). While
// writes fail it also checks, every probeInterval, whether they can work
// again.
func (s *Spool) commitLoop() {
	defer close(s.done)
	buf := make([]byte, 0, 1<<20)
	var group []*appendReq
	probe := time.NewTicker(probeInterval)
	defer probe.Stop()
	for {
		var first *appendReq
		select {
		case r, ok := <-s.reqs:
			if !ok {
				if s.cur != nil {
					s.cur.Close()
				}
				s.spares.close()
				return
			}
			first = r
		case <-probe.C:
			if s.failing() {
				s.recoverWrites()
			}
			continue
		}
		group = append(group[:0], first)
	drain:
		for len(group) < 4096 {
			select {
			case r, ok := <-s.reqs:
				if !ok {
					break drain
				}
				group = append(group, r)
			default:
				break drain
			}
		}
		buf = buf[:0]
		for _, r := range group {
			for _, p := range r.payloads {
				buf = appendRecord(buf, p)
			}
		}
		err := s.writeSync(buf)
		for _, r := range group {
			r.done <- err
		}
		if err == nil {
			spoolAppended.Add(float64(countPayloads(group)))
		}
	}
}

func countPayloads(group []*appendReq) int {
	n := 0
	for _, r := range group {
		n += len(r.payloads)
	}
	return n
}

func appendRecord(buf, payload []byte) []byte {
	var h [headerSize]byte
	h[0] = recordMagic
	binary.LittleEndian.PutUint32(h[1:5], uint32(len(payload)))
	binary.LittleEndian.PutUint32(h[5:9], crc32.Checksum(payload, crcTable))
	return append(append(buf, h[:]...), payload...)
}

// writeSync appends buf to the current segment and makes it durable with
// fdatasync. In a pre-zeroed segment an append changes no file metadata,
// so the flush writes only our blocks instead of forcing a journal commit
// that waits for every other writer on the disk (ClickHouse, mostly).
// A failed write leaves the committed end where it was, and erases what
// it may have written past it (eraseLeftover).
func (s *Spool) writeSync(buf []byte) error {
	s.mu.Lock()
	pos := s.committed
	s.mu.Unlock()
	timer := spoolFsyncSeconds.Start()
	if _, err := s.cur.WriteAt(buf, pos.Offset); err != nil {
		return s.failWrite(pos, len(buf), fmt.Errorf("cannot write spool segment %q: %w", s.segPath(pos.Segment), err))
	}
	if err := fdatasync(s.cur); err != nil {
		return s.failWrite(pos, len(buf), fmt.Errorf("cannot fsync spool segment %q: %w", s.segPath(pos.Segment), err))
	}
	timer()
	end := Position{pos.Segment, pos.Offset + int64(len(buf))}
	s.mu.Lock()
	s.committed = end
	s.sizes[end.Segment] = end.Offset
	spoolBytes.Set(float64(s.unshippedLocked()))
	s.mu.Unlock()
	switch {
	case end.Offset >= s.opts.SegmentBytes:
		s.rotate(end.Segment + 1)
	case !s.curZeroed && end.Offset >= preallocAfter:
		// Real traffic on a segment that grows by appends: move to a
		// pre-zeroed one as soon as the preparer has it ready.
		if s.spares.ready() {
			s.rotate(end.Segment + 1)
		} else {
			s.spares.want()
		}
	case end.Offset >= s.opts.SegmentBytes/2:
		s.spares.want()
	}
	select {
	case s.notify <- struct{}{}:
	default:
	}
	return nil
}

// rotate seals the current segment and continues in segment next, a
// pre-zeroed spare when one is ready, else a file that grows by appends.
// On failure the current segment simply keeps growing.
func (s *Spool) rotate(next uint64) error {
	f, zeroed, err := s.spares.take(s.segPath(next))
	if err == nil {
		err = syncDir(s.opts.Dir)
	}
	if err != nil {
		if f != nil {
			f.Close()
		}
		s.log.Error("spool: cannot start a new segment; the current one keeps growing", "err", err)
		return err
	}
	old := s.cur
	s.mu.Lock()
	s.cur, s.curZeroed = f, zeroed
	s.committed = Position{next, 0}
	s.sizes[next] = 0
	s.mu.Unlock()
	old.Close()
	s.spares.want()
	return nil
}

// Committed is the end of durable data.
func (s *Spool) Committed() Position {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.committed
}

// Shipped is the checkpoint.
func (s *Spool) Shipped() Position {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.shipped
}

// Notify is signalled after each commit.
func (s *Spool) Notify() <-chan struct{} { return s.notify }

// Unshipped is the number of bytes waiting for ClickHouse.
func (s *Spool) Unshipped() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.unshippedLocked()
}

func (s *Spool) unshippedLocked() int64 {
	var n int64
	for id, size := range s.sizes {
		switch {
		case id > s.shipped.Segment:
			n += size
		case id == s.shipped.Segment:
			n += size - s.shipped.Offset
		}
	}
	return n
}

// Checkpoint records that everything before pos is in ClickHouse and
// removes segments that are wholly shipped.
func (s *Spool) Checkpoint(pos Position) error {
	if err := s.cpw.write(pos); err != nil {
		return err
	}
	s.mu.Lock()
	if s.shipped.Less(pos) {
		s.refused = false
	}
	s.shipped = pos
	var drop []uint64
	for id := range s.sizes {
		if id < pos.Segment {
			drop = append(drop, id)
			delete(s.sizes, id)
		}
	}
	spoolBytes.Set(float64(s.unshippedLocked()))
	s.mu.Unlock()
	for _, id := range drop {
		if err := os.Remove(s.segPath(id)); err != nil && !errors.Is(err, os.ErrNotExist) {
			s.log.Warn("spool: cannot remove shipped segment", "segment", s.segPath(id), "err", err)
		}
	}
	return nil
}

// Close stops accepting appends and finishes queued ones; the shipper
// may still read and checkpoint until Release.
func (s *Spool) Close() error {
	s.sendMu.Lock()
	defer s.sendMu.Unlock()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		<-s.done
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	close(s.reqs)
	<-s.done
	return nil
}

// Release closes the checkpoint file and unlocks the directory once the
// shipper has stopped.
func (s *Spool) Release() error {
	return errors.Join(s.cpw.close(), s.lock.unlock())
}

func (s *Spool) segPath(id uint64) string {
	return filepath.Join(s.opts.Dir, fmt.Sprintf("seg-%016d.wal", id))
}

func (s *Spool) segmentIDs() ([]uint64, error) {
	names, err := filepath.Glob(filepath.Join(s.opts.Dir, segmentGlob))
	if err != nil {
		return nil, err
	}
	var ids []uint64
	for _, n := range names {
		base := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(n), "seg-"), ".wal")
		id, err := strconv.ParseUint(base, 10, 64)
		if err != nil {
			continue
		}
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids, nil
}

// sizeOf is the committed size of a segment (the file may be longer while
// a write is in flight).
func (s *Spool) sizeOf(id uint64) (int64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	size, ok := s.sizes[id]
	return size, ok
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("cannot open spool dir: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("cannot fsync spool dir: %w", err)
	}
	return nil
}
