package feeds_test

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/remarket/remarket/feeds"
	"github.com/remarket/remarket/internal/config"
)

// benchRow is a realistic product of a 100,000-product catalog: a title
// of a few words, a ~600-character description with markup characters to
// escape, a link, an image and a price.
func benchRow(i int) feeds.Row {
	r := rand.New(rand.NewPCG(uint64(i), 7))
	strategies := []string{"upsell", "cross_sell"}
	motivations := []string{"", "new", "overstock", "bestseller"}
	return feeds.Row{
		ProductID:   fmt.Sprintf("SKU-%06d", i),
		AnchorID:    fmt.Sprintf("SKU-%06d", r.IntN(100000)),
		AnchorTitle: "Canon EOS 250D",
		Strategy:    strategies[i%2],
		Reason:      "Upgrade from Canon EOS 250D with the better sensor & faster autofocus",
		Motivation:  motivations[i%4],
		Rank:        uint32(i + 1),
		Title:       fmt.Sprintf("Mirrorless camera %d \"Pro\" kit & 18-55mm lens", i),
		Description: strings.Repeat(fmt.Sprintf("Model %d: 24MP sensor, 4K video <60fps> & weather sealing. ", i), 8),
		Link:        fmt.Sprintf("https://shop.example/products/camera-%d?variant=%d", i, r.IntN(9)),
		Image:       fmt.Sprintf("https://cdn.shop.example/images/%06d.jpg", i),
		Price:       float64(100+r.IntN(200000)) / 100,
		Currency:    "USD",
		Brand:       "Canon",
		GTIN:        fmt.Sprintf("%013d", i),
		Category:    "Cameras > Mirrorless",
	}
}

func benchSite() config.Site {
	cfg := testConfig(&testing.T{})
	s, _ := cfg.Site("shop")
	return s
}

// rowsOf yields n rows without holding them, sampling the live heap
// (after a collection, so garbage not yet collected does not count)
// every 5,000 rows.
func rowsOf(n int, peak *uint64) feeds.RowSource {
	return func(ctx context.Context, fn func(*feeds.Row) error) error {
		var ms runtime.MemStats
		for i := 0; i < n; i++ {
			r := benchRow(i)
			if err := fn(&r); err != nil {
				return err
			}
			if peak != nil && i%5000 == 4999 {
				runtime.GC()
				runtime.ReadMemStats(&ms)
				*peak = max(*peak, ms.HeapAlloc)
			}
		}
		return nil
	}
}

// cpuTime is the user and system CPU this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchWindows gives the first n bench products a 48h window from the
// run, as resolveWindows would for a new list.
func benchWindows(n int) map[string]feeds.Window {
	m := make(map[string]feeds.Window, n)
	for i := 0; i < n; i++ {
		m[fmt.Sprintf("SKU-%06d", i)] = feeds.Window{Start: runFinished, End: runFinished.Add(48 * time.Hour)}
	}
	return m
}

// sliceRows yields rows made beforehand.
func sliceRows(rows []feeds.Row) feeds.RowSource {
	return func(ctx context.Context, fn func(*feeds.Row) error) error {
		for i := range rows {
			if err := fn(&rows[i]); err != nil {
				return err
			}
		}
		return nil
	}
}

// BenchmarkGenerate is the feed code's throughput on 10,000 items: rows
// as the database would yield them, built into items and written.
func BenchmarkGenerate(b *testing.B) {
	site := benchSite()
	const n = 10000
	rows := make([]feeds.Row, n)
	for i := range rows {
		rows[i] = benchRow(i)
	}
	wins := benchWindows(n)
	for _, f := range []feeds.Format{feeds.Google, feeds.Meta, feeds.JSON} {
		b.Run(string(f), func(b *testing.B) {
			var bytes int64
			b.ReportAllocs()
			cpu0 := cpuTime()
			for b.Loop() {
				bld := &feeds.Builder{Site: site, Audience: "cart", Now: runFinished.Add(time.Hour), Windows: wins,
					Rules: site.Discounts, UTMSource: "google", UTMMedium: "remarketing", OfferParam: "rm_offer"}
				st, err := feeds.Generate(context.Background(), io.Discard, f, feeds.Header{Site: "shop"}, bld, sliceRows(rows), n)
				if err != nil || st.Items != n {
					b.Fatal(st, err)
				}
				bytes = st.Bytes
			}
			cpu := (cpuTime() - cpu0).Seconds()
			b.SetBytes(bytes)
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "items/s")
			// On a shared machine wall time includes waiting for a core;
			// per CPU-second of this process is what the code achieves.
			b.ReportMetric(float64(bytes)*float64(b.N)/1e6/cpu, "MB/cpu-s")
			b.ReportMetric(float64(n*b.N)/cpu, "items/cpu-s")
		})
	}
}

// BenchmarkGenerateMemory shows the live heap does not grow with the
// number of items written.
func BenchmarkGenerateMemory(b *testing.B) {
	site := benchSite()
	for _, n := range []int{5000, 10000, 100000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			var peak uint64
			// The resolved windows (one map entry per listed product, at
			// most twice the item cap) are the one part that grows with the
			// list; they are reported apart from the generation's heap.
			var ms runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&ms)
			before := ms.HeapAlloc
			wins := benchWindows(n)
			runtime.GC()
			runtime.ReadMemStats(&ms)
			winBytes := ms.HeapAlloc - min(ms.HeapAlloc, before)
			for b.Loop() {
				runtime.GC()
				bld := &feeds.Builder{Site: site, Audience: "cart", Now: runFinished.Add(time.Hour), Windows: wins,
					Rules: site.Discounts, UTMSource: "google", UTMMedium: "remarketing", OfferParam: "rm_offer"}
				if _, err := feeds.Generate(context.Background(), io.Discard, feeds.Google, feeds.Header{Site: "shop"}, bld, rowsOf(n, &peak), n); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(peak-min(peak, winBytes))/(1<<20), "peak-live-heap-MB")
			b.ReportMetric(float64(winBytes)/(1<<20), "windows-map-MB")
			runtime.KeepAlive(wins)
		})
	}
}

// BenchmarkServe loads a 100,000-product catalog and a 10,000-item
// audience into ClickHouse, then measures a cold generation per format
// (query + write + cache) and cached google.xml fetches by 32 concurrent
// clients over loopback HTTP.
func BenchmarkServe(b *testing.B) {
	s := newServer(b, testConfig(b))
	ctx := context.Background()
	const products, items = 100000, 10000
	batch, err := s.db.PrepareBatch(ctx, `INSERT INTO v_products (site, product_id, title, description, link, image_link, price,
		currency, availability, condition, brand, gtin, mpn, category, google_product_category, item_group_id,
		stock_quantity, launch_date, tags, margin, complements, upgrades, version)`)
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < products; i++ {
		r := benchRow(i)
		batch.Append("shop", r.ProductID, r.Title, r.Description, r.Link, r.Image, r.Price, r.Currency, "in_stock", "new",
			r.Brand, r.GTIN, "", r.Category, "", "", int64(3), runFinished, []string{}, 0.0, []string{}, []string{}, uint64(1))
	}
	if err := batch.Send(); err != nil {
		b.Fatal(err)
	}
	s.fx.run("shop", "r1", runFinished, "cart", items)
	list := make([]listed, items)
	for i := range list {
		r := benchRow(i * 7)
		list[i] = listed{Product: r.ProductID, Anchor: r.AnchorID, Strategy: r.Strategy, Reason: r.Reason, Motivation: r.Motivation, Rank: uint32(i + 1)}
	}
	s.fx.list("shop", "r1", "cart", list...)
	s.now = runFinished.Add(time.Hour)
	srv := httptest.NewServer(s.h)
	defer srv.Close()

	for _, file := range []string{"google.xml", "meta.csv", "feed.json"} {
		start := time.Now()
		resp, err := http.Get(srv.URL + "/feeds/shop/cart/" + file + "?token=" + feedToken)
		if err != nil {
			b.Fatal(err)
		}
		n, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		el := time.Since(start)
		if resp.StatusCode != 200 || resp.Header.Get("X-Feed-Items") != fmt.Sprint(items) {
			b.Fatalf("%s: %d, %s items", file, resp.StatusCode, resp.Header.Get("X-Feed-Items"))
		}
		b.Logf("cold %s from ClickHouse: %d items, %.1f MB in %v (%.1f MB/s, %.0f items/s)", file, items,
			float64(n)/1e6, el.Round(time.Millisecond), float64(n)/1e6/el.Seconds(), float64(items)/el.Seconds())
	}

	if resp, err := http.Get(srv.URL + "/feeds/shop/cart/google.xml?token=" + feedToken); err == nil {
		resp.Body.Close() // the transport asked for gzip itself and reports the compressed size
	}
	for _, run := range []struct {
		enc     string
		clients int
	}{{"gzip", 1}, {"gzip", 32}, {"identity", 32}} {
		enc := run.enc
		lat := fetchConcurrently(b, srv.URL+"/feeds/shop/cart/google.xml", enc, run.clients, 640/run.clients, 60*time.Second)
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		p := func(q float64) time.Duration { return lat[int(q*float64(len(lat)-1))] }
		b.Logf("cached google.xml (%s, %.1f MB a response), %d clients, %d fetches: p50 %v, p99 %v, max %v",
			enc, float64(lastSize.Load())/1e6, run.clients, len(lat), p(0.5), p(0.99), lat[len(lat)-1])
		name := fmt.Sprintf("%s-%dc", enc, run.clients)
		b.ReportMetric(float64(p(0.5).Microseconds())/1000, name+"-p50-ms")
		b.ReportMetric(float64(p(0.99).Microseconds())/1000, name+"-p99-ms")
	}
	for b.Loop() {
	}
}

var lastSize atomic.Int64

// drain reads r to the end through buf (a large buffer: the client side
// of the loopback test should cost as little as it can).
func drain(r io.Reader, buf []byte) (int64, error) {
	var n int64
	for {
		k, err := r.Read(buf)
		n += int64(k)
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

// fetchConcurrently runs clients goroutines doing each fetches, bounded
// by limit, and returns every latency (headers to last body byte).
func fetchConcurrently(b *testing.B, url, encoding string, clients, each int, limit time.Duration) []time.Duration {
	tr := &http.Transport{MaxIdleConnsPerHost: clients, DisableCompression: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	deadline := time.Now().Add(limit)
	var mu sync.Mutex
	var lat []time.Duration
	var wg sync.WaitGroup
	for c := 0; c < clients; c++ {
		wg.Go(func() {
			buf := make([]byte, 256<<10)
			for i := 0; i < each && time.Now().Before(deadline); i++ {
				req, _ := http.NewRequest(http.MethodGet, url, nil)
				req.SetBasicAuth("merchant", feedToken)
				req.Header.Set("Accept-Encoding", encoding)
				start := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					b.Error(err)
					return
				}
				n, _ := drain(resp.Body, buf)
				resp.Body.Close()
				lastSize.Store(n)
				el := time.Since(start)
				if resp.StatusCode != 200 {
					b.Errorf("status %d", resp.StatusCode)
					return
				}
				mu.Lock()
				lat = append(lat, el)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(lat) == 0 {
		b.Fatal("no fetch completed")
	}
	return lat
}
