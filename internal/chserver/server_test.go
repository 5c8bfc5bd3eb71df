package chserver

import (
	"context"
	"errors"
	"os"
	"syscall"
	"testing"
	"time"
)

// A server that dies on its own (not by Stop or Kill) says so, and
// Restart brings it back on the same port and data.
func TestRestartAfterACrash(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	s, err := Start(ctx, Options{})
	if errors.Is(err, ErrNoBinary) && os.Getenv("CI") == "" {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
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
