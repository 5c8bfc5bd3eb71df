package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/remarket/remarket/internal/chdb"
	"github.com/remarket/remarket/internal/chtest"
)

// remarket erase takes any stored id, "/" included, for a visitor or a
// user, and refuses unclear requests.
func TestEraseCommand(t *testing.T) {
	ctx := context.Background()
	dsn := chtest.DSN(t)
	db, err := chdb.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := time.Now().UTC().Truncate(time.Second)
	for _, e := range [][2]string{{"a/b", ""}, {"v-phone", "org/42"}, {"v-keep", ""}} {
		if err := db.InsertRow(ctx, "INSERT INTO events (site, event_id, event_time, received_at, type, visitor_id, user_id)", "e2e", uuid.New(), now, now, "page_view", e[0], e[1]); err != nil {
			t.Fatal(err)
		}
	}
	cfgPath := filepath.Join(t.TempDir(), "remarket.yaml")
	cfg := fmt.Sprintf("clickhouse: %s\nerasure_key: erasure-key-0123456789abcdef0123456789\nsites:\n  - {id: e2e, write_key: wk, admin_token: admin-token-0123456789, feed_token: feed-token-0123456789}\n", dsn)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	remarket := func(args ...string) (int, string) {
		var out bytes.Buffer
		code := Main(ctx, append([]string{"--config", cfgPath}, args...), &out, &out)
		return code, out.String()
	}
	for _, bad := range [][]string{
		{"erase", "--site", "e2e"},
		{"erase", "--site", "e2e", "--visitor", "a/b", "--user", "org/42"},
		{"erase", "--site", "nope", "--visitor", "a/b"},
	} {
		if code, out := remarket(bad...); code == 0 {
			t.Errorf("%v: exit 0: %s", bad, out)
		}
	}
	for _, tc := range []struct {
		args []string
		gone string
	}{
		{[]string{"erase", "--site", "e2e", "--visitor", "a/b"}, "visitor_id = 'a/b'"},
		{[]string{"erase", "--site", "e2e", "--user", "org/42"}, "user_id = 'org/42' OR visitor_id = 'v-phone'"},
	} {
		code, out := remarket(tc.args...)
		if code != 0 || !strings.Contains(out, ": done, ") {
			t.Fatalf("%v: exit %d: %s", tc.args, code, out)
		}
		var n uint64
		if err := db.QueryRow(ctx, "SELECT count() FROM events WHERE "+tc.gone).Scan(&n); err != nil || n != 0 {
			t.Fatalf("%v: %d events left (%v)", tc.args, n, err)
		}
	}
	var by string
	if err := db.QueryRow(ctx, "SELECT any(requested_by) FROM erasure_log").Scan(&by); err != nil || by != "cli" {
		t.Fatalf("erasure_log requested_by %q (%v), want cli", by, err)
	}
	var kept uint64
	db.QueryRow(ctx, "SELECT count() FROM events WHERE visitor_id = 'v-keep'").Scan(&kept)
	if kept != 1 {
		t.Fatal("the other visitor was erased too")
	}
}
