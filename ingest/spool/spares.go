package spool

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"

	"golang.org/x/sys/unix"
)

// preallocAfter is how much a segment that grows by appends may hold
// before the spool moves to a pre-zeroed one. Idle and test spools never
// get that far and never pay for writing zeros.
const preallocAfter = 1 << 20

const spareName = "spare.wal"

// spares keeps one pre-zeroed segment file ready in the background, so the
// commit loop never waits for zeros to be written. It owns one goroutine,
// stopped by close.
type spares struct {
	dir  string
	size int64
	log  *slog.Logger

	wantc chan struct{}
	stop  chan struct{}
	wg    sync.WaitGroup
}

func newSpares(dir string, size int64, log *slog.Logger) *spares {
	sp := &spares{dir: dir, size: size, log: log, wantc: make(chan struct{}, 1), stop: make(chan struct{})}
	sp.wg.Add(1)
	go sp.loop()
	return sp
}

// want asks for a spare if there is none.
func (sp *spares) want() {
	select {
	case sp.wantc <- struct{}{}:
	default:
	}
}

// ready reports whether a spare is waiting.
func (sp *spares) ready() bool {
	_, err := os.Stat(filepath.Join(sp.dir, spareName))
	return err == nil
}

// take renames the spare to path, or creates an empty file there when no
// spare is ready. zeroed says which it was.
func (sp *spares) take(path string) (f *os.File, zeroed bool, err error) {
	if err := os.Rename(filepath.Join(sp.dir, spareName), path); err == nil {
		zeroed = true
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, false, fmt.Errorf("cannot use spare spool segment: %w", err)
	}
	f, err = os.OpenFile(path, os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, false, fmt.Errorf("cannot create spool segment %q: %w", path, err)
	}
	return f, zeroed, nil
}

func (sp *spares) loop() {
	defer sp.wg.Done()
	for {
		select {
		case <-sp.stop:
			return
		case <-sp.wantc:
		}
		if sp.ready() {
			continue
		}
		if free, err := freeBytes(sp.dir); err == nil && free < 2*sp.size {
			// Writing the zeros would take the space appends need; they
			// grow the current segment instead.
			continue
		}
		if err := sp.prepare(); err != nil {
			sp.log.Warn("spool: cannot prepare a pre-zeroed segment; appends stay slower", "err", err)
		}
	}
}

// prepare writes a zero-filled file of the segment size, syncs it and
// renames it into place, so a spare is either complete or absent.
func (sp *spares) prepare() error {
	tmp := filepath.Join(sp.dir, spareName+".tmp")
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	defer os.Remove(tmp) // a no-op once renamed
	zeros := make([]byte, 1<<20)
	for off := int64(0); off < sp.size; off += int64(len(zeros)) {
		select {
		case <-sp.stop:
			f.Close()
			return nil
		default:
		}
		n := min(int64(len(zeros)), sp.size-off)
		if _, err := f.Write(zeros[:n]); err != nil {
			f.Close()
			return err
		}
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(sp.dir, spareName)); err != nil {
		return err
	}
	return syncDir(sp.dir)
}

func (sp *spares) close() {
	select {
	case <-sp.stop:
	default:
		close(sp.stop)
	}
	sp.wg.Wait()
}

// fdatasync flushes a file's data and only the metadata needed to read it
// back (not its modification time).
func fdatasync(f *os.File) error {
	for {
		err := unix.Fdatasync(int(f.Fd()))
		if !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}
