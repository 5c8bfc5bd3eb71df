package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/remarket/remarket/internal/catalog"
)

func newCatalogCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "catalog",
		Short: "Import product catalogs and inspect their versions",
	}
	cmd.AddCommand(newCatalogImportCmd(a), newCatalogVersionsCmd(a))
	return cmd
}

// shownErrors is how many row errors the import prints before a count.
const shownErrors = 20

func newCatalogImportCmd(a *app) *cobra.Command {
	var site, format string
	var keep int
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "import --site ID [--format csv|jsonl|xml] FILE",
		Short: "Replace a site's catalog with a CSV, JSON lines or Google Merchant XML file (- reads stdin)",
		Long: `Reads the whole file into a new catalog version and makes it current only
once every valid row is stored: readers see the old catalog until then, and
a failed import leaves it in place. Bad rows are reported with their line
number and skipped. The format is detected from the first byte unless
--format is given. Exits non-zero only when no row could be imported.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := catalog.ParseFormat(format)
			if err != nil {
				return err
			}
			if keep < 2 {
				// The store keeps at least two: an upsert may still be
				// copying the version before the newest.
				return fmt.Errorf("--keep %d: keep at least 2 catalog versions", keep)
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
			in, size, source, err := openInput(args[0])
			if err != nil {
				return err
			}
			defer in.Close()
			var r io.Reader = in
			bar := a.progressBar(size)
			if bar != nil {
				r = io.TeeReader(in, bar)
			}
			store := catalog.NewStore(db, a.log)
			store.Keep = keep
			start := time.Now()
			rep, err := store.Import(ctx, site, r, catalog.ImportOptions{Format: f, Source: source})
			if bar != nil {
				bar.Clear()
			}
			if asJSON {
				enc := json.NewEncoder(a.stdout)
				enc.SetIndent("", "  ")
				enc.Encode(rep)
			} else {
				a.printReport(rep, time.Since(start))
			}
			return err
		},
	}
	cmd.Flags().StringVar(&site, "site", "", "site id (required)")
	cmd.Flags().StringVar(&format, "format", "", "csv, jsonl or xml (default: detect from the content)")
	cmd.Flags().IntVar(&keep, "keep", 10, "catalog versions whose rows are kept (older ones stay in the history only)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	cmd.MarkFlagRequired("site")
	return cmd
}

// openInput opens FILE or stdin ("-"); size is -1 when unknown.
func openInput(name string) (io.ReadCloser, int64, string, error) {
	if name == "-" {
		return io.NopCloser(os.Stdin), -1, "stdin", nil
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, 0, "", fmt.Errorf("cannot open catalog file: %w", err)
	}
	size := int64(-1)
	if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
		size = st.Size()
	}
	return f, size, filepath.Base(name), nil
}

// progressBar returns a byte progress bar when stdout is a terminal.
func (a *app) progressBar(size int64) *progressbar.ProgressBar {
	out, ok := a.stdout.(*os.File)
	if !ok || !term.IsTerminal(int(out.Fd())) {
		return nil
	}
	return progressbar.NewOptions64(size,
		progressbar.OptionSetWriter(out),
		progressbar.OptionSetDescription("importing"),
		progressbar.OptionShowBytes(true),
		progressbar.OptionShowTotalBytes(true),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionFullWidth(),
		progressbar.OptionSpinnerType(14),
		progressbar.OptionClearOnFinish(),
	)
}

func (a *app) printReport(rep catalog.Report, took time.Duration) {
	if rep.Version != 0 {
		a.printf("imported %d %s into site %s (%s, version %d) in %s\n",
			rep.Imported, plural(rep.Imported, "product"), rep.Site, rep.Format, rep.Version, took.Round(time.Millisecond))
	} else {
		a.printf("imported nothing into site %s: the current catalog is unchanged\n", rep.Site)
	}
	for _, w := range rep.Warnings {
		a.printf("warning: %s\n", w)
	}
	if rep.Skipped == 0 {
		return
	}
	a.printf("skipped %d %s:\n", rep.Skipped, plural(rep.Skipped, "row"))
	for i, e := range rep.Errors {
		if i == shownErrors {
			break
		}
		a.printf("  %s\n", e)
	}
	if n := len(rep.Errors) - shownErrors; n > 0 {
		more := fmt.Sprint(n)
		if len(rep.Errors) == catalog.MaxReportedErrors {
			more += "+"
		}
		a.printf("  ... and %s more errors (--json lists up to %d)\n", more, catalog.MaxReportedErrors)
	}
}

func newCatalogVersionsCmd(a *app) *cobra.Command {
	var site string
	var limit int
	cmd := &cobra.Command{
		Use:   "versions --site ID",
		Short: "List a site's catalog versions, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := a.load(false); err != nil {
				return err
			}
			db, err := a.open(cmd.Context())
			if err != nil {
				return err
			}
			vs, err := catalog.NewStore(db, a.log).Versions(cmd.Context(), site, limit)
			if err != nil {
				return err
			}
			if len(vs) == 0 {
				return errors.New("no catalog version for site " + site)
			}
			a.printf("%-20s  %-19s  %8s  %8s  %-6s  %s\n", "VERSION", "CREATED (UTC)", "ROWS", "SKIPPED", "FORMAT", "SOURCE")
			for _, v := range vs {
				mark := ""
				if v.Current {
					mark = "  (current)"
				}
				a.printf("%-20d  %-19s  %8d  %8d  %-6s  %s%s\n", v.Version, v.CreatedAt.UTC().Format(time.DateTime), v.Rows, v.Skipped, v.Format, v.Source, mark)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&site, "site", "", "site id (required)")
	cmd.Flags().IntVar(&limit, "limit", 20, "how many versions to list")
	cmd.MarkFlagRequired("site")
	return cmd
}

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}
