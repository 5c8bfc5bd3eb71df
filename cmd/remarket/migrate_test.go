package main

import (
	"bytes"
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/remarket/remarket/internal/chdb"
	"github.com/remarket/remarket/internal/chtest"
)

// A database migrated by a newer remarket has migrations this binary
// does not know: migrate must not call that "up to date", and serve
// must say so in its log (it still starts: instances are rolled one by
// one, and the old ones keep running beside the new schema meanwhile).
func TestMigrateAndServeSayTheSchemaIsNewer(t *testing.T) {
	e := newE2E(t)
	ctx := context.Background()
	var out bytes.Buffer
	if code := Main(ctx, []string{"migrate", "--config", e.cfgPath}, &out, &out); code != 0 {
		t.Fatalf("migrate exited %d:\n%s", code, out.String())
	}
	db, err := chdb.Open(ctx, e.dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.InsertRow(ctx, "INSERT INTO schema_migrations (version, name, applied_at)", uint32(999), "999_from_the_future.sql", time.Now().UTC()); err != nil {
		t.Fatal(err)
	}

	out.Reset()
	code := Main(ctx, []string{"migrate", "--config", e.cfgPath}, &out, &out)
	if code == 0 || strings.Contains(out.String(), "up to date") || !strings.Contains(out.String(), "999_from_the_future.sql") {
		t.Errorf("migrate of a newer schema exited %d, want non-zero and the unknown migration named:\n%s", code, out.String())
	}

	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var logs bytes.Buffer
	done := make(chan int, 1)
	go func() { done <- Main(sctx, []string{"serve", "--config", e.cfgPath}, &logs, &logs) }()
	deadline := time.Now().Add(60 * time.Second)
	for up := false; !up; {
		if resp, err := http.Get("http://" + e.addr + "/readyz"); err == nil {
			resp.Body.Close()
			if up = resp.StatusCode == http.StatusOK; up {
				continue
			}
		}
		if time.Now().After(deadline) {
			cancel()
			<-done
			t.Fatalf("serve did not come up:\n%s", logs.String())
		}
		select {
		case code := <-done:
			t.Fatalf("serve exited %d against a newer schema, want it to start:\n%s", code, logs.String())
		case <-time.After(100 * time.Millisecond):
		}
	}
	cancel()
	<-done
	if !strings.Contains(logs.String(), "999_from_the_future.sql") {
		t.Errorf("serve's log does not name the migration this version does not know:\n%s", logs.String())
	}
}

// serve with no site accepts no event: the pixel answers its GIF and
// drops every hit. A config path that does not exist (a typo, a volume
// not mounted) must stop it, naming the file, not start it on defaults.
func TestServeRefusesToStartWithoutSites(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "remarket.yml")
	t.Setenv("CLICKHOUSE_DSN", chtest.DSN(t))
	t.Setenv("REMARKET_LISTEN", freeAddr(t))
	t.Setenv("REMARKET_SPOOL_DIR", filepath.Join(dir, "spool"))
	for _, args := range [][]string{{"serve", "--config", missing}, {"serve", "--config", ""}} {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		var out bytes.Buffer
		code := Main(ctx, args, &out, &out)
		cancel()
		if code == 0 || !strings.Contains(out.String(), "no site") || !strings.Contains(out.String(), args[2]) {
			t.Errorf("%q exited %d, want non-zero naming the config file and the missing sites:\n%s", args, code, out.String())
		}
	}
}
