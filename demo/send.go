package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Options configure Simulate.
type Options struct {
	PlanOptions
	BaseURL     string // the remarket server, e.g. http://127.0.0.1:8080
	WriteKey    string
	Client      *http.Client // default: 30s timeout
	Concurrency int          // parallel visitors in flight (default 16)
	Log         *slog.Logger
}

// Stats count what the simulator sent.
type Stats struct {
	Visitors    int            `json:"visitors"`
	Bots        int            `json:"bots"`
	OptedOut    int            `json:"opted_out"`
	Identified  int            `json:"identified"`
	Events      int            `json:"events"`
	PixelHits   int            `json:"pixel_hits"`
	APIRequests int            `json:"api_requests"`
	Rejected    int            `json:"rejected"` // events the server refused (4xx)
	ByPersona   map[string]int `json:"by_persona"`
	Duration    time.Duration  `json:"duration"`
}

// Simulate plans the population and sends every hit through the server's
// public endpoints, exactly as browsers and a shop's backend would: the
// pixel (GET /p.gif) for visitors without JavaScript, the Segment API
// (POST /v1/batch) for the snippet and for the shop's server. It never
// writes rows itself. Event ids derive from the seed and Now, so sending
// the same plan twice stores each event once.
func Simulate(ctx context.Context, c *Catalog, opts Options) (Stats, error) {
	opts.PlanOptions.defaults()
	return Send(ctx, Plan(c, opts.PlanOptions), opts)
}

// Send sends the visitors' hits as Simulate does. The event ids derive
// from the seed, Now and each visitor's id and hit number.
func Send(ctx context.Context, visitors []Visitor, opts Options) (Stats, error) {
	opts.PlanOptions.defaults()
	if opts.Client == nil {
		opts.Client = &http.Client{Timeout: 30 * time.Second}
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = 16
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	start := time.Now()
	st := Stats{ByPersona: map[string]int{}}
	for _, v := range visitors {
		st.Visitors++
		st.ByPersona[v.Persona]++
		st.Events += len(v.Hits)
		if v.Bot {
			st.Bots++
		}
		if v.GPC {
			st.OptedOut++
		}
		if v.UserID != "" {
			st.Identified++
		}
	}
	s := &sender{opts: opts, prefix: fmt.Sprintf("demo-%d-%d", opts.Seed, opts.Now.Unix())}
	work := make(chan *Visitor)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for i := 0; i < opts.Concurrency; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for v := range work {
				if err := s.visitor(ctx, v); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
						cancel()
					}
					mu.Unlock()
				}
			}
		}()
	}
feed:
	for i := range visitors {
		select {
		case work <- &visitors[i]:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	st.PixelHits = int(s.pixelHits.Load())
	st.APIRequests = int(s.apiRequests.Load())
	st.Rejected = int(s.rejected.Load())
	st.Duration = time.Since(start)
	if firstErr != nil {
		return st, firstErr
	}
	return st, ctx.Err()
}

type sender struct {
	opts                             Options
	prefix                           string
	pixelHits, apiRequests, rejected atomic.Int64
}

// maxBatch keeps one request far below the API's 500 KB limit.
const maxBatch = 100

func (s *sender) visitor(ctx context.Context, v *Visitor) error {
	var batch []map[string]any
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := s.postBatch(ctx, v, batch)
		batch = batch[:0]
		return err
	}
	for i, h := range v.Hits {
		id := fmt.Sprintf("%s-%s-%d", s.prefix, v.ID, i)
		if v.Pixel && !h.Server && h.Call != "identify" {
			if err := flush(); err != nil {
				return err
			}
			if err := s.pixel(ctx, v, h, id); err != nil {
				return err
			}
			continue
		}
		batch = append(batch, message(v, h, id))
		if len(batch) == maxBatch {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}

// message is h as a Segment call.
func message(v *Visitor, h Hit, id string) map[string]any {
	m := map[string]any{
		"type":        h.Call,
		"messageId":   id,
		"anonymousId": v.ID,
		"timestamp":   h.At.Format(time.RFC3339Nano),
		"context": map[string]any{
			"userAgent": v.UserAgent,
			"page":      map[string]any{"url": h.URL, "title": h.Title},
			"library":   map[string]any{"name": "remarket-demo", "version": "1"},
		},
	}
	if v.UserID != "" && (h.Server || h.Call == "identify") {
		m["userId"] = v.UserID
	}
	switch h.Call {
	case "track":
		m["event"] = h.Event
		m["properties"] = h.Props
	case "page":
		m["name"] = h.Title
		props := map[string]any{"url": h.URL, "title": h.Title}
		for k, v := range h.Props {
			props[k] = v
		}
		m["properties"] = props
	case "identify":
		m["traits"] = h.Traits
	}
	return m
}

func (s *sender) postBatch(ctx context.Context, v *Visitor, batch []map[string]any) error {
	body, err := json.Marshal(map[string]any{"batch": batch, "sentAt": time.Now().UTC().Format(time.RFC3339Nano)})
	if err != nil {
		return err
	}
	for attempt := 0; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.opts.BaseURL+"/v1/batch", bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.SetBasicAuth(s.opts.WriteKey, "")
		req.Header.Set("Content-Type", "application/json")
		s.browserHeaders(req, v)
		resp, err := s.opts.Client.Do(req)
		if err != nil {
			return fmt.Errorf("demo: cannot send events: %w", err)
		}
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		s.apiRequests.Add(1)
		switch {
		case resp.StatusCode == http.StatusOK:
			return nil
		case resp.StatusCode == http.StatusTooManyRequests && attempt < 20:
			wait, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
			select {
			case <-time.After(time.Duration(max(wait, 1)) * time.Second):
			case <-ctx.Done():
				return ctx.Err()
			}
		case resp.StatusCode == http.StatusUnauthorized:
			return fmt.Errorf("demo: the server refused write key %q: %s", s.opts.WriteKey, strings.TrimSpace(string(msg)))
		case resp.StatusCode >= 400 && resp.StatusCode < 500:
			s.rejected.Add(int64(len(batch)))
			s.opts.Log.Warn("demo batch rejected", "status", resp.StatusCode, "body", strings.TrimSpace(string(msg)))
			return nil
		default:
			return fmt.Errorf("demo: POST /v1/batch: %s: %s", resp.Status, strings.TrimSpace(string(msg)))
		}
	}
}

// pixel sends h as GET /p.gif, the way the noscript image does.
func (s *sender) pixel(ctx context.Context, v *Visitor, h Hit, id string) error {
	q := url.Values{}
	q.Set("k", s.opts.WriteKey)
	q.Set("vid", v.ID)
	q.Set("eid", id)
	q.Set("ts", strconv.FormatInt(h.At.UnixMilli(), 10))
	q.Set("st", strconv.FormatInt(time.Now().UnixMilli(), 10))
	q.Set("url", h.URL)
	q.Set("title", h.Title)
	if h.Call == "track" {
		q.Set("e", pixelEvent[h.Event])
		p := h.Props
		if id, ok := p["product_id"].(string); ok {
			q.Set("pid", id)
			q.Set("cat", fmt.Sprint(p["category"]))
			q.Set("price", strconv.FormatFloat(p["price"].(float64), 'f', 2, 64))
			q.Set("cur", fmt.Sprint(p["currency"]))
		}
		if qty, ok := p["quantity"].(int); ok {
			q.Set("qty", strconv.Itoa(qty))
		}
		if query, ok := p["query"].(string); ok {
			q.Set("q", query)
		}
		if _, ok := p["list_id"]; ok {
			q.Set("cat", fmt.Sprint(p["category"]))
		}
		if products, ok := p["products"].([]any); ok {
			var ids []string
			for _, it := range products {
				ids = append(ids, it.(map[string]any)["product_id"].(string))
			}
			q.Set("pid", strings.Join(ids, ","))
			q.Set("rev", strconv.FormatFloat(p["value"].(float64), 'f', 2, 64))
			q.Set("cur", fmt.Sprint(p["currency"]))
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.opts.BaseURL+"/p.gif?"+q.Encode(), nil)
	if err != nil {
		return err
	}
	s.browserHeaders(req, v)
	req.Header.Set("Referer", h.URL)
	resp, err := s.opts.Client.Do(req)
	if err != nil {
		return fmt.Errorf("demo: cannot send pixel: %w", err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	s.pixelHits.Add(1)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("demo: GET /p.gif: %s", resp.Status)
	}
	return nil
}

// pixelEvent maps the Segment names the journeys use to pixel e= values.
var pixelEvent = map[string]string{
	"Product Viewed":      "product_view",
	"Product List Viewed": "product_list_view",
	"Products Searched":   "search",
	"Product Added":       "add_to_cart",
	"Product Removed":     "remove_from_cart",
	"Checkout Started":    "checkout",
	"Order Completed":     "purchase",
}

func (s *sender) browserHeaders(req *http.Request, v *Visitor) {
	req.Header.Set("User-Agent", v.UserAgent)
	req.Header.Set("Origin", shop)
	if v.GPC {
		req.Header.Set("Sec-GPC", "1")
	}
}
