package main

import (
	"github.com/spf13/cobra"

	"github.com/remarket/remarket/internal/config"
)

func newInitCmd(a *app) *cobra.Command {
	var site string
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Write a starter config file with random secrets",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := config.WriteStarter(a.configPath, site); err != nil {
				return err
			}
			a.printf("wrote %s for site %q (secrets inside: keep it private)\n", a.configPath, site)
			return nil
		},
	}
	cmd.Flags().StringVar(&site, "site", "main", "site id")
	return cmd
}
