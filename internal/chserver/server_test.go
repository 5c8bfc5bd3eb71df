package chserver

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A server that dies on its own (not by Stop or Kill) says so, and
// Restart brings it back on the same port and data.
func TestRestartAfterACrash(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	s := startOrSkip(ctx, t, EngineServer)
	if crashed, _ := s.Crashed(); crashed {
		t.Fatal("a running server says it crashed")
	}
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL) // as a crash would
	<-s.exited
	if crashed, _ := s.Crashed(); !crashed {
		t.Fatal("a dead server does not say it crashed")
	}
	if err := s.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	if !pingHTTP(s.HTTPPort) {
		t.Fatal("the restarted server does not answer")
	}
	s.Kill()
	if crashed, _ := s.Crashed(); crashed {
		t.Fatal("a server stopped by Kill says it crashed")
	}
}

// chDB's server outlives clients that reset their connection mid-hello,
// as a killed client process does: clickhouse-local 26.7 aborts on it
// unless run interactive (see internal/tools/chdbserver).
func TestChDBSurvivesResetConnections(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	s := startOrSkip(ctx, t, EngineChDB)
	hello := []byte("\x00\x0aClickHouse") // the start of a native client hello
	for i := 0; i < 3; i++ {
		c, err := net.DialTCP("tcp", nil, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: s.TCPPort})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Write(hello); err != nil {
			t.Fatal(err)
		}
		time.Sleep(200 * time.Millisecond) // the server is reading the hello
		c.SetLinger(0)                     // close with a reset
		c.Close()
	}
	// An aborting engine logs its fatal lines first and takes a while to end.
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		crashed, _ := s.Crashed()
		if out := s.Output(); crashed || strings.Contains(out, "<Fatal>") {
			t.Fatalf("chDB's server died of a reset connection; its output ended:\n%s", out)
		}
	}
	if !pingHTTP(s.HTTPPort) {
		t.Fatal("chDB's server does not answer after reset connections")
	}
}

// A crashed clickhouse-server's output says which signal ended it, from
// the report its own handler writes (what a CI failure is read from), and
// with core dumps on, the crashed thread's stack from the core file
// (where gdb is installed: in CI it must be).
func TestACrashSaysWhy(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	s := startWithOrSkip(ctx, t, Options{Engine: EngineServer, CoreDumps: true})
	_ = syscall.Kill(s.cmd.Process.Pid, syscall.SIGSEGV) // handled, reported, then fatal
	select {
	case <-s.exited:
	case <-time.After(time.Minute):
		t.Fatal("the server outlived SIGSEGV")
	}
	crashed, out := s.Crashed()
	if !crashed {
		t.Fatal("a server ended by SIGSEGV does not say it crashed")
	}
	if !strings.Contains(out, "crash report in") || !strings.Contains(out, "Segmentation fault") {
		t.Fatalf("the output does not carry the crash report:\n%s", out)
	}
	// Where the system writes core files elsewhere (a core_pattern pipe
	// to systemd-coredump, say) there is none to read.
	if cores, _ := filepath.Glob(filepath.Join(s.Dir, "core*")); len(cores) == 0 {
		t.Logf("no core file in %s (core_pattern sends it elsewhere)", s.Dir)
	} else if _, err := exec.LookPath("gdb"); err == nil || os.Getenv("CI") != "" {
		if !strings.Contains(out, "stack of the crashed thread") || !strings.Contains(out, "#0 ") {
			t.Errorf("the output does not carry the crashed thread's stack:\n%s", out)
		}
	}
	// The logs outlive the crashed server, and the output says where.
	defer os.RemoveAll(s.Dir)
	if !strings.Contains(out, s.Dir) {
		t.Errorf("the output does not say where the server's directory is:\n%s", out)
	}
	s.Close()
	if _, err := os.Stat(filepath.Join(s.Dir, "log", "err.log")); err != nil {
		t.Errorf("a crashed server's error log is gone after Close: %v", err)
	}
}

// startOrSkip starts a server of engine for t, closed when t ends.
// Without the engine installed it skips, unless CI is set.
func startOrSkip(ctx context.Context, t *testing.T, engine Engine) *Server {
	t.Helper()
	return startWithOrSkip(ctx, t, Options{Engine: engine})
}

// startWithOrSkip is startOrSkip with options.
func startWithOrSkip(ctx context.Context, t *testing.T, opts Options) *Server {
	t.Helper()
	s, err := Start(ctx, opts)
	if (errors.Is(err, ErrNoBinary) || errors.Is(err, ErrNoChDB)) && os.Getenv("CI") == "" {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
