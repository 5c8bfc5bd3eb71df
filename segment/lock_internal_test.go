package segment

import (
	"context"
	"testing"
	"time"
)

// A run waits for the dry run (the audience editor's preview) holding the
// site's lock, instead of giving up as busy and leaving the schedule's
// turn to the next interval; it still gives up at once behind another run.
func TestARunWaitsForADryRunButNotForARun(t *testing.T) {
	e := &Engine{}
	const site = "lock-test"
	ctx := context.Background()
	if err := e.lockForDryRun(ctx, site); err != nil {
		t.Fatal(err)
	}
	got := make(chan bool, 1)
	go func() { got <- e.lockForRun(ctx, site) }()
	select {
	case <-got:
		t.Fatal("a run took the lock a dry run holds, or gave up")
	case <-time.After(300 * time.Millisecond):
	}
	e.unlockDryRun(site)
	select {
	case ok := <-got:
		if !ok {
			t.Fatal("the run gave up behind a dry run")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the run did not get the lock once the dry run ended")
	}
	done := make(chan bool, 1)
	go func() { done <- e.lockForRun(ctx, site) }()
	select {
	case ok := <-done:
		if ok {
			t.Fatal("two runs of one site at once")
		}
	case <-time.After(time.Second):
		t.Fatal("a run waited behind another run instead of answering busy")
	}
	e.unlock(site)
}
