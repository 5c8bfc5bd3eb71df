package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/remarket/remarket/demo"
	"github.com/remarket/remarket/feeds"
	"github.com/remarket/remarket/ingest"
	"github.com/remarket/remarket/internal/catalog"
	"github.com/remarket/remarket/segment"
)

func newDemoCmd(a *app) *cobra.Command {
	var noServe bool
	var seed uint64
	var visitors int
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Build a demo shop (catalog, 60 days of visitors, audiences, feeds) and serve it",
		Long: `Writes the demo site (id demo, write key wk_demo) into the config file,
starts a private ClickHouse under ./data/clickhouse unless CLICKHOUSE_DSN is
set, imports the bundled catalog, sends 60 days of simulated visitors
through the real pixel and Segment API, runs the segments and serves the
dashboard, the demo shop and the feeds. Re-running it is safe: secrets
are kept and finished traffic is not sent twice.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if visitors <= 0 {
				return fmt.Errorf("--visitors %d: want at least 1 simulated shopper", visitors)
			}
			return a.demo(cmd.Context(), noServe, seed, visitors)
		},
	}
	cmd.Flags().BoolVar(&noServe, "no-serve", false, "build everything, then exit instead of serving")
	cmd.Flags().Uint64Var(&seed, "seed", 1, "simulation seed (same seed, same visitors)")
	cmd.Flags().IntVar(&visitors, "visitors", 1200, "simulated shoppers")
	return cmd
}

func (a *app) demo(ctx context.Context, noServe bool, seed uint64, visitors int) error {
	start := time.Now()
	changed, err := demo.EnsureConfig(a.configPath)
	if err != nil {
		return err
	}
	if err := a.load(true); err != nil {
		return err
	}
	if changed != "" {
		a.printf("config: %s\n", changed)
	}
	if os.Getenv("CLICKHOUSE_DSN") == "" {
		a.localClickHouse = true
	}
	site, _ := a.cfg.Site(demo.Site)
	db, err := a.open(ctx)
	if err != nil {
		return err
	}
	if _, _, err := a.migrate(ctx, db); err != nil {
		return err
	}
	rep, err := catalog.NewStore(db, a.log).Import(ctx, site.ID, bytes.NewReader(demo.CatalogCSV(time.Now())), catalog.ImportOptions{Format: catalog.CSV, Source: "demo catalog"})
	if err != nil {
		return fmt.Errorf("demo catalog: %w", err)
	}
	a.printf("catalog: %d products imported (version %d)\n", rep.Imported, rep.Version)

	// The server runs in this process; the simulator reaches it over HTTP
	// like any browser would. Its segment schedule waits until the traffic
	// is in, so the size history does not start with a run over nothing.
	scheduled := a.cfg
	a.cfg.Segments.Schedule = "off"
	sctx, stopServer := context.WithCancel(ctx)
	defer stopServer()
	addrc := make(chan string, 1)
	served := make(chan error, 1)
	go func() { served <- a.serve(sctx, func(addr string) { addrc <- addr }) }()
	var addr string
	select {
	case addr = <-addrc:
	case err := <-served:
		return fmt.Errorf("cannot start the server: %w (is %s in use? set listen in %s or REMARKET_LISTEN)", err, a.cfg.Listen, a.configPath)
	}
	base := "http://" + addr
	public := a.cfg.PublicURL
	if strings.HasSuffix(public, ":0") {
		public = base
	}

	if err := a.demoTraffic(ctx, base, seed, visitors); err != nil {
		stopServer()
		<-served
		return err
	}
	if err := a.demoCampaign(ctx, base, seed); err != nil {
		stopServer()
		<-served
		return fmt.Errorf("campaign: %w", err)
	}
	runStart := time.Now()
	if err := runDemoSegments(ctx, a, site.ID); err != nil {
		stopServer()
		<-served
		return fmt.Errorf("segment run: %w", err)
	}
	a.printf("segments: run in %s\n", time.Since(runStart).Round(time.Millisecond))
	if err := a.printDemo(ctx, public, time.Since(start)); err != nil {
		a.log.Warn("demo summary", "err", err)
	}
	if noServe {
		stopServer()
		err := <-served
		a.printf("demo built in %s; not serving (--no-serve)\n", time.Since(start).Round(time.Millisecond))
		return err
	}
	offers := feeds.NewAPI(scheduled, a.db, a.log)
	defer offers.Close()
	go segment.NewScheduler(scheduled, a.db, a.log).WithRedemptions(offers).Run(sctx)
	a.printf("serving until Ctrl-C\n")
	return <-served
}

// demoTraffic simulates the visitors unless a finished simulation exists;
// an unfinished one is sent again with the same anchor, so its events
// collapse with those that already arrived.
func (a *app) demoTraffic(ctx context.Context, base string, seed uint64, visitors int) error {
	prev, err := demo.LastRun(ctx, a.db, demo.Site)
	if err != nil {
		return err
	}
	if prev.Finished {
		a.printf("traffic: already simulated (%d events up to %s); keeping it\n", prev.Events, prev.Anchor.Format(time.DateTime))
		return nil
	}
	c, err := demo.LoadCatalog()
	if err != nil {
		return err
	}
	opts := demo.Options{PlanOptions: demo.PlanOptions{Seed: seed, Now: time.Now(), Visitors: visitors}, BaseURL: base, WriteKey: demo.WriteKey, Log: a.log}
	if prev.Found {
		opts.Now = prev.Anchor
	}
	opts.Now = opts.Now.UTC().Truncate(time.Second)
	if err := demo.Record(ctx, a.db, demo.Site, opts.PlanOptions, demo.Stats{}, "started"); err != nil {
		return err
	}
	st, err := demo.Simulate(ctx, c, opts)
	if err != nil {
		return err
	}
	stored, err := demo.WaitForEvents(ctx, a.db, demo.Site, st.Events-st.Rejected, 3*time.Minute)
	if err != nil {
		return err
	}
	a.printf("traffic: %d visitors (%d bots, %d opted out with GPC, %d identified) sent %d events in %s (%d pixel hits, %d API requests, %d rejected); %d stored\n",
		st.Visitors, st.Bots, st.OptedOut, st.Identified, st.Events, st.Duration.Round(time.Millisecond), st.PixelHits, st.APIRequests, st.Rejected, stored)
	return demo.Record(ctx, a.db, demo.Site, opts.PlanOptions, st, "done")
}

// printDemo tells the user where everything is, with the credentials.
func (a *app) printDemo(ctx context.Context, public string, took time.Duration) error {
	site, _ := a.cfg.Site(demo.Site)
	a.printf("\nremarket demo is ready (%s)\n\n", took.Round(time.Second))
	a.printf("  Dashboard   %s/ui/   sign in with site %q and admin token %s\n", public, site.ID, site.AdminToken)
	a.printf("  Demo shop   %s/demo/shop\n", public)
	a.printf("  Admin API   curl -H 'Authorization: Bearer %s' %s/api/sites/%s/audiences\n\n", site.AdminToken, public, site.ID)
	a.printf("  Snippet for every page of your shop:\n\n%s\n", indent(ingest.SnippetHTML(public, site.WriteKey), "    "))
	rows, err := a.db.Query(ctx, `SELECT audience, count() FROM v_audience_members WHERE site = ? GROUP BY audience ORDER BY audience`, site.ID)
	if err != nil {
		return err
	}
	defer rows.Close()
	a.printf("  Audiences and their Google feeds (also meta.csv and feed.json; or HTTP Basic with any user and the feed token as password):\n")
	for rows.Next() {
		var name string
		var n uint64
		if err := rows.Scan(&name, &n); err != nil {
			return err
		}
		a.printf("    %-22s %5d  %s/feeds/%s/%s/google.xml?token=%s\n", name, n, public, site.ID, name, url.QueryEscape(site.FeedToken))
	}
	if err := rows.Err(); err != nil {
		return err
	}
	a.printf("\n")
	if err := a.printOutcomes(ctx, site.ID); err != nil {
		return err
	}
	a.printf("\n  Config: %s (holds the secrets; keep it private)\n", a.configPath)
	return nil
}

func indent(s, pre string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return pre + strings.Join(lines, "\n"+pre) + "\n"
}

// runDemoSegments runs the segments of site once, over all the traffic.
// serve's schedule starts a run as soon as the server is up, on whatever
// traffic had arrived; this one waits for it and then runs again.
func runDemoSegments(ctx context.Context, a *app, site string) error {
	engine := segment.New(a.cfg, a.db, a.log)
	offers := feeds.NewAPI(a.cfg, a.db, a.log)
	defer offers.Close()
	engine.SetRedemptions(offers)
	deadline := time.Now().Add(10 * time.Minute)
	for {
		_, err := engine.Run(ctx, site, segment.RunOptions{})
		if !errors.Is(err, segment.ErrBusy) || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}
