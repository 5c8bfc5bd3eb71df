package segment_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/remarket/remarket/internal/chtest"
	"github.com/remarket/remarket/segment"
)

// The answer to a run's switch can be lost after the server stored the
// switch (the connection breaks, or the server restarts, in between).
// Readers then read the run, so it must keep its rows: the run asks
// whether its switch landed and, finding it did, has succeeded. When it
// cannot even ask, it fails but keeps its rows, recorded finished, so
// readers read it whole, and the next run builds on it.
func TestASwitchWhoseAnswerIsLostKeepsTheRun(t *testing.T) {
	if underRace {
		// Its run is like every other, which other tests run under the
		// detector; the fault it injects involves no concurrency.
		t.Skip("a switch's fault: run without -race")
	}
	for _, questionFails := range []bool{false, true} {
		name := map[bool]string{false: "the run asks", true: "the question fails"}[questionFails]
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			dsn := chtest.DSN(t)
			db := chtest.Open(t, dsn)
			cfg := abandonConfig(t)
			e, _, t1 := aShop(t, db, cfg, 9)
			thenFail := ""
			if questionFails {
				thenFail = "FROM seg_current" // the run's question whether its switch landed
			}
			proxy, through := chtest.NewAnswerLosingProxy(t, dsn, "INSERT INTO seg_current", thenFail)
			lossy := incrementalEngine(t, chtest.Open(t, through), cfg)
			lossy.Now = func() time.Time { return t1 }
			res, err := lossy.Run(ctx, site, segment.RunOptions{})
			select {
			case <-proxy.Lost():
			default:
				t.Fatalf("the proxy lost no answer; the run ended with %v", err)
			}
			if !questionFails {
				// A run that succeeds keeps its rows, as any does.
				if err != nil {
					t.Fatalf("the run failed though its switch landed: %v", err)
				}
				readersRead(t, cfg, db, e, res.RunID, t1)
				return
			}
			if err == nil || !strings.Contains(err.Error(), "cannot tell whether readers were switched to the run") {
				t.Fatalf("the run that could not ask whether its switch landed ended with %v", err)
			}
			readersKeep(t, cfg, db, e, res.RunID, t1, 90)
		})
	}
}
