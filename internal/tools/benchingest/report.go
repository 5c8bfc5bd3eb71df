package main

import (
	"fmt"
	"io"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"
)

// Targets of issue 2 ("Performance").
const (
	targetRatio     = 0.4
	targetP99       = 20 * time.Millisecond
	targetRSS       = 200 << 20
	targetQueryable = 10 * time.Second
)

type trial struct {
	throughput
	// CPU seconds during the trial of the server, of ClickHouse and of
	// this load generator (which shares the cores).
	cpu, chCPU, clientCPU float64
}

func (t trial) cpuPerReq() float64 {
	if t.OK == 0 {
		return 0
	}
	return t.cpu / float64(t.OK)
}

type countResult struct {
	run          countRun
	visibleAfter time.Duration
	polled       uint64
	verify       verification
	stats        pathStats
}

type report struct {
	opts     options
	started  time.Time
	profiled bool // (a) was the in-tool copy of serve, not the binary
	external bool // CLICKHOUSE_DSN

	trialsA, trialsB []trial
	peakStats        pathStats
	latStats         pathStats // (a)'s open-loop run
	latA, latB       latency
	count            countResult
	rssA, rssB       int64
}

func (r *report) print(w io.Writer) {
	o := r.opts
	pa, pb := median(r.trialsA), median(r.trialsB)
	ratio := 0.0
	if pb > 0 {
		ratio = pa / pb
	}
	fmt.Fprintf(w, "\nbench-ingest %s · %s · %d CPUs · %s/%s · %d connections · ClickHouse %s\n",
		r.started.Format("2006-01-02 15:04"), runtime.Version(), runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, o.workers, r.clickhouse())
	if r.profiled {
		fmt.Fprintln(w, "(a) is the in-tool copy of serve with pprof (-profile), not the remarket binary")
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight|tabwriter.Debug)
	row := func(cells ...string) { fmt.Fprintln(tw, strings.Join(cells, "\t")+"\t") }
	row("", "(a) remarket", "(b) bare gin", "a/b", "target")
	row(fmt.Sprintf("peak req/s (median of %d × %s)", len(r.trialsA), o.trial), num(pa), num(pb), fmt.Sprintf("%.2f", ratio), "a ≥ 0.40 × b")
	row("  trials", rates(r.trialsA), rates(r.trialsB), "", "")
	row("  server CPU per request", us(cpuPer(r.trialsA, serverCPU)), us(cpuPer(r.trialsB, serverCPU)), fmt.Sprintf("%.1f", safeDiv(cpuPer(r.trialsA, serverCPU), cpuPer(r.trialsB, serverCPU))), "")
	if r.trialsA != nil && r.trialsA[0].chCPU > 0 {
		row("  + ClickHouse CPU per request", us(cpuPer(r.trialsA, clickhouseCPU)), "", "", "")
	}
	row("  load generator CPU per request", us(cpuPer(r.trialsA, clientCPU)), us(cpuPer(r.trialsB, clientCPU)), "", "")
	row(fmt.Sprintf("latency at %s req/s (open loop, %s)", num(r.latA.Rate), o.latencyDur), "", "", "", "")
	row("  p50", ms(r.latA.P50), ms(r.latB.P50), "", "")
	row("  p99", ms(r.latA.P99), ms(r.latB.P99), "", "p99 ≤ 20 ms")
	row("  p99.9 / max", ms(r.latA.P999)+" / "+ms(r.latA.Max), ms(r.latB.P999)+" / "+ms(r.latB.Max), "", "")
	row("  answered / failed / unsent", fmt.Sprintf("%d/%d/%d", r.latA.OK, r.latA.Fails, r.latA.Unsent), fmt.Sprintf("%d/%d/%d", r.latB.OK, r.latB.Fails, r.latB.Unsent), "", "")
	row("RSS peak (VmHWM, whole run)", mb(r.rssA), mb(r.rssB), "", "a ≤ 200 MB")
	c := r.count
	row(fmt.Sprintf("count run: %s hits", num(float64(o.events))), fmt.Sprintf("%s in %s", num(float64(c.run.Sent)), c.run.Elapsed.Round(time.Millisecond)), "", "", "")
	row("  send rate", num(float64(c.run.Sent)/c.run.Elapsed.Seconds())+" req/s", "", "", "")
	row("  queryable after last answer", c.visibleAfter.Round(time.Millisecond).String(), "", "", "≤ 10 s")
	row("  v_events count / uniqExact / raw rows", fmt.Sprintf("%d / %d / %d", c.verify.Count, c.verify.Unique, c.verify.RawRows), "", "", fmt.Sprintf("= %d", o.events))
	row("  failed / retried / dropped by pixel", fmt.Sprintf("%d / %d / %.0f", c.run.Failed, c.run.Retries, c.stats.Dropped), "", "", "0")
	tw.Flush()

	fmt.Fprintln(w, "full path (from remarket's /metrics):")
	for _, p := range []struct {
		name string
		s    pathStats
	}{{"peak trials", r.peakStats}, {"latency runs", r.latStats}, {"count run", c.stats}} {
		s := p.s
		fmt.Fprintf(w, "  %-12s  %5.1f events per group commit (%.0f commits, write+fsync mean %.2f ms, p99 ≤ %.1f ms, max ≤ %.1f ms); shipper %.0f rows per insert (mean %.0f ms), ship latency mean %.0f ms; %.0f fields dropped, %.0f ship errors\n",
			p.name, s.groupSize(), s.Fsyncs, s.FsyncMeanMS, s.FsyncP99MS, s.FsyncMaxMS, s.batchRows(), s.InsertMeanMS, s.ShipLatencyMS, s.FieldsDropped, s.ShipErrors)
	}
	fmt.Fprintln(w, r.verdict(ratio))
}

// verdict is one line: every target, met or not.
func (r *report) verdict(ratio float64) string {
	c := r.count
	exact := c.verify.Err == nil && c.verify.Count == uint64(r.opts.events) && c.verify.Unique == uint64(r.opts.events) && c.stats.Dropped == 0
	checks := []struct {
		ok   bool
		text string
	}{
		{ratio >= targetRatio, fmt.Sprintf("throughput %.2f×b (≥ %.2f)", ratio, targetRatio)},
		{r.latA.OK > 0 && r.latA.Unsent == 0 && r.latA.P99 <= targetP99, fmt.Sprintf("p99 %s at half peak (≤ 20 ms)", ms(r.latA.P99))},
		{r.rssA > 0 && r.rssA <= targetRSS, fmt.Sprintf("RSS %s (≤ 200 MB)", mb(r.rssA))},
		{c.polled >= uint64(r.opts.events) && c.visibleAfter <= targetQueryable,
			fmt.Sprintf("%s events queryable in %s (≤ 10 s)", num(float64(r.opts.events)), c.visibleAfter.Round(10*time.Millisecond))},
		{exact, lostText(c.verify)},
	}
	pass := true
	parts := make([]string, len(checks))
	for i, ch := range checks {
		mark := "ok"
		if !ch.ok {
			mark, pass = "MISSED", false
		}
		parts[i] = ch.text + " " + mark
	}
	head := "PASS"
	if !pass {
		head = "FAIL"
	}
	return "verdict: " + head + " — " + strings.Join(parts, "; ")
}

func (r *report) clickhouse() string {
	if r.external {
		return "from CLICKHOUSE_DSN (fresh database)"
	}
	return "managed (chserver, same machine)"
}

// Which CPU time cpuPer sums.
const (
	serverCPU = iota
	clickhouseCPU
	clientCPU
)

func cpuPer(ts []trial, which int) float64 {
	var cpu float64
	var n int64
	for _, t := range ts {
		cpu += [...]float64{t.cpu, t.chCPU, t.clientCPU}[which]
		n += t.OK
	}
	return safeDiv(cpu, float64(n))
}

func safeDiv(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

func rates(ts []trial) string {
	s := make([]string, len(ts))
	for i, t := range ts {
		s[i] = num(t.rate())
	}
	return strings.Join(s, " ")
}

// num formats a count with thousands separators.
func num(f float64) string {
	s := fmt.Sprintf("%.0f", f)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 && s[i-1] != '-' {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/1e6) }
func us(sec float64) string     { return fmt.Sprintf("%.0f µs", sec*1e6) }
func mb(b int64) string         { return fmt.Sprintf("%.0f MB", float64(b)/(1<<20)) }

func lostText(v verification) string {
	if v.Err != nil {
		return "loss check failed: " + v.Err.Error()
	}
	return "none lost or doubled"
}
