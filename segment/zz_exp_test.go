package segment_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/remarket/remarket/internal/chdb"
	"github.com/remarket/remarket/segment"
	rmsql "github.com/remarket/remarket/sql"
)

func TestZZExpGenerate(t *testing.T) {
	dsn := os.Getenv("EXP_DSN")
	if dsn == "" {
		t.Skip()
	}
	db, err := chdb.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := rmsql.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	benchCatalog(t, db, 200, 100)
	if err := db.Exec(ctx, benchEventsSQL,
		clickhouse.Named("n", 10_000_000), clickhouse.Named("visitors", 1_000_000), clickhouse.Named("categories", 200),
		clickhouse.Named("per_category", 100), clickhouse.Named("now", now.Unix())); err != nil {
		t.Fatal(err)
	}
}

func TestZZExpRun(t *testing.T) {
	dsn := os.Getenv("EXP_DSN")
	if dsn == "" {
		t.Skip()
	}
	db, err := chdb.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t, segment.Templates()...)
	cfg.Sites[0].ID = "bench"
	e := newEngine(t, db, cfg)
	res, err := e.Run(context.Background(), "bench", segment.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("run %s", res.Took)
	for _, s := range res.Steps {
		t.Logf("  %-40s %s", s.Name, s.Took.Round(time.Millisecond))
	}
}
