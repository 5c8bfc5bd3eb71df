package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/remarket/remarket/internal/chdb"
	"github.com/remarket/remarket/internal/chserver"
	"github.com/remarket/remarket/internal/config"
	rmsql "github.com/remarket/remarket/sql"
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
	for _, w := range cfg.Warnings() {
		a.log.Warn(w)
	}
	return nil
}

// open connects to ClickHouse, first starting the managed local server
// when --local-clickhouse asks for it.
func (a *app) open(ctx context.Context) (*chdb.DB, error) {
	if a.db != nil {
		return a.db, nil
	}
	dsn := a.cfg.ClickHouse
	if a.localClickHouse && a.cfg.ClickHouseCluster != "" {
		return nil, fmt.Errorf("--local-clickhouse starts one server, not cluster %q: unset clickhouse_cluster or give the cluster's DSN", a.cfg.ClickHouseCluster)
	}
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
	db, err := openWhenUp(ctx, a.log, dsn, a.cfg.ClickHouseCluster)
	if err != nil {
		return nil, err
	}
	a.db = db
	a.log.Info("connected to clickhouse", "dsn", chdb.Redact(dsn), "version", db.Version.String(), "cluster", a.cfg.ClickHouseCluster)
	return db, nil
}

// clickhouseStartupWait is how long a command waits for a ClickHouse that
// does not answer yet (started alongside remarket, or restarting).
const clickhouseStartupWait = time.Minute

// openWhenUp opens the DSN, retrying for up to clickhouseStartupWait
// while the server refuses or drops connections; any other error (a
// wrong password, an unknown cluster) fails at once.
func openWhenUp(ctx context.Context, log *slog.Logger, dsn, cluster string) (*chdb.DB, error) {
	deadline := time.Now().Add(clickhouseStartupWait)
	wait := 250 * time.Millisecond
	for {
		db, err := chdb.OpenCluster(ctx, dsn, cluster)
		if err == nil || !unreachable(err) || time.Now().Add(wait).After(deadline) {
			return db, err
		}
		log.Warn("clickhouse does not answer yet; retrying", "dsn", chdb.Redact(dsn), "in", wait, "err", err)
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(wait):
		}
		wait = min(2*wait, 5*time.Second)
	}
}

// unreachable reports whether err is a connection the server refused or
// dropped.
func unreachable(err error) bool {
	var op *net.OpError
	return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, io.EOF) || errors.As(err, &op)
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

// openMigrated opens ClickHouse and applies pending migrations: what every
// command that reads or writes remarket's tables needs first.
func (a *app) openMigrated(ctx context.Context) (*chdb.DB, error) {
	db, err := a.open(ctx)
	if err != nil {
		return nil, err
	}
	if _, _, err := a.migrate(ctx, db); err != nil {
		return nil, err
	}
	return db, nil
}

// migrate applies pending migrations and warns when the database was
// migrated by a newer remarket, naming the migrations this version does
// not know (unknown). That is no error here: while instances are rolled
// one by one the old ones run beside the new schema.
func (a *app) migrate(ctx context.Context, db *chdb.DB) (ran, unknown []string, err error) {
	if ran, err = rmsql.Migrate(ctx, db); err != nil {
		return ran, nil, err
	}
	if unknown, err = rmsql.Unknown(ctx, db); err != nil {
		return ran, nil, err
	}
	if len(unknown) > 0 {
		a.log.Warn("the database was migrated by a newer remarket: upgrade this instance (downgrades are not supported)",
			"unknown_migrations", strings.Join(unknown, ", "))
	}
	return ran, unknown, nil
}

// requireSite fails unless the config defines site id.
func (a *app) requireSite(id string) error {
	if _, ok := a.cfg.Site(id); !ok {
		return fmt.Errorf("site %q is not in the config %s", id, a.configPath)
	}
	return nil
}
