package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
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
			ran, unknown, err := a.migrate(cmd.Context(), db)
			for _, name := range ran {
				a.printf("applied %s\n", name)
			}
			if err != nil {
				return err
			}
			if len(unknown) > 0 {
				return fmt.Errorf("the database was migrated by a newer remarket: this version does not know %s (downgrades are not supported)", strings.Join(unknown, ", "))
			}
			if len(ran) == 0 {
				a.printf("schema up to date\n")
			}
			return nil
		},
	}
}
