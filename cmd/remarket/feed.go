package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/remarket/remarket/feeds"
)

func newFeedCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "feed",
		Short: "Export per-audience ad feeds",
	}
	cmd.AddCommand(newFeedExportCmd(a))
	return cmd
}

func newFeedExportCmd(a *app) *cobra.Command {
	var site, audience, format, out string
	cmd := &cobra.Command{
		Use:   "export --site ID --audience NAME --format google|meta|json [-o FILE]",
		Short: "Write one audience's feed from the current segment run",
		Long: `Writes the same feed GET /feeds/{site}/{audience}/... serves. With -o the
feed goes to a temporary file next to FILE, renamed into place when
complete, so a reader never sees half a feed; without it, to stdout.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := feeds.ParseFormat(format)
			if err != nil {
				return err
			}
			if err := a.load(false); err != nil {
				return err
			}
			if err := a.requireSite(site); err != nil {
				return err
			}
			ctx := cmd.Context()
			db, err := a.openMigrated(ctx)
			if err != nil {
				return err
			}
			api := feeds.NewAPI(a.cfg, db, a.log)
			write := func(w io.Writer) (feeds.Stats, error) { return api.Export(ctx, w, site, audience, f) }
			var st feeds.Stats
			if out == "" || out == "-" {
				st, err = write(a.stdout)
			} else {
				st, err = writeAtomically(out, write)
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(a.stderr, "%d items, %d bytes; left out: %v\n", st.Items, st.Bytes, st.Skipped)
			return nil
		},
	}
	cmd.Flags().StringVar(&site, "site", "", "site id (required)")
	cmd.Flags().StringVar(&audience, "audience", "", "audience name (required)")
	cmd.Flags().StringVar(&format, "format", "google", "google (XML), meta (CSV) or json")
	cmd.Flags().StringVarP(&out, "output", "o", "", "output file (default stdout)")
	cmd.MarkFlagRequired("site")
	cmd.MarkFlagRequired("audience")
	return cmd
}

// writeAtomically writes to a temporary file in path's directory, syncs
// it and renames it over path.
func writeAtomically(path string, write func(io.Writer) (feeds.Stats, error)) (feeds.Stats, error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return feeds.Stats{}, fmt.Errorf("cannot create %s: %w", path, err)
	}
	st, err := write(tmp)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return st, fmt.Errorf("cannot write %s: %w", path, err)
	}
	return st, nil
}
