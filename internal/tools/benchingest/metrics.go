package main

import (
	"bufio"
	"cmp"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// metrics is a scrape of remarket's /metrics, each series summed over its
// labels: enough to explain where the full path spends its time (group
// commit size, fsync time, batch size) without a profiler.
type metrics map[string]float64

func scrape(addr string) (metrics, error) {
	client := http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get("http://" + addr + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("/metrics: status %d", resp.StatusCode)
	}
	m := metrics{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		name := line[:i]
		if j := strings.IndexByte(name, '{'); j >= 0 {
			if strings.HasSuffix(name[:j], "_bucket") {
				// Kept as name_bucket|le for the fsync quantile.
				_, le, _ := strings.Cut(name[j:], `le="`)
				le, _, _ = strings.Cut(le, `"`)
				name = name[:j] + "|" + le
			} else {
				name = name[:j]
			}
		}
		m[name] += v
	}
	return m, sc.Err()
}

// sub is the change of every counter from before to m.
func (m metrics) sub(before metrics) metrics {
	d := metrics{}
	for k, v := range m {
		d[k] = v - before[k]
	}
	return d
}

// pathStats summarises the spool and shipper over one phase.
type pathStats struct {
	Events, Fsyncs  float64
	FsyncMeanMS     float64
	FsyncP99MS      float64 // upper bound of the histogram bucket
	FsyncMaxMS      float64 // bucket of the slowest commit (0: above 1.6 s)
	Shipped         float64
	Batches         float64
	InsertMeanMS    float64
	ShipLatencyMS   float64
	Dropped         float64 // pixel hits answered but not stored
	FieldsDropped   float64 // fields the pixel parser refused
	ShipErrors      float64
	UnshippedBytes  float64
	HaveMeasurement bool
}

func (d metrics) stats(now metrics) pathStats {
	s := pathStats{
		Events:         d["remarket_spool_events_total"],
		Fsyncs:         d["remarket_spool_fsync_seconds_count"],
		Shipped:        d["remarket_shipped_events_total"],
		Batches:        d["remarket_ship_batch_seconds_count"],
		Dropped:        d["remarket_pixel_dropped_total"],
		FieldsDropped:  d["remarket_pixel_fields_dropped_total"],
		ShipErrors:     d["remarket_ship_errors_total"],
		UnshippedBytes: now["remarket_spool_bytes"],
	}
	s.HaveMeasurement = s.Events > 0
	if s.Fsyncs > 0 {
		s.FsyncMeanMS = d["remarket_spool_fsync_seconds_sum"] / s.Fsyncs * 1000
		s.FsyncP99MS = d.bucketQuantile("remarket_spool_fsync_seconds", 0.99) * 1000
		s.FsyncMaxMS = d.bucketQuantile("remarket_spool_fsync_seconds", 1) * 1000
	}
	if s.Batches > 0 {
		s.InsertMeanMS = d["remarket_ship_batch_seconds_sum"] / s.Batches * 1000
	}
	if n := d["remarket_ship_latency_seconds_count"]; n > 0 {
		s.ShipLatencyMS = d["remarket_ship_latency_seconds_sum"] / n * 1000
	}
	return s
}

func (s pathStats) groupSize() float64 {
	if s.Fsyncs == 0 {
		return 0
	}
	return s.Events / s.Fsyncs
}

func (s pathStats) batchRows() float64 {
	if s.Batches == 0 {
		return 0
	}
	return s.Shipped / s.Batches
}

// bucketQuantile is the upper bound of the histogram bucket that holds
// quantile q of the observations (+Inf as 0).
func (m metrics) bucketQuantile(name string, q float64) float64 {
	type bucket struct{ le, n float64 }
	var bs []bucket
	prefix := name + "_bucket|"
	for k, v := range m {
		if le, ok := strings.CutPrefix(k, prefix); ok {
			f, err := strconv.ParseFloat(le, 64)
			if err == nil && !math.IsInf(f, 1) {
				bs = append(bs, bucket{f, v})
			}
		}
	}
	slices.SortFunc(bs, func(a, b bucket) int { return cmp.Compare(a.le, b.le) })
	want := q * m[name+"_count"]
	for _, b := range bs {
		if b.n >= want {
			return b.le
		}
	}
	return 0
}
