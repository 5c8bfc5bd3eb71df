package main

import (
	"os"
	"runtime/debug"
)

// tuneGC halves how often serve collects garbage. The collector path makes
// short-lived garbage on every hit, and with Go's default GOGC=100 the
// collections show in bench-ingest's latency tail. Measured: GOGC=400
// gave p99 12 ms but 223 MB RSS; GOGC=300 under a 150 MiB soft limit made
// the collector run non-stop (p99 139 ms); GOGC=200 alone keeps RSS near
// 150 MB. GOGC and GOMEMLIMIT in the environment win.
func tuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(200)
	}
}
