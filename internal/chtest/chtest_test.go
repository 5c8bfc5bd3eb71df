package chtest

import (
	"context"
	"syscall"
	"testing"
	"time"
)

func TestMain(m *testing.M) { Main(m) }

// After the package's server crashes, the next test gets a fresh database
// on the restarted server (instead of every later test failing), and the
// crash is counted, which fails the package in Main.
func TestACrashedServerIsRestartedForTheNextTest(t *testing.T) {
	s := Server()
	if s == nil {
		t.Skip("no managed server (CLICKHOUSE_DSN set, or no ClickHouse)")
	}
	MustOpen(t)
	if err := s.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(50 * time.Millisecond) {
		if crashed, _ := s.Crashed(); crashed {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the server outlived SIGKILL")
		}
	}
	expectRestartedAfterOneCrash(t)
}

// A server that stops answering is waited for until its process ends, as
// a crashing 18.16 is (its handler sleeps ten seconds after the fault,
// then the kernel writes the core file): taken for alive, it failed every
// test after it in CI. A stopped process stands for the dying one here.
func TestADyingServerIsWaitedForAndRestarted(t *testing.T) {
	s := Server()
	if s == nil {
		t.Skip("no managed server (CLICKHOUSE_DSN set, or no ClickHouse)")
	}
	if err := s.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	ended := make(chan bool)
	go func() { ended <- hasCrashed(s) }()
	select {
	case crashed := <-ended:
		s.Signal(syscall.SIGKILL)
		t.Fatalf("a server that does not answer was taken for ended (crashed %v) while its process ran", crashed)
	case <-time.After(3 * time.Second):
	}
	if err := s.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if !<-ended {
		t.Fatal("the killed server was not taken for crashed")
	}
	expectRestartedAfterOneCrash(t)
}

// expectRestartedAfterOneCrash checks that the next database is on a
// restarted server and that one crash was counted, then forgets it: the
// test's own crash must not fail the package.
func expectRestartedAfterOneCrash(t *testing.T) {
	t.Helper()
	db := MustOpen(t)
	var one uint8
	if err := db.QueryRow(context.Background(), "SELECT 1").Scan(&one); err != nil || one != 1 {
		t.Fatalf("the restarted server answers %d, %v", one, err)
	}
	if n := crashes.Load(); n != 1 {
		t.Fatalf("%d crashes counted, want 1", n)
	}
	crashes.Store(0)
	reports = nil
}
