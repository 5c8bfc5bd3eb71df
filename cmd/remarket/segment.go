package main

import (
	"fmt"
	"sort"
	"time"

	"github.com/spf13/cobra"

	"github.com/remarket/remarket/feeds"
	"github.com/remarket/remarket/segment"
)

func newSegmentCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "segment",
		Short: "Compute interests, related products and audiences",
	}
	var site, audience string
	var full bool
	run := &cobra.Command{
		Use:   "run",
		Short: "Run segments now for one site (--site) or every site",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := a.load(true); err != nil {
				return err
			}
			ctx := cmd.Context()
			db, err := a.openMigrated(ctx)
			if err != nil {
				return err
			}
			var sites []string
			for _, s := range a.cfg.Sites {
				if site == "" || s.ID == site {
					sites = append(sites, s.ID)
				}
			}
			if len(sites) == 0 {
				return fmt.Errorf("no site %q in %s", site, a.configPath)
			}
			e := segment.New(a.cfg, db, a.log)
			offers := feeds.NewAPI(a.cfg, db, a.log)
			defer offers.Close()
			e.SetRedemptions(offers)
			for _, s := range sites {
				res, err := e.Run(ctx, s, segment.RunOptions{Audience: audience, Full: full})
				if err != nil {
					return fmt.Errorf("site %s: %w", s, err)
				}
				how := res.Mode
				if res.Reason != "" {
					how += " (" + res.Reason + ")"
				}
				a.printf("site %s: run %s in %s, %s, %d %s recomputed\n", s, res.RunID, res.Took.Round(time.Millisecond), how, res.Affected, plural(int(res.Affected), "visitor"))
				names := make([]string, 0, len(res.Sizes))
				for n := range res.Sizes {
					names = append(names, n)
				}
				sort.Strings(names)
				for _, n := range names {
					a.printf("  %-28s %8d members\n", n, res.Sizes[n])
				}
			}
			return nil
		},
	}
	run.Flags().StringVar(&site, "site", "", "site id (default: every site)")
	run.Flags().StringVar(&audience, "audience", "", "recompute only this audience (the others carry over)")
	run.Flags().BoolVar(&full, "full", false, "rebuild every visitor's state from all events instead of building on the previous run")
	cmd.AddCommand(run)
	return cmd
}
