package main

import (
	"strings"

	"github.com/spf13/cobra"

	"github.com/remarket/remarket/privacy"
)

func newRetentionCmd(a *app) *cobra.Command {
	var site string
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "retention",
		Short: "Drop months of events older than each site's retention_days",
		Long: `Drops whole months (partitions) of events. A month goes only when every
site with events in it has retention_days set and all its events of that
month are older than that; months are never cut in half.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := a.load(true); err != nil {
				return err
			}
			db, err := a.open(cmd.Context())
			if err != nil {
				return err
			}
			months, err := privacy.NewRetention(a.cfg, db, a.log).Run(cmd.Context(), site, dryRun)
			verb := "dropped"
			if dryRun {
				verb = "would drop"
			}
			for _, m := range months {
				sites := make([]string, 0, len(m.Newest))
				for s, t := range m.Newest {
					sites = append(sites, s+" (newest "+t+")")
				}
				if m.Dropped {
					a.printf("%s %d: %s\n", verb, m.Partition, strings.Join(sites, ", "))
				} else {
					a.printf("kept %d: %s\n", m.Partition, m.Reason)
				}
			}
			return err
		},
	}
	cmd.Flags().StringVar(&site, "site", "", "only consider months holding this site's events")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "report what would be dropped, drop nothing")
	return cmd
}
