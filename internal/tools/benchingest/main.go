// Command benchingest (make bench-ingest) measures the pixel endpoint on
// loopback, in one run:
//
//	(a) the full remarket path: a `remarket serve` child process built from
//	    this checkout, durable spool and shipping into a managed ClickHouse
//	    (or a fresh database on CLICKHOUSE_DSN);
//	(b) a bare gin handler that only answers the same GIF, also a child
//	    process (this tool re-executed with -bare-server).
//
// It reports peak requests/s (closed loop, trials alternating a/b, median),
// p50/p99 latency at half of (a)'s peak (open loop, same rate against b),
// (a)'s peak RSS, and a run of -events hits to (a) timed until ClickHouse
// counts every one of them, then checks none was lost or doubled. The
// machine is shared, so the verdict rests on medians and on ratios
// measured in the same run.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"
)

type options struct {
	trial      time.Duration // one closed-loop trial
	trials     int           // per server, alternating
	warmup     time.Duration
	latencyDur time.Duration // open-loop run per server
	events     int64         // the count run
	workers    int
	profileDir string
	keep       bool
}

func main() {
	var o options
	quick := flag.Bool("quick", false, "short run to try the tool: 1 trial of 3s, 4s latency runs, 100000 events")
	flag.DurationVar(&o.trial, "trial", 8*time.Second, "length of one closed-loop trial")
	flag.IntVar(&o.trials, "trials", 3, "closed-loop trials per server (alternating a/b; the median counts)")
	flag.DurationVar(&o.latencyDur, "latency", 10*time.Second, "length of each open-loop latency run")
	flag.Int64Var(&o.events, "events", 1_000_000, "hits of the count run (queryable-within-10s check)")
	flag.IntVar(&o.workers, "workers", 64, "concurrent keep-alive connections")
	flag.StringVar(&o.profileDir, "profile", "", "measure an in-tool copy of serve with pprof instead of the binary and write cpu/heap profiles to this dir")
	flag.BoolVar(&o.keep, "keep", false, "keep the temp dir (config, logs, spool)")
	bare := flag.String("bare-server", "", "internal: serve the bare gin GIF handler on this address")
	profServer := flag.String("profile-server", "", "internal: serve the ingest path with pprof from this config")
	flag.Parse()

	switch {
	case *bare != "":
		exitOn(runBare(*bare))
		return
	case *profServer != "":
		exitOn(runProfileServer(*profServer))
		return
	}
	if *quick {
		set := map[string]bool{}
		flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
		if !set["trial"] {
			o.trial = 3 * time.Second
		}
		if !set["trials"] {
			o.trials = 1
		}
		if !set["latency"] {
			o.latencyDur = 4 * time.Second
		}
		if !set["events"] {
			o.events = 100_000
		}
	}
	o.warmup = min(2*time.Second, o.trial)
	if o.trials < 1 || o.workers < 1 || o.events < 1 || o.trial <= 0 || o.latencyDur <= 0 {
		exitOn(fmt.Errorf("-trials, -workers, -events, -trial and -latency must be positive"))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	exitOn(run(ctx, o))
}

func exitOn(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench-ingest:", err)
		os.Exit(1)
	}
}

// progress lines go to stderr; the report goes to stdout.
func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s  "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}
