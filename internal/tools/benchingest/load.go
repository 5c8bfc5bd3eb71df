package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// browserUA makes hits look like a browser's (a Go user agent would be
// flagged as a bot, a path real traffic rarely takes).
const browserUA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"

// maxPerLoop bounds any loop by count as well as by time.
const maxPerLoop = 50_000_000

// loader sends pixel hits to one server over a pool of keep-alive
// connections.
type loader struct {
	base    string // http://127.0.0.1:port
	workers int
	client  *http.Client
}

func newLoader(addr string, workers int) *loader {
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 2 * time.Second}).DialContext,
		MaxIdleConns:        workers,
		MaxIdleConnsPerHost: workers,
		MaxConnsPerHost:     workers,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	return &loader{base: "http://" + addr, workers: workers,
		client: &http.Client{Transport: tr, Timeout: 10 * time.Second}}
}

func (l *loader) close() { l.client.CloseIdleConnections() }

// hit sends one request and drains the answer so the connection is reused.
func (l *loader) hit(ctx context.Context, path string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, l.base+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("User-Agent", browserUA)
	req.Header.Set("Accept", "image/avif,image/webp,image/*,*/*;q=0.8")
	resp, err := l.client.Do(req)
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("status %d", resp.StatusCode)
	}
	return err
}

// throughput is the result of a closed-loop run.
type throughput struct {
	OK, Failed int64
	Elapsed    time.Duration
	FirstErr   error
}

func (t throughput) rate() float64 { return float64(t.OK) / t.Elapsed.Seconds() }

// closedLoop keeps every worker busy for d: the peak the server (and the
// client sharing its cores) sustains.
func (l *loader) closedLoop(ctx context.Context, src *hitSource, d time.Duration) throughput {
	ctx, cancel := context.WithTimeout(ctx, d+15*time.Second) // a hung request cannot stall the run
	defer cancel()
	var ok, failed atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	start := time.Now()
	end := start.Add(d)
	for w := 0; w < l.workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
			for i := 0; i < maxPerLoop/l.workers && time.Now().Before(end) && ctx.Err() == nil; i++ {
				if err := l.hit(ctx, src.next(rng)); err != nil {
					failed.Add(1)
					once.Do(func() { firstErr = err })
					continue
				}
				ok.Add(1)
			}
		}()
	}
	wg.Wait()
	return throughput{OK: ok.Load(), Failed: failed.Load(), Elapsed: time.Since(start), FirstErr: firstErr}
}

// countRun is the result of sending an exact number of hits.
type countRun struct {
	Sent, Retries, Failed int64
	Elapsed               time.Duration
	LastResponse          time.Time
}

// sendExactly sends n distinct hits as fast as the workers go. A request
// that fails in transit is re-sent unchanged (same event id, so the server
// keeps it once) up to 3 times; limit bounds the whole run.
func (l *loader) sendExactly(ctx context.Context, src *hitSource, n int64, limit time.Duration, progress func(done int64)) countRun {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	var next, sent, retries, failed atomic.Int64
	var lastMu sync.Mutex
	var last time.Time
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < l.workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
			var mine time.Time
			for next.Add(1) <= n && ctx.Err() == nil {
				path := src.next(rng)
				var err error
				for attempt := 0; attempt < 4 && ctx.Err() == nil; attempt++ {
					if attempt > 0 {
						retries.Add(1)
					}
					if err = l.hit(ctx, path); err == nil {
						break
					}
				}
				mine = time.Now()
				if err != nil {
					failed.Add(1)
					continue
				}
				if s := sent.Add(1); progress != nil && s%100_000 == 0 {
					progress(s)
				}
			}
			lastMu.Lock()
			if mine.After(last) {
				last = mine
			}
			lastMu.Unlock()
		}()
	}
	wg.Wait()
	return countRun{Sent: sent.Load(), Retries: retries.Load(), Failed: failed.Load(), Elapsed: time.Since(start), LastResponse: last}
}

// latency is the result of an open-loop run.
type latency struct {
	Rate               float64 // offered requests/s
	Offered, OK, Fails int
	Unsent             int // still queued when the hard limit hit
	P50, P99, P999     time.Duration
	Max                time.Duration
	Elapsed            time.Duration
}

// openLoop offers rate requests/s for d, on a schedule that does not wait
// for answers. Latency runs from the scheduled send time, so a stalled
// server is charged for the requests queued behind it (no coordinated
// omission).
func (l *loader) openLoop(ctx context.Context, src *hitSource, rate float64, d time.Duration) latency {
	total := min(int(rate*d.Seconds()), maxPerLoop)
	ctx, cancel := context.WithTimeout(ctx, d+20*time.Second)
	defer cancel()
	sched := make(chan time.Time, total)
	lat := make([]time.Duration, 0, total)
	var mu sync.Mutex
	var fails atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < l.workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
			mine := make([]time.Duration, 0, total/l.workers+16)
			for at := range sched {
				if ctx.Err() != nil {
					break
				}
				if err := l.hit(ctx, src.next(rng)); err != nil {
					fails.Add(1)
					continue
				}
				mine = append(mine, time.Since(at))
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}
	start := time.Now()
	at := func(i int) time.Time { return start.Add(time.Duration(float64(i) / rate * float64(time.Second))) }
	for i := 0; i < total && ctx.Err() == nil; {
		due := min(int(time.Since(start).Seconds()*rate)+1, total)
		for ; i < due; i++ {
			sched <- at(i)
		}
		if i < total {
			time.Sleep(time.Until(at(i)))
		}
	}
	close(sched)
	wg.Wait()
	res := latency{Rate: rate, Offered: total, OK: len(lat), Fails: int(fails.Load()), Elapsed: time.Since(start)}
	res.Unsent = total - res.OK - res.Fails
	slices.Sort(lat)
	res.P50, res.P99, res.P999 = quantile(lat, 0.50), quantile(lat, 0.99), quantile(lat, 0.999)
	if len(lat) > 0 {
		res.Max = lat[len(lat)-1]
	}
	return res
}

func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*q+0.999999) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}
