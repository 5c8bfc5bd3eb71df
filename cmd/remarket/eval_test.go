package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/remarket/remarket/internal/chtest"
)

// remarket eval refuses flags it would otherwise replace or ignore: a
// list length K of 0 (--next-item used to run with 10 and print @10), a
// window or gap of 0 (used to become 24h and 30m), and --window or
// --gap without --next-item (used to be ignored). Each error names the
// flag; good flags still evaluate.
func TestEvalRefusesBadFlags(t *testing.T) {
	ctx := context.Background()
	dsn := chtest.DSN(t)
	cfgPath := filepath.Join(t.TempDir(), "remarket.yaml")
	cfg := fmt.Sprintf("clickhouse: %s\nsites:\n  - {id: e2e, write_key: wk, admin_token: admin-token-0123456789, feed_token: feed-token-0123456789}\n", dsn)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	remarket := func(args ...string) (int, string) {
		var out bytes.Buffer
		code := Main(ctx, append([]string{"--config", cfgPath, "eval", "--site", "e2e"}, args...), &out, &out)
		return code, out.String()
	}
	for _, tc := range []struct {
		args []string
		flag string
	}{
		{[]string{"--k", "0"}, "--k"},
		{[]string{"--k", "-3"}, "--k"},
		{[]string{"--next-item", "--k", "0"}, "--k"},
		{[]string{"--next-item", "--window", "0s"}, "--window"},
		{[]string{"--next-item", "--gap", "0s"}, "--gap"},
		{[]string{"--next-item", "--gap", "-1m"}, "--gap"},
		{[]string{"--window", "2h"}, "--window"},
		{[]string{"--gap", "10m"}, "--gap"},
	} {
		code, out := remarket(tc.args...)
		if code == 0 || !strings.Contains(out, tc.flag) {
			t.Errorf("eval %v: exit %d, want an error naming %s: %s", tc.args, code, tc.flag, out)
		}
	}
	for _, good := range [][]string{{"--k", "5"}, {"--next-item", "--k", "5", "--window", "2h", "--gap", "10m"}} {
		if code, out := remarket(good...); code != 0 || !strings.Contains(out, "@5") {
			t.Errorf("eval %v: exit %d: %s", good, code, out)
		}
	}
}
