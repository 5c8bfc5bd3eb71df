package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Flags whose values the command would otherwise replace or accept
// without meaning are refused at once, naming the flag, before anything
// is written or ClickHouse is waited for: --keep under 2 used to act as
// 2, and --visitors -5 wrote the demo's config file and sent no traffic.
func TestOutOfRangeFlagsAreRefused(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "remarket.yaml")
	csv := filepath.Join(dir, "catalog.csv")
	if err := os.WriteFile(csv, []byte("id,title,price\np1,One,10.00 EUR\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		flag string
	}{
		{[]string{"catalog", "import", "--site", "demo", "--keep", "1", csv}, "--keep 1"},
		{[]string{"catalog", "import", "--site", "demo", "--keep", "-1", csv}, "--keep -1"},
		{[]string{"demo", "--no-serve", "--visitors", "-5"}, "--visitors -5"},
		{[]string{"demo", "--no-serve", "--visitors", "0"}, "--visitors 0"},
	} {
		var out bytes.Buffer
		start := time.Now()
		code := Main(ctx, append([]string{"--config", cfg}, tc.args...), &out, &out)
		if code == 0 || !strings.Contains(out.String(), tc.flag) {
			t.Errorf("%v: exit %d, want an error naming %s: %s", tc.args, code, tc.flag, out.String())
		}
		if took := time.Since(start); took > 5*time.Second {
			t.Errorf("%v: took %s, want the flag refused before anything else", tc.args, took)
		}
		if _, err := os.Stat(cfg); !os.IsNotExist(err) {
			t.Fatalf("%v: the config file was written (%v)", tc.args, err)
		}
	}
}
