package spool

import (
	"context"
	"testing"
)

// A record the size of a typical pixel hit's encoded event.
var benchRecord = make([]byte, 320)

// BenchmarkAppend is one client appending and waiting for its fsync
// each time: ns/op is the cost of one durable commit on this disk.
func BenchmarkAppend(b *testing.B) {
	s := openBenchSpool(b)
	b.SetBytes(int64(len(benchRecord)))
	for b.Loop() {
		if err := s.Append(context.Background(), benchRecord); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAppendParallel is many clients appending at once, as HTTP
// handlers do: appends that arrive during an fsync share the next one
// (group commit), so ns/op falls well below one fsync.
func BenchmarkAppendParallel(b *testing.B) {
	s := openBenchSpool(b)
	b.SetBytes(int64(len(benchRecord)))
	b.SetParallelism(32) // × GOMAXPROCS clients
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := s.Append(context.Background(), benchRecord); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// openBenchSpool opens a spool on the test's temp dir (on the disk the
// benchmark is about), with segments large enough that the run measures
// appends, not rotations.
func openBenchSpool(b *testing.B) *Spool {
	b.Helper()
	s, err := Open(Options{Dir: b.TempDir(), SegmentBytes: 64 << 20, MaxBytes: 1 << 40})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { shut(s) })
	return s
}
