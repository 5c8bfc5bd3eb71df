package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"syscall"
	"time"

	"github.com/remarket/remarket/internal/chdb"
	"github.com/remarket/remarket/internal/chserver"
)

const (
	site     = "bench"
	writeKey = "wk_bench"
	// userAgent is a browser's: an HTTP library's would mark every event a bot.
	userAgent = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36"
	// batchSize keeps a request far below the collect API's 500 KB limit.
	batchSize = 500
)

// shop is remarket set up for the benchmark: its binary and config.
type shop struct {
	dir, bin, config, dsn, listen string
}

func newShop(dir, bin, dsn string) (*shop, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	listen := l.Addr().String()
	l.Close()
	s := &shop{dir: dir, bin: bin, dsn: dsn, listen: listen, config: filepath.Join(dir, "remarket.yaml")}
	body := fmt.Sprintf(`# Written by bench-related for one run.
clickhouse: %q
listen: %q
spool_dir: %q
segments:
  schedule: "off"
sites:
  - id: %s
    write_key: %s
    admin_token: bench-admin-token-0123456789
    feed_token: bench-feed-token-0123456789
`, dsn, listen, filepath.Join(dir, "spool"), site, writeKey)
	return s, os.WriteFile(s.config, []byte(body), 0o600)
}

// env is the children's environment: CLICKHOUSE_DSN, which would
// override the config, names the benchmark's database.
func (s *shop) env() []string {
	return append(os.Environ(), "CLICKHOUSE_DSN="+s.dsn)
}

// remarket runs one sub-command and returns its output.
func (s *shop) remarket(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, s.bin, append([]string{"--config", s.config}, args...)...)
	cmd.Env = s.env()
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("remarket %v: %w\n%s", args, err, out.String())
	}
	return out.String(), nil
}

// send posts the clicks as Segment "Product Viewed" tracks through a
// `remarket serve` of its own, one visitor per session, shifted so the
// last one was an hour ago, then waits until ClickHouse has them all.
func (s *shop) send(ctx context.Context, cs clicks) (int, error) {
	logPath := filepath.Join(s.dir, "serve.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return 0, err
	}
	defer logFile.Close()
	cmd := exec.Command(s.bin, "--config", s.config, "serve")
	cmd.Env = s.env()
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		// A graceful stop flushes the spool.
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(60 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
	}()
	if err := waitReady(ctx, "http://"+s.listen+"/readyz", exited); err != nil {
		b, _ := os.ReadFile(logPath)
		return 0, fmt.Errorf("%w\n%s", err, b)
	}

	last := 0.0
	for _, c := range cs {
		last = max(last, c.time)
	}
	shift := float64(time.Now().Add(-time.Hour).Unix()) - last
	sorted := append(clicks(nil), cs...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].time < sorted[j].time })
	client := &http.Client{Timeout: 60 * time.Second}
	for start := 0; start < len(sorted); start += batchSize {
		batch := sorted[start:min(start+batchSize, len(sorted))]
		msgs := make([]map[string]any, len(batch))
		for i, c := range batch {
			sec, frac := math.Modf(c.time + shift)
			msgs[i] = map[string]any{
				"type": "track", "event": "Product Viewed",
				"anonymousId": "s" + c.session,
				"messageId":   "bench-related-" + strconv.Itoa(start+i),
				"timestamp":   time.Unix(int64(sec), int64(frac*1e9)).UTC().Format(time.RFC3339Nano),
				"properties":  map[string]any{"product_id": c.item},
				"context":     map[string]any{"userAgent": userAgent},
			}
		}
		if err := post(ctx, client, "http://"+s.listen+"/v1/batch", map[string]any{"batch": msgs, "sentAt": time.Now().UTC().Format(time.RFC3339Nano)}); err != nil {
			return start, err
		}
	}
	return len(sorted), s.waitStored(ctx, len(sorted))
}

func post(ctx context.Context, client *http.Client, u string, body any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.SetBasicAuth(writeKey, "")
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("POST /v1/batch answered %d: %s", resp.StatusCode, msg)
	}
	return nil
}

func waitReady(ctx context.Context, u string, exited <-chan error) error {
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			return fmt.Errorf("remarket serve exited during start-up: %v", err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
		if resp, err := http.Get(u); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
	}
	return errors.New("remarket serve did not become ready within 2 minutes")
}

// waitStored polls v_events until it counts n non-bot events of the site.
func (s *shop) waitStored(ctx context.Context, n int) error {
	db, err := chdb.Open(ctx, s.dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	deadline := time.Now().Add(5 * time.Minute)
	var got uint64
	for time.Now().Before(deadline) {
		if err := db.QueryRow(ctx, "SELECT count() FROM v_events WHERE site = ? AND is_bot = 0", site).Scan(&got); err != nil {
			return err
		}
		if got == uint64(n) {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
	return fmt.Errorf("ClickHouse holds %d of the %d events sent", got, n)
}

func buildRemarket(ctx context.Context, root, out string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "./cmd/remarket")
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./cmd/remarket: %w\n%s", err, b)
	}
	return nil
}

// database is a private ClickHouse in dir, or a fresh database on the
// server CLICKHOUSE_DSN names (dropped at the end).
type database struct {
	DSN     string
	name    string
	server  *chserver.Server
	private bool
}

func openDatabase(ctx context.Context, dir string) (*database, error) {
	if dsn := os.Getenv("CLICKHOUSE_DSN"); dsn != "" {
		u, err := url.Parse(dsn)
		if err != nil {
			return nil, fmt.Errorf("CLICKHOUSE_DSN: %w", err)
		}
		name := "remarket_bench_related_" + strconv.FormatInt(time.Now().Unix(), 10)
		u.Path = "/" + name
		return &database{DSN: u.String(), name: name, private: true}, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	s, err := chserver.Start(ctx, chserver.Options{Dir: dir})
	if err != nil {
		return nil, err
	}
	return &database{DSN: s.DSN("remarket"), server: s}, nil
}

func (d *database) close() {
	if d.server != nil {
		d.server.Close()
	}
	if d.private {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if db, err := chdb.Open(ctx, d.DSN); err == nil {
			// d.name is ours (remarket_bench_related_<unix time>), never user text.
			if err := db.Exec(ctx, "DROP DATABASE IF EXISTS "+d.name); err != nil {
				logf("cannot drop database %s: %v", d.name, err)
			}
			db.Close()
		}
	}
}
