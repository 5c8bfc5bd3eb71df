package main

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/remarket/remarket/segment"
)

func newEvalCmd(a *app) *cobra.Command {
	var site string
	var k int
	cmd := &cobra.Command{
		Use:   "eval",
		Short: "Offline quality of recommendations: leave-last-out HitRate@K, NDCG@K, coverage vs most-popular",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := a.load(true); err != nil {
				return err
			}
			if site == "" {
				return fmt.Errorf("--site is required")
			}
			ctx := cmd.Context()
			db, err := a.openMigrated(ctx)
			if err != nil {
				return err
			}
			res, err := segment.New(a.cfg, db, a.log).Evaluate(ctx, site, k)
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
	return cmd
}
