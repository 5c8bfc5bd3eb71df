package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/remarket/remarket/internal/chserver"
)

// server is one side of the comparison while the run lasts.
type server struct {
	label string
	proc  *child
	load  *loader
}

// run sets up both servers, runs the phases in order and prints the report.
func run(ctx context.Context, o options) error {
	tmp, err := os.MkdirTemp("", "benchingest-")
	if err != nil {
		return err
	}
	if o.keep {
		logf("keeping %s", tmp)
	} else {
		defer os.RemoveAll(tmp)
	}
	r := &report{opts: o, started: time.Now()}

	self, err := os.Executable()
	if err != nil {
		return err
	}
	var argvA []string
	if o.profileDir != "" {
		if err := os.MkdirAll(o.profileDir, 0o755); err != nil {
			return err
		}
		argvA = []string{self, "-profile-server"}
		r.profiled = true
	} else {
		root, err := chserver.ModuleRoot()
		if err != nil {
			return err
		}
		bin := filepath.Join(tmp, "remarket")
		logf("building ./cmd/remarket")
		if err := buildRemarket(ctx, root, bin); err != nil {
			return err
		}
		argvA = []string{bin, "--config"}
	}

	logf("starting ClickHouse")
	db, err := openDatabase(ctx, filepath.Join(tmp, "clickhouse"))
	if err != nil {
		return err
	}
	defer db.close()
	r.external = db.private

	addrA, err := freeAddr()
	if err != nil {
		return err
	}
	cfgPath, err := writeConfig(tmp, db.DSN, addrA)
	if err != nil {
		return err
	}
	argvA = append(argvA, cfgPath)
	if o.profileDir == "" {
		argvA = append(argvA, "serve")
	}
	logf("starting (a) remarket serve on %s", addrA)
	procA, err := startChild(ctx, "remarket serve", addrA, filepath.Join(tmp, "remarket.log"), "/readyz", argvA,
		[]string{"CLICKHOUSE_DSN=" + db.DSN})
	if err != nil {
		return err
	}
	defer procA.stop()

	addrB, err := freeAddr()
	if err != nil {
		return err
	}
	logf("starting (b) bare gin on %s", addrB)
	procB, err := startChild(ctx, "bare gin", addrB, filepath.Join(tmp, "bare.log"), "/p.gif",
		[]string{self, "-bare-server", addrB}, nil)
	if err != nil {
		return err
	}
	defer procB.stop()

	a := &server{label: "a", proc: procA, load: newLoader(addrA, o.workers)}
	b := &server{label: "b", proc: procB, load: newLoader(addrB, o.workers)}
	defer a.load.close()
	defer b.load.close()
	loadHits := newHitSource(loadKey)

	if err := r.peakPhase(ctx, o, a, b, loadHits, db); err != nil {
		return err
	}
	r.latencyPhase(ctx, o, a, b, loadHits)
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := r.countPhase(ctx, o, a, db); err != nil {
		return err
	}
	r.rssA, _, _ = memoryOf(procA.pid())
	r.rssB, _, _ = memoryOf(procB.pid())
	if o.profileDir != "" {
		if err := fetchProfile(ctx, addrA, "heap", o.profileDir, "heap.pprof"); err != nil {
			logf("heap profile: %v", err)
		}
	}
	r.print(os.Stdout)
	return nil
}

// peakPhase runs closed-loop trials alternating a and b after a warm-up,
// recording requests/s and server CPU per request.
func (r *report) peakPhase(ctx context.Context, o options, a, b *server, src *hitSource, db *database) error {
	logf("warm-up %s each", o.warmup)
	for _, s := range []*server{a, b} {
		if t := s.load.closedLoop(ctx, src, o.warmup); t.OK == 0 {
			return fmt.Errorf("warm-up of (%s) got no answer: %v", s.label, t.FirstErr)
		}
	}
	before, err := scrape(a.proc.addr)
	if err != nil {
		return err
	}
	for i := 0; i < o.trials && ctx.Err() == nil; i++ {
		for _, s := range []*server{a, b} {
			cpu0, ch0, self0 := cpuOf(s.proc.pid()), cpuOf(db.chPID), cpuOf(os.Getpid())
			var prof chan error
			if s == a && i == 0 && o.profileDir != "" {
				prof = make(chan error, 1)
				secs := max(1, int(o.trial.Seconds())-1)
				go func() {
					prof <- fetchProfile(ctx, a.proc.addr, fmt.Sprintf("profile?seconds=%d", secs), o.profileDir, "cpu-peak.pprof")
				}()
			}
			t := s.load.closedLoop(ctx, src, o.trial)
			if prof != nil {
				if err := <-prof; err != nil {
					logf("cpu profile: %v", err)
				}
			}
			tr := trial{throughput: t, cpu: cpuOf(s.proc.pid()) - cpu0, clientCPU: cpuOf(os.Getpid()) - self0}
			if s == a {
				tr.chCPU = cpuOf(db.chPID) - ch0
			}
			logf("trial %d (%s): %.0f req/s, %d failed, server CPU %.0f µs/req", i+1, s.label, t.rate(), t.Failed, tr.cpuPerReq()*1e6)
			if t.Failed > 0 {
				logf("  first error: %v", t.FirstErr)
			}
			if s == a {
				r.trialsA = append(r.trialsA, tr)
			} else {
				r.trialsB = append(r.trialsB, tr)
			}
		}
	}
	after, err := scrape(a.proc.addr)
	if err != nil {
		return err
	}
	r.peakStats = after.sub(before).stats(after)
	return ctx.Err()
}

// latencyPhase offers half of (a)'s median peak to a, then the same rate to b.
func (r *report) latencyPhase(ctx context.Context, o options, a, b *server, src *hitSource) {
	rate := median(r.trialsA) / 2
	if rate < 1 {
		return
	}
	for _, s := range []*server{a, b} {
		logf("open loop at %.0f req/s on (%s) for %s", rate, s.label, o.latencyDur)
		before, _ := scrape(a.proc.addr)
		var prof chan error
		if s == a && o.profileDir != "" {
			// An execution trace shows where slow requests wait: go tool
			// trace -pprof=sched|syscall|sync trace-latency.out.
			prof = make(chan error, 1)
			secs := max(1, int(o.latencyDur.Seconds())-1)
			go func() {
				prof <- fetchProfile(ctx, a.proc.addr, fmt.Sprintf("trace?seconds=%d", secs), o.profileDir, "trace-latency.out")
			}()
		}
		l := s.load.openLoop(ctx, src, rate, o.latencyDur)
		if prof != nil {
			if err := <-prof; err != nil {
				logf("trace: %v", err)
			}
		}
		if s == a {
			if after, err := scrape(a.proc.addr); err == nil && before != nil {
				r.latStats = after.sub(before).stats(after)
			}
		}
		logf("  p50 %s  p99 %s  max %s  (%d ok, %d failed, %d unsent)", ms(l.P50), ms(l.P99), ms(l.Max), l.OK, l.Fails, l.Unsent)
		if s == a {
			r.latA = l
		} else {
			r.latB = l
		}
	}
}

// countPhase sends exactly o.events hits to the bench site, then times how
// long after the last answer ClickHouse counts them all.
func (r *report) countPhase(ctx context.Context, o options, a *server, db *database) error {
	if err := waitDrained(ctx, a.proc.addr, 2*time.Minute); err != nil {
		logf("spool not drained before the count run: %v", err)
	}
	conn, err := openCounter(ctx, db.DSN)
	if err != nil {
		return err
	}
	defer conn.Close()
	before, err := scrape(a.proc.addr)
	if err != nil {
		return err
	}
	logf("count run: sending %d hits to (a)", o.events)
	limit := 20*time.Minute + time.Duration(o.events/1000)*time.Second
	src := newHitSource(benchKey)
	run := a.load.sendExactly(ctx, src, o.events, limit, func(n int64) { logf("  %d sent", n) })
	r.count = countResult{run: run}
	logf("  %d sent in %s (%.0f req/s), %d failed, %d retries", run.Sent, run.Elapsed.Round(time.Millisecond),
		float64(run.Sent)/run.Elapsed.Seconds(), run.Failed, run.Retries)
	if run.Sent == 0 {
		return errors.New("count run: no hit was answered")
	}
	wait := 60 * time.Second
	visible, n, err := waitCount(ctx, conn, benchSite, uint64(o.events), run.LastResponse, wait)
	r.count.visibleAfter, r.count.polled = visible, n
	if err != nil {
		logf("  not all visible: %v", err)
	} else {
		logf("  all %d queryable %s after the last answer", n, visible.Round(time.Millisecond))
	}
	logf("  verifying count and uniqExact(event_id)")
	r.count.verify, err = verifyCount(ctx, conn, benchSite)
	r.count.verify.Err = err
	if err != nil {
		logf("  %v", err)
	} else {
		logf("  %d / %d / %d raw rows (query %s)", r.count.verify.Count, r.count.verify.Unique, r.count.verify.RawRows, r.count.verify.Took.Round(time.Millisecond))
	}
	after, err := scrape(a.proc.addr)
	if err != nil {
		return err
	}
	r.count.stats = after.sub(before).stats(after)
	return nil
}

func median(ts []trial) float64 {
	rates := make([]float64, len(ts))
	for i, t := range ts {
		rates[i] = t.rate()
	}
	slices.Sort(rates)
	if len(rates) == 0 {
		return 0
	}
	if len(rates)%2 == 1 {
		return rates[len(rates)/2]
	}
	return (rates[len(rates)/2-1] + rates[len(rates)/2]) / 2
}

// waitDrained polls /metrics until the spool has nothing left to ship, so
// the count run does not start behind the trials' backlog.
func waitDrained(ctx context.Context, addr string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		m, err := scrape(addr)
		if err == nil && m["remarket_spool_bytes"] == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%.0f bytes still unshipped after %s (last error %v)", m["remarket_spool_bytes"], limit, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}
