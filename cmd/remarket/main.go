// Command remarket is the whole product in one binary: the collector, the
// segment engine, the feed server and their operating commands. This
// package only wires the capability packages together.
package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
)

func main() {
	ctx, stop := signalContext()
	defer stop()
	os.Exit(Main(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// Main runs the command line; end-to-end tests call it in-process.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	a := &app{stdout: stdout, stderr: stderr}
	root := &cobra.Command{
		Use:           "remarket",
		Short:         "Self-hosted re-marketing engine on ClickHouse",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVar(&a.configPath, "config", envOr("REMARKET_CONFIG", "./remarket.yaml"), "configuration file (env REMARKET_CONFIG)")
	root.PersistentFlags().BoolVar(&a.localClickHouse, "local-clickhouse", os.Getenv("REMARKET_LOCAL_CLICKHOUSE") == "1",
		"start (or reuse) a private clickhouse-server under ./data/clickhouse instead of connecting to the configured one (env REMARKET_LOCAL_CLICKHOUSE=1)")
	root.AddCommand(commands(a)...)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	a.close()
	if err != nil {
		fmt.Fprintln(stderr, "remarket:", err)
		return 1
	}
	return 0
}

// commands lists every sub-command.
func commands(a *app) []*cobra.Command {
	return []*cobra.Command{
		newInitCmd(a),
		newMigrateCmd(a),
		newConvertCmd(a),
		newCatalogCmd(a),
		newServeCmd(a),
		newDemoCmd(a),
		newRetentionCmd(a),
		newEraseCmd(a),
		newFeedCmd(a),
		newSegmentCmd(a),
		newEvalCmd(a),
	}
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
