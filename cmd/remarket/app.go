package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/remarket/remarket/internal/chdb"
	"github.com/remarket/remarket/internal/chserver"
	"github.com/remarket/remarket/internal/config"
)

// app is what every sub-command shares: the loaded config, the logger and
// the ClickHouse it opened (and maybe started).
type app struct {
	configPath      string
	localClickHouse bool
	stdout, stderr  io.Writer

	cfg    config.Config
	log    *slog.Logger
	db     *chdb.DB
	server *chserver.Server // a managed server this process started
}

// load reads the config file; required says whether it must exist.
func (a *app) load(required bool) error {
	cfg, err := config.Load(a.configPath, required)
	if err != nil {
		return err
	}
	a.cfg = cfg
	level := slog.LevelInfo
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	a.log = slog.New(slog.NewJSONHandler(a.stderr, &slog.HandlerOptions{Level: level}))
	slog.SetDefault(a.log)
	return nil
}

// open connects to ClickHouse, first starting the managed local server
// when --local-clickhouse asks for it.
func (a *app) open(ctx context.Context) (*chdb.DB, error) {
	if a.db != nil {
		return a.db, nil
	}
	dsn := a.cfg.ClickHouse
	if a.localClickHouse {
		s, attached, err := chserver.StartOrAttach(ctx, "./data/clickhouse")
		if err != nil {
			return nil, err
		}
		if !attached {
			a.server = s
		}
		dsn = s.DSN(databaseOf(dsn))
		a.log.Info("using local clickhouse", "dir", s.Dir, "port", s.TCPPort, "started", !attached)
	}
	db, err := chdb.Open(ctx, dsn)
	if err != nil {
		return nil, err
	}
	a.db = db
	a.log.Info("connected to clickhouse", "dsn", chdb.Redact(dsn), "version", db.Version.String())
	return db, nil
}

func (a *app) close() {
	if a.db != nil {
		a.db.Close()
	}
	if a.server != nil {
		a.server.Stop()
	}
}

// databaseOf is the database path of a clickhouse:// DSN (default remarket).
func databaseOf(dsn string) string {
	_, rest, _ := strings.Cut(dsn, "://")
	rest, _, _ = strings.Cut(rest, "?")
	if _, db, ok := strings.Cut(rest, "/"); ok && db != "" {
		return db
	}
	return "remarket"
}

func (a *app) printf(format string, args ...any) {
	fmt.Fprintf(a.stdout, format, args...)
}
