package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/remarket/remarket/ingest"
	"github.com/remarket/remarket/internal/chdb"
	"github.com/remarket/remarket/internal/config"
	"github.com/remarket/remarket/internal/httplimit"
	rmsql "github.com/remarket/remarket/sql"
)

// runProfileServer is what -profile measures instead of the remarket
// binary: the ingest path wired as cmd/remarket's serve wires it (same
// engine, middleware, spool and shipper), plus net/http/pprof. It lives
// here so profiling never needs a change to cmd/ or ingest/.
func runProfileServer(configPath string) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	cfg, err := config.Load(configPath, true)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	db, err := chdb.Open(ctx, cfg.ClickHouse)
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := rmsql.Migrate(ctx, db); err != nil {
		return err
	}
	gin.SetMode(gin.ReleaseMode)
	engine := gin.New()
	engine.Use(gin.Recovery())
	ing, err := ingest.Open(ctx, ingest.Options{Config: cfg, DB: db, Logger: log})
	if err != nil {
		return err
	}
	ing.Register(engine)
	engine.GET("/readyz", func(c *gin.Context) { c.String(http.StatusOK, "ready\n") })
	engine.GET("/metrics", gin.WrapH(promhttp.Handler()))
	engine.GET("/debug/pprof/*name", gin.WrapF(pprofHandler))

	hc := cfg.HTTP // the limits serve applies (the connection cap aside)
	srv := &http.Server{Addr: cfg.Listen,
		Handler:           httplimit.Handler(engine, httplimit.Options{MaxBodyRequests: hc.MaxBodyRequests, WriteTimeout: hc.WriteTimeout, Logger: log}),
		ReadHeaderTimeout: hc.ReadHeaderTimeout, ReadTimeout: hc.ReadTimeout, IdleTimeout: hc.IdleTimeout}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	var serveErr error
	select {
	case serveErr = <-errc:
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	srv.Shutdown(sctx)
	if errors.Is(serveErr, http.ErrServerClosed) {
		serveErr = nil
	}
	return errors.Join(serveErr, ing.Close(sctx))
}

func pprofHandler(w http.ResponseWriter, r *http.Request) {
	switch name := filepath.Base(r.URL.Path); name {
	case "profile":
		pprof.Profile(w, r)
	case "trace":
		pprof.Trace(w, r)
	default:
		pprof.Handler(name).ServeHTTP(w, r)
	}
}

// fetchProfile saves /debug/pprof/<what> of addr into dir/file.
func fetchProfile(ctx context.Context, addr, what, dir, file string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/debug/pprof/"+what, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("pprof %s: status %d", what, resp.StatusCode)
	}
	f, err := os.Create(filepath.Join(dir, file))
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
