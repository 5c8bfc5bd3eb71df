package main

import (
	"errors"

	"github.com/spf13/cobra"

	"github.com/remarket/remarket/internal/chdb"
	rmsql "github.com/remarket/remarket/sql"
)

func newConvertCmd(a *app) *cobra.Command {
	var from string
	cmd := &cobra.Command{
		Use:   "convert --from DSN",
		Short: "Copy a single-node install's tables into the cluster (clickhouse_cluster)",
		Long: `Converts a single-node install: with clickhouse and clickhouse_cluster
naming the cluster (README, "Running at scale"), migrates the cluster and
the single node at --from, then copies every table of the single node into
the cluster, each in one INSERT ... SELECT FROM remote(...) run on a
cluster server: sharded tables through their Distributed tables, so every
row lands on its visitor's shard. The cluster's servers must reach the
single node at the DSN's first host. Tables the cluster already has rows in
are skipped, so after an error the command can be run again. Stop every
serve first.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if from == "" {
				return errors.New("--from: the single node's DSN (clickhouse://host:9000/remarket)")
			}
			if err := a.load(false); err != nil {
				return err
			}
			if a.cfg.ClickHouseCluster == "" {
				return errors.New("convert copies into a cluster: set clickhouse_cluster (and clickhouse to the cluster's servers)")
			}
			db, err := a.open(cmd.Context())
			if err != nil {
				return err
			}
			if _, _, err := a.migrate(cmd.Context(), db); err != nil {
				return err
			}
			a.printf("copying from %s into cluster %s\n", chdb.Redact(from), a.cfg.ClickHouseCluster)
			return rmsql.CopyFromNode(cmd.Context(), db, from, func(c rmsql.Copied) {
				if c.Skipped != "" {
					a.printf("skipped %s: %s\n", c.Table, c.Skipped)
					return
				}
				a.printf("copied %s: %d rows\n", c.Table, c.Rows)
			})
		},
	}
	cmd.Flags().StringVar(&from, "from", "", "the single node's DSN")
	return cmd
}
