package main

import (
	"errors"

	"github.com/spf13/cobra"

	"github.com/remarket/remarket/privacy"
)

func newEraseCmd(a *app) *cobra.Command {
	var site, visitor, user string
	cmd := &cobra.Command{
		Use:   "erase --site ID (--visitor V | --user U)",
		Short: "Erase one visitor, or one user and every visitor id seen with it",
		Long: `Deletes the person's rows from the events and every table derived from
them, waits for ClickHouse, and records the erasure in erasure_log (a
keyed hash of the id, requested_by "cli"). Any stored id works, "/"
included: pass it as it is, quoted for the shell.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if (visitor == "") == (user == "") {
				return errors.New("give exactly one of --visitor and --user")
			}
			if err := a.load(true); err != nil {
				return err
			}
			if err := a.requireSite(site); err != nil {
				return err
			}
			db, err := a.openMigrated(cmd.Context())
			if err != nil {
				return err
			}
			s := privacy.Subject{Site: site, Kind: "visitor", ID: visitor}
			if user != "" {
				s.Kind, s.ID = "user", user
			}
			res, err := privacy.NewEraser(a.cfg, db, a.log).Erase(cmd.Context(), s, "cli")
			if err != nil {
				return err
			}
			a.printf("erasure %s: %s, %d visitor ids, %d tables\n", res.ErasureID, res.Status, res.Visitors, len(res.Tables))
			if res.Status == "running" {
				a.printf("ClickHouse is still deleting: the rows are gone once system.mutations shows the erasure's mutations done\n")
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&site, "site", "", "site id (required)")
	cmd.Flags().StringVar(&visitor, "visitor", "", "the visitor (anonymous) id to erase")
	cmd.Flags().StringVar(&user, "user", "", "the user id to erase, with every visitor id seen with it")
	cmd.MarkFlagRequired("site")
	return cmd
}
