package main

import (
	"github.com/spf13/cobra"

	rmsql "github.com/remarket/remarket/sql"
)

func newMigrateCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "migrate",
		Short: "Apply the embedded ClickHouse migrations (safe to re-run)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := a.load(false); err != nil {
				return err
			}
			db, err := a.open(cmd.Context())
			if err != nil {
				return err
			}
			ran, err := rmsql.Migrate(cmd.Context(), db)
			for _, name := range ran {
				a.printf("applied %s\n", name)
			}
			if err == nil && len(ran) == 0 {
				a.printf("schema up to date\n")
			}
			return err
		},
	}
}
