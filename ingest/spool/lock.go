package spool

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

const lockFn = "lock"

// dirLock is an exclusive flock on dir/lock, held while a process owns
// the spool: two processes appending to and shipping the same segments
// would interleave records and delete each other's unshipped data. The
// kernel drops the lock when its holder dies, so a crash never leaves the
// directory locked. The file holds the holder's pid, for the error the
// next one reports.
type dirLock struct{ f *os.File }

func lockDir(dir string) (*dirLock, error) {
	path := filepath.Join(dir, lockFn)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("cannot open spool lock %q: %w", path, err)
	}
	if err := flock(f); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("spool directory %q is in use by another process%s: every remarket serve needs its own spool_dir", dir, holder(path))
		}
		return nil, fmt.Errorf("cannot lock spool directory %q: %w", dir, err)
	}
	// Best effort: the pid only makes the next error clearer.
	if f.Truncate(0) == nil {
		f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return &dirLock{f: f}, nil
}

func flock(f *os.File) error {
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}

// holder names the process that wrote its pid into the lock file, or
// nothing when the file does not say.
func holder(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return ""
	}
	return fmt.Sprintf(" (pid %d)", pid)
}

// unlock releases the directory (closing the file drops the flock).
func (l *dirLock) unlock() error { return l.f.Close() }
