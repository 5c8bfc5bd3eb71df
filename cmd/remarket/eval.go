package main

import (
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/remarket/remarket/segment"
)

func newEvalCmd(a *app) *cobra.Command {
	var site, sessions string
	var k int
	var nextItem bool
	var window, gap time.Duration
	cmd := &cobra.Command{
		Use:   "eval",
		Short: "Offline quality: leave-last-out HitRate@K, NDCG@K, coverage vs most-popular; --next-item: related products on held-out sessions vs item-kNN and most-popular",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := a.load(true); err != nil {
				return err
			}
			if site == "" {
				return fmt.Errorf("--site is required")
			}
			if sessions != "" && !nextItem {
				return fmt.Errorf("--sessions goes with --next-item")
			}
			if err := evalFlagsValid(cmd, k, window, gap, nextItem); err != nil {
				return err
			}
			ctx := cmd.Context()
			db, err := a.openMigrated(ctx)
			if err != nil {
				return err
			}
			eng := segment.New(a.cfg, db, a.log)
			if nextItem {
				opt := segment.NextItemOptions{K: k, Window: window, Gap: gap}
				if sessions != "" {
					f, err := os.Open(sessions)
					if err != nil {
						return err
					}
					opt.Sessions, err = segment.ReadSessions(f)
					f.Close()
					if err != nil {
						return err
					}
				}
				res, err := eng.EvaluateNextItem(ctx, site, opt)
				if err != nil {
					return err
				}
				return printNextItem(a, res, sessions)
			}
			res, err := eng.Evaluate(ctx, site, k)
			if err != nil {
				return err
			}
			a.printf("site %s: %d visitors evaluated (last product interaction held out), %d in-stock products, %s\n\n",
				res.Site, res.Visitors, res.Products, res.Took.Round(1e6))
			w := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
			fmt.Fprintf(w, "\tHitRate@%d\tNDCG@%d\tcoverage\t\n", k, k)
			fmt.Fprintf(w, "remarket\t%.4f\t%.4f\t%.4f\t\n", res.Model.HitRate, res.Model.NDCG, res.Model.Coverage)
			fmt.Fprintf(w, "most-popular\t%.4f\t%.4f\t%.4f\t\n", res.Baseline.HitRate, res.Baseline.NDCG, res.Baseline.Coverage)
			return w.Flush()
		},
	}
	cmd.Flags().StringVar(&site, "site", "", "site id (required)")
	cmd.Flags().IntVar(&k, "k", 10, "list length K")
	cmd.Flags().BoolVar(&nextItem, "next-item", false, "replay held-out sessions: is each next viewed product among the first K related products of the one before?")
	cmd.Flags().DurationVar(&window, "window", 24*time.Hour, "with --next-item: hold out the sessions that end within this window before now")
	cmd.Flags().DurationVar(&gap, "gap", 30*time.Minute, "with --next-item: a pause longer than this starts a new session")
	cmd.Flags().StringVar(&sessions, "sessions", "", "with --next-item: replay these sessions (TSV: session, product, Unix time) against the current run instead")
	return cmd
}

// evalFlagsValid refuses what eval would otherwise replace or ignore:
// the library takes a zero K, window or gap for its default, and plain
// eval has no window or gap.
func evalFlagsValid(cmd *cobra.Command, k int, window, gap time.Duration, nextItem bool) error {
	if k <= 0 {
		return fmt.Errorf("--k must be positive, got %d", k)
	}
	for _, f := range []struct {
		name string
		d    time.Duration
	}{{"window", window}, {"gap", gap}} {
		switch {
		case !nextItem && cmd.Flags().Changed(f.name):
			return fmt.Errorf("--%s goes with --next-item", f.name)
		case f.d <= 0:
			return fmt.Errorf("--%s must be positive, got %s", f.name, f.d)
		}
	}
	return nil
}

// printNextItem prints a next-item evaluation as a table, each method's
// HitRate@K next to item-kNN's (the bar to beat).
func printNextItem(a *app, res segment.NextItemResult, sessions string) error {
	from := "held-out sessions (the model and baselines learned from the rest)"
	if sessions != "" {
		from = "sessions of " + sessions + " (against the current run)"
	}
	a.printf("site %s: %d %s, %d next items, %d of them allowed by the price rules; %s\n\n",
		res.Site, res.Sessions, from, res.Pairs, res.AllowedPairs, res.Took.Round(time.Millisecond))
	w := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	k := res.K
	fmt.Fprintf(w, "\tHitRate@%d\tMRR@%d\t× item-kNN\tallowed HitRate@%d\tallowed MRR@%d\t× item-kNN\t\n", k, k, k, k)
	for _, m := range []struct {
		name string
		m    segment.NextItemMethod
	}{{"remarket", res.Remarket}, {"item-kNN", res.ItemKNN}, {"most-popular", res.MostPopular}} {
		fmt.Fprintf(w, "%s\t%.4f\t%.4f\t%s\t%.4f\t%.4f\t%s\t\n", m.name, m.m.All.HitRate, m.m.All.MRR, times(m.m.All.HitRate, res.ItemKNN.All.HitRate),
			m.m.Allowed.HitRate, m.m.Allowed.MRR, times(m.m.Allowed.HitRate, res.ItemKNN.Allowed.HitRate))
	}
	if err := w.Flush(); err != nil {
		return err
	}
	a.printf("\ncoverage: %d of %d in-stock products with views have related products (%.1f%%); %d of %d in-stock products are among the first %d of some product (%.1f%%)\n",
		res.Covered, res.Viewed, 100*res.Coverage(), res.Listed, res.InStock, k, 100*res.ListCoverage())
	return nil
}

func times(x, base float64) string {
	if base == 0 {
		return "—"
	}
	return fmt.Sprintf("%.3f", x/base)
}
