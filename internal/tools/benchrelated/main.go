// Command benchrelated (make bench-related) measures remarket's related
// products on real shopping sessions, the way a shop would meet them:
//
//  1. a catalog of the sessions' products, each with a category and a
//     price drawn from a hash of its id (the data has neither), is
//     imported with `remarket catalog import`;
//  2. train.tsv is sent as product views through `remarket serve`'s
//     Segment batch endpoint (POST /v1/batch), one visitor per session,
//     times shifted to end an hour ago, order and gaps kept;
//  3. `remarket segment run` computes the related products;
//  4. `remarket eval --next-item --sessions valid.tsv` replays the later
//     sessions: for each view followed by a view of another product, is
//     that product among the first K related products of the one before?
//     It reports HitRate@K and MRR@K next to a cosine item-kNN and a
//     most-popular list computed from the same events, overall and
//     among the next items the price rules allow, and catalog coverage.
//
// The ClickHouse is a private 18.16 server in a temp dir, or a fresh
// database on CLICKHOUSE_DSN (dropped at the end).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/remarket/remarket/internal/chserver"
)

type options struct {
	data string // directory with train.tsv and valid.tsv
	k    int
	keep bool
}

func main() {
	var o options
	flag.StringVar(&o.data, "data", "", "directory with train.tsv and valid.tsv (default ../shared/data/yoochoose-100k beside the checkout)")
	flag.IntVar(&o.k, "k", 10, "list length K")
	flag.BoolVar(&o.keep, "keep", false, "keep the temp dir (config, catalog, logs) and the database")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "bench-related:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) error {
	root, err := chserver.ModuleRoot()
	if err != nil {
		return err
	}
	if o.data == "" {
		o.data = filepath.Join(root, "..", "shared", "data", "yoochoose-100k")
	}
	train, err := readClicks(filepath.Join(o.data, "train.tsv"))
	if err != nil {
		return err
	}
	valid, err := readClicks(filepath.Join(o.data, "valid.tsv"))
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "benchrelated-")
	if err != nil {
		return err
	}
	if o.keep {
		logf("keeping %s", tmp)
	} else {
		defer os.RemoveAll(tmp)
	}
	bin := filepath.Join(tmp, "remarket")
	logf("building remarket")
	if err := buildRemarket(ctx, root, bin); err != nil {
		return err
	}
	db, err := openDatabase(ctx, filepath.Join(tmp, "clickhouse"))
	if err != nil {
		return err
	}
	if !o.keep {
		defer db.close()
	}
	s, err := newShop(tmp, bin, db.DSN)
	if err != nil {
		return err
	}

	catalogPath := filepath.Join(tmp, "catalog.csv")
	if err := writeCatalog(catalogPath, train, valid); err != nil {
		return err
	}
	if _, err := s.remarket(ctx, "catalog", "import", "--site", site, catalogPath); err != nil {
		return err
	}

	started := time.Now()
	sent, err := s.send(ctx, train)
	if err != nil {
		return err
	}
	logf("sent %d product views of %d sessions through POST /v1/batch in %s; all queryable", sent, train.sessions(), time.Since(started).Round(time.Millisecond))

	started = time.Now()
	out, err := s.remarket(ctx, "segment", "run", "--site", site)
	if err != nil {
		return err
	}
	took := time.Since(started)
	logf("remarket segment run: %s\n%s", took.Round(time.Millisecond), out)

	out, err = s.remarket(ctx, "eval", "--site", site, "--next-item", "--k", fmt.Sprint(o.k), "--sessions", filepath.Join(o.data, "valid.tsv"))
	if err != nil {
		return err
	}
	fmt.Printf("\nremarket eval --site %s --next-item --sessions valid.tsv (segment run %s):\n\n%s", site, took.Round(time.Millisecond), out)
	return nil
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}
