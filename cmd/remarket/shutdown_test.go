package main

import (
	"context"
	"net/http"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/remarket/remarket/internal/chdb"
)

// runStatuses reads the e2e site's segment runs: run id → status.
func (e *e2eEnv) runStatuses() map[string]string {
	e.t.Helper()
	ctx := context.Background()
	db, err := chdb.Open(ctx, e.dsn)
	if err != nil {
		e.t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(ctx, "SELECT run_id, status FROM v_segment_runs WHERE site = 'e2e'")
	if err != nil {
		e.t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var id, status string
		if err := rows.Scan(&id, &status); err != nil {
			e.t.Fatal(err)
		}
		out[id] = status
	}
	return out
}

// stopDuringRun waits until a segment run is in progress, stops the
// server with SIGTERM and checks that no run was left behind unfinished:
// a run still going when ClickHouse was closed under it (or the process
// exited) stays "running" for ever, with its work tables.
func (e *e2eEnv) stopDuringRun(cmd *exec.Cmd) {
	e.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for running := false; !running; {
		for _, status := range e.runStatuses() {
			running = running || status == "running"
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("no segment run started; runs: %v", e.runStatuses())
		}
		time.Sleep(10 * time.Millisecond) // poll
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		e.t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		e.t.Fatalf("serve exited with %v", err)
	}
	for id, status := range e.runStatuses() {
		if status == "running" {
			e.t.Errorf("run %s is still %q after serve exited", id, status)
		}
	}
}

func TestShutdownWaitsForTheScheduledRun(t *testing.T) {
	e := newE2E(t) // the schedule runs every site at start
	e.stopDuringRun(e.start())
}

func TestShutdownWaitsForAnOnDemandRun(t *testing.T) {
	e := newE2E(t)
	e.configure("segments: {schedule: \"off\"}\n")
	cmd := e.start()
	for i := 0; i < 2000; i += 500 {
		e.sendBatch("shop", i, 500)
	}
	req, _ := http.NewRequest(http.MethodPost, "http://"+e.addr+"/api/sites/e2e/segments/run", nil)
	req.Header.Set("Authorization", "Bearer admin-token-0123456789")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST segments/run answered %d", resp.StatusCode)
	}
	e.stopDuringRun(cmd)
}
