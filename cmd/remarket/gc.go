package main

import (
	"os"
	"runtime/debug"
)

// tuneGC sets serve's garbage collector for the collector path, which
// makes short-lived garbage on every hit: with Go's default GOGC=100 the
// collections show in the latency tail (bench-ingest, quick runs: p99 at
// half peak 24.8 ms by default, 12 ms at GOGC=400 but 223 MB RSS). A
// higher GOGC with a soft memory limit keeps both in bounds. GOGC and
// GOMEMLIMIT in the environment win.
func tuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(300)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(150 << 20)
	}
}
