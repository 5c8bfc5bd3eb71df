package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"

	"github.com/remarket/remarket/dashboard"
	"github.com/remarket/remarket/feeds"
	"github.com/remarket/remarket/ingest"
	"github.com/remarket/remarket/ingest/spool"
	"github.com/remarket/remarket/internal/catalog"
	"github.com/remarket/remarket/internal/chdb"
	"github.com/remarket/remarket/internal/httplimit"
	"github.com/remarket/remarket/internal/httpx"
	"github.com/remarket/remarket/privacy"
	"github.com/remarket/remarket/segment"
)

func newServeCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "serve",
		Short: "Run the collector, feeds, admin API and segment schedule",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := a.load(false); err != nil {
				return err
			}
			if len(a.cfg.Sites) == 0 {
				return a.noSites()
			}
			return a.serve(cmd.Context(), nil)
		},
	}
}

// noSites is why serve does not start without a site: it would accept
// no event (the pixel drops every hit behind its GIF), which a config
// path with a typo or a volume not mounted would otherwise cause quietly.
func (a *app) noSites() error {
	if _, err := os.Stat(a.configPath); err != nil {
		return fmt.Errorf("no site configured: cannot read config %q (%v); write one with remarket init --config FILE, or set REMARKET_SITES", a.configPath, err)
	}
	return fmt.Errorf("no site configured in %s: add one under sites (remarket init writes a starter), or set REMARKET_SITES", a.configPath)
}

// serve runs until ctx ends. ready, when not nil, receives the bound
// address once everything is served (ClickHouse answered and is migrated).
//
// The collectors need no ClickHouse: what they accept waits in the spool.
// So they are served from the start, and everything else once ClickHouse
// answers and is migrated; until then other requests answer 503 with
// Retry-After and /readyz says why. A restart while ClickHouse is down
// (a deploy during an outage, a machine rebooted before the database)
// then loses no pixel. A DSN that cannot work (a wrong password, an
// unknown cluster) or a failed migration still ends serve with the error.
//
// Shutdown order: stop HTTP and drain its requests (no new events) →
// close ingest (flush the spool, ship what is left) → stop the background
// jobs (the segment schedule, on-demand runs) and wait for them → close
// ClickHouse (Main, once serve has returned).
func (a *app) serve(ctx context.Context, ready func(addr string)) error {
	tuneGC()
	gin.SetMode(gin.ReleaseMode)
	var shipTo atomic.Pointer[chdb.DB]
	ing, err := ingest.Open(ctx, ingest.Options{Config: a.cfg, DBWhenUp: shipTo.Load, Logger: a.log})
	if err != nil {
		return err
	}
	var handler atomic.Pointer[http.Handler]
	starting := a.startingHandler(ing)
	handler.Store(&starting)

	ln, err := listen(a.cfg.Listen)
	if err != nil {
		ing.Close(context.Background())
		return err
	}
	reqCtx, cancelRequests := context.WithCancel(context.Background())
	defer cancelRequests()
	srv := a.httpServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		(*handler.Load()).ServeHTTP(w, r)
	}))
	srv.BaseContext = func(net.Listener) context.Context { return reqCtx }
	limited := a.limitListener(ln)
	srv.ConnState = limited.ConnState
	ln = limited
	a.log.Info("listening", "addr", ln.Addr().String(), "public_url", a.cfg.PublicURL)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()

	upCtx, cancelUp := context.WithCancel(ctx)
	defer cancelUp()
	upc := make(chan served, 1)
	go func() { upc <- a.serveAll(upCtx, ing, &shipTo) }()
	var up *served
	select {
	case err = <-errc:
	case <-ctx.Done():
	case s := <-upc:
		up, err = &s, s.err
		if err == nil {
			handler.Store(&s.handler)
			a.printBanner(ln.Addr().String())
			if ready != nil {
				ready(ln.Addr().String())
			}
			select {
			case err = <-errc:
			case <-ctx.Done():
			}
		}
	}
	a.log.Info("shutting down")
	cancelUp()
	if up == nil {
		s := <-upc // it returns at once once cancelled, or with what it started
		up = &s
	}
	a.stopHTTP(srv, cancelRequests)
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if cerr := ing.Close(sctx); cerr != nil {
		a.log.Error("ingest shutdown", "err", cerr)
		err = errors.Join(err, cerr)
	}
	up.stop()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// served is what serveAll started: everything beyond the collectors.
type served struct {
	handler http.Handler
	jobs    *jobs
	feeds   *feeds.API
	err     error
}

// stop stops the background jobs, then the feeds' cache.
func (s *served) stop() {
	if s.jobs != nil {
		s.jobs.stop()
	}
	if s.feeds != nil {
		s.feeds.Close()
	}
}

// serveAll waits for ClickHouse, migrates it, hands it to ingest (shipTo)
// and builds the handler of every capability, starting the jobs.
func (a *app) serveAll(ctx context.Context, ing *ingest.Service, shipTo *atomic.Pointer[chdb.DB]) served {
	db, err := a.openUntilUp(ctx)
	if err != nil {
		return served{err: err}
	}
	if _, _, err := a.migrate(ctx, db); err != nil {
		return served{err: err}
	}
	shipTo.Store(db)
	engine := gin.New()
	engine.Use(gin.Recovery())
	ing.Register(engine)

	// Capabilities register their routes and background jobs here.
	privacy.NewAPI(a.cfg, db, a.log).Register(engine)
	dashboard.New(a.cfg, db, a.log).Register(engine)
	catalog.NewAPI(a.cfg, db, a.log).Register(engine)
	feedAPI := feeds.NewAPI(a.cfg, db, a.log)
	feedAPI.Register(engine)
	jobs := a.startJobs(db, engine, feedAPI)

	engine.GET("/healthz", healthz)
	engine.GET("/readyz", func(c *gin.Context) {
		rctx, cancel := context.WithTimeout(c.Request.Context(), 2*time.Second)
		defer cancel()
		if reasons := a.notReady(rctx, db, ing); len(reasons) > 0 {
			c.String(http.StatusServiceUnavailable, "not ready: %s\n", strings.Join(reasons, "; "))
			return
		}
		c.String(http.StatusOK, "ready\n")
	})
	engine.GET("/metrics", gin.WrapH(promhttp.Handler()))
	return served{handler: engine, jobs: jobs, feeds: feedAPI}
}

// startingHandler serves while ClickHouse does not answer yet: the
// collectors, health and metrics; every other request is 503 with
// Retry-After (httpx.Fail of chdb.ErrNotConnected).
func (a *app) startingHandler(ing *ingest.Service) http.Handler {
	engine := gin.New()
	engine.Use(gin.Recovery())
	ing.Register(engine)
	engine.GET("/healthz", healthz)
	engine.GET("/readyz", func(c *gin.Context) {
		c.String(http.StatusServiceUnavailable, "not ready: %v; the collectors keep events in the spool\n", chdb.ErrNotConnected)
	})
	engine.GET("/metrics", gin.WrapH(promhttp.Handler()))
	engine.NoRoute(func(c *gin.Context) { httpx.Fail(c, chdb.ErrNotConnected) })
	return engine
}

// notReady says why serve cannot take traffic, if it cannot. /readyz needs
// no token, so it names the part that fails and the log has the error:
// ClickHouse's errors carry node addresses, the spool's its paths.
func (a *app) notReady(ctx context.Context, db *chdb.DB, ing *ingest.Service) []string {
	var reasons []string
	if err := db.Ping(ctx); err != nil {
		a.log.Warn("not ready: clickhouse does not answer", "err", err)
		reasons = append(reasons, "ClickHouse does not answer")
	}
	if err := ing.Ready(ctx); errors.Is(err, spool.ErrFull) {
		reasons = append(reasons, "the spool is full")
	} else if err != nil {
		a.log.Warn("not ready: the spool cannot take events", "err", err)
		reasons = append(reasons, "the spool cannot write")
	}
	return reasons
}

func healthz(c *gin.Context) { c.String(http.StatusOK, "ok\n") }

// openUntilUp opens ClickHouse for serve: while it does not answer, it
// keeps trying (the collectors spool meanwhile) until ctx ends.
func (a *app) openUntilUp(ctx context.Context) (*chdb.DB, error) {
	for {
		db, err := a.open(ctx)
		if err == nil || !unreachable(err) || ctx.Err() != nil {
			return db, err
		}
		a.log.Error("clickhouse does not answer; serving the collectors only, their events wait in the spool", "err", err)
	}
}

// drainTimeout bounds each step of stopping HTTP.
const drainTimeout = 10 * time.Second

// stopHTTP stops accepting and lets requests finish; requests still going
// after drainTimeout (a ?wait=1 segment run, an erasure, a long export)
// have their contexts cancelled and get another drainTimeout to return.
func (a *app) stopHTTP(srv *http.Server, cancelRequests context.CancelFunc) {
	ctx, cancel := context.WithTimeout(context.Background(), drainTimeout)
	defer cancel()
	if srv.Shutdown(ctx) == nil {
		return
	}
	a.log.Warn("http: requests still running at shutdown; cancelling them")
	cancelRequests()
	ctx2, cancel2 := context.WithTimeout(context.Background(), drainTimeout)
	defer cancel2()
	if err := srv.Shutdown(ctx2); err != nil {
		a.log.Error("http: requests did not stop; closing their connections", "err", err)
		srv.Close()
	}
}

// jobs are serve's background work on ClickHouse: the segment schedule
// and the runs started through the API.
type jobs struct {
	cancel    context.CancelFunc
	scheduler chan struct{} // closed when the schedule's goroutine returns
	api       *segment.API
	log       *slog.Logger
	once      sync.Once
}

func (a *app) startJobs(db *chdb.DB, r gin.IRouter, redemptions segment.Redemptions) *jobs {
	ctx, cancel := context.WithCancel(context.Background())
	j := &jobs{cancel: cancel, scheduler: make(chan struct{}), log: a.log,
		api: segment.NewAPI(a.cfg, db, a.log).WithRunContext(ctx).WithRedemptions(redemptions)}
	j.api.Register(r)
	go func() {
		defer close(j.scheduler)
		segment.NewScheduler(a.cfg, db, a.log).WithRedemptions(redemptions).Run(ctx)
	}()
	return j
}

// stop cancels the jobs and waits for them to return, their clean-up
// included (a cancelled run records itself as failed and drops its work
// tables); after 30 seconds it gives up waiting, saying so.
func (j *jobs) stop() {
	j.once.Do(func() {
		j.cancel()
		done := make(chan struct{})
		go func() {
			<-j.scheduler
			j.api.Wait()
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			j.log.Error("segment runs did not stop within 30s; closing ClickHouse under them")
		}
	})
}

// httpServer serves h with the http section's timeouts and per-request
// limits (internal/httplimit).
func (a *app) httpServer(h http.Handler) *http.Server {
	hc := a.cfg.HTTP
	return &http.Server{
		Handler:           httplimit.Handler(h, httplimit.Options{MaxBodyRequests: hc.MaxBodyRequests, WriteTimeout: hc.WriteTimeout, Logger: a.log}),
		ReadHeaderTimeout: hc.ReadHeaderTimeout,
		ReadTimeout:       hc.ReadTimeout,
		IdleTimeout:       hc.IdleTimeout,
	}
}

// limitListener caps ln's open connections at http.max_connections,
// lowered to what the open-file limit allows.
func (a *app) limitListener(ln net.Listener) *httplimit.Limited {
	limit, note := httplimit.ConnectionLimit(a.cfg.HTTP.MaxConnections)
	if note != "" {
		a.log.Warn(note)
	}
	return httplimit.Listener(ln, limit, a.log)
}
