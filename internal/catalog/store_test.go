package catalog_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/remarket/remarket/internal/catalog"
	"github.com/remarket/remarket/internal/chdb"
	"github.com/remarket/remarket/internal/chtest"
)

func TestMain(m *testing.M) {
	// A fuzzing run re-executes this binary per worker: those only run the
	// parsers, so they skip starting a ClickHouse each.
	for _, arg := range os.Args {
		if strings.HasPrefix(arg, "-test.fuzz") {
			os.Exit(m.Run())
		}
	}
	chtest.Main(m)
}

// mustImport imports a fixture file and fails the test on any error.
func mustImport(t *testing.T, s *catalog.Store, site, path string) catalog.Report {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rep, err := s.Import(context.Background(), site, f, catalog.ImportOptions{Source: filepath.Base(path)})
	if err != nil {
		t.Fatalf("import %s: %v (report %+v)", path, err, rep)
	}
	return rep
}

func importString(t *testing.T, s *catalog.Store, site, body string) (catalog.Report, error) {
	t.Helper()
	return s.Import(context.Background(), site, strings.NewReader(body), catalog.ImportOptions{Source: "test"})
}

// currentProducts reads v_products for a site, ordered by id.
func currentProducts(t *testing.T, db *chdb.DB, site string) []catalog.Product {
	t.Helper()
	s := catalog.NewStore(db, nil)
	page, err := s.List(context.Background(), site, 1000, 0)
	if err != nil {
		t.Fatal(err)
	}
	return page.Products
}

func currentIDs(t *testing.T, db *chdb.DB, site string) []string {
	t.Helper()
	rows, err := db.Query(context.Background(), "SELECT product_id FROM v_products WHERE site = ? ORDER BY product_id", site)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	ids := []string{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	return ids
}

// recordSwitchAgain records version's switch once more at switch_seq seq,
// as a host whose clock is ahead, or one switching at the same moment as
// another, would.
func recordSwitchAgain(t *testing.T, db *chdb.DB, site string, version, seq uint64) {
	t.Helper()
	if err := db.Exec(context.Background(), `INSERT INTO catalog_versions (site, version, created_at, switch_seq, source, format, rows, skipped, whole, covers, written)
		SELECT site, version, created_at, ?, source, format, rows, skipped, whole, covers, written
		FROM catalog_versions WHERE site = ? AND version = ? LIMIT 1`, seq, site, version); err != nil {
		t.Fatal(err)
	}
}

// anHourAhead is the site's highest switch_seq plus an hour.
func anHourAhead(t *testing.T, db *chdb.DB, site string) uint64 {
	t.Helper()
	_, seq, err := catalog.CurrentSwitch(context.Background(), db, site)
	if err != nil {
		t.Fatal(err)
	}
	return seq + uint64(time.Hour)
}

func TestImportEachFormatRoundTrips(t *testing.T) {
	db := chtest.MustOpen(t)
	s := catalog.NewStore(db, nil)
	var want []catalog.Product
	for _, tc := range []struct{ file, format string }{
		{"cameras.csv", "csv"},
		{"cameras.jsonl", "jsonl"},
		{"cameras.xml", "xml"},
	} {
		t.Run(tc.format, func(t *testing.T) {
			site := "shop-" + tc.format
			rep := mustImport(t, s, site, filepath.Join("testdata", tc.file))
			if rep.Format != tc.format || rep.Imported != 10 || rep.Skipped != 0 || len(rep.Warnings) != 0 {
				t.Fatalf("report = %+v, want 10 %s rows imported, none skipped, no warnings", rep, tc.format)
			}
			got := currentProducts(t, db, site)
			if len(got) != 10 {
				t.Fatalf("v_products has %d rows for %s, want 10", len(got), site)
			}
			if want == nil {
				want = got
				checkCanon250D(t, got)
				return
			}
			for i := range got {
				if !reflect.DeepEqual(got[i], want[i]) {
					t.Errorf("%s: product %d =\n%+v\nwant (from csv)\n%+v", tc.format, i, got[i], want[i])
				}
			}
		})
	}
}

// checkCanon250D pins every field of one product against the fixture.
func checkCanon250D(t *testing.T, ps []catalog.Product) {
	t.Helper()
	for _, p := range ps {
		if p.ID != "CAN-250D" {
			continue
		}
		want := catalog.Product{
			ID: "CAN-250D", Title: "Canon EOS 250D body",
			Description: "24.1 MP APS-C DSLR, 4K video, vari-angle touchscreen",
			Link:        "https://shop.example.com/p/canon-eos-250d", ImageLink: "https://shop.example.com/img/canon-eos-250d.jpg",
			Price: 549, Currency: "EUR", Availability: "in_stock", Condition: "new", Brand: "Canon",
			GTIN: "4549292132465", MPN: "3454C001", Category: "Cameras > DSLR",
			GoogleProductCategory: "Cameras & Optics > Cameras > Digital Cameras",
			StockQuantity:         14, LaunchDate: time.Date(2019, 4, 10, 0, 0, 0, 0, time.UTC),
			Tags: []string{"bestseller"}, Margin: 0.18,
			Complements: []string{"CAN-EFS-1855", "SAN-64GB", "LOW-BAG-20"}, Upgrades: []string{"CAN-R50", "CAN-R6II"},
			AvailabilityDate: time.Unix(0, 0).UTC(),
		}
		if !reflect.DeepEqual(p, want) {
			t.Errorf("CAN-250D =\n%+v\nwant\n%+v", p, want)
		}
		return
	}
	t.Error("CAN-250D missing from v_products")
}

func TestReimportReplacesAtomically(t *testing.T) {
	db := chtest.MustOpen(t)
	s := catalog.NewStore(db, nil)
	first := mustImport(t, s, "shop", "testdata/cameras.csv")

	// The second catalog has two products; between its last row and the
	// switch, readers must still see the ten of the first.
	var during []string
	s.SetBeforeSwitch(func(ctx context.Context, site string, version uint64) error {
		during = currentIDs(t, db, site)
		return nil
	})
	rep, err := importString(t, s, "shop", "id,title,price,currency\nNEW-1,New one,10,EUR\nNEW-2,New two,20,EUR\n")
	if err != nil {
		t.Fatal(err)
	}
	if len(during) != 10 {
		t.Errorf("reader before the switch saw %d products %v, want the 10 of the previous version", len(during), during)
	}
	if got := currentIDs(t, db, "shop"); !reflect.DeepEqual(got, []string{"NEW-1", "NEW-2"}) {
		t.Errorf("after the switch v_products = %v, want [NEW-1 NEW-2]", got)
	}
	if rep.Version <= first.Version {
		t.Errorf("new version %d is not after %d", rep.Version, first.Version)
	}
	vs, err := s.Versions(context.Background(), "shop", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != 2 || vs[0].Version != rep.Version || !vs[0].Current || vs[1].Current || vs[1].Rows != 10 || vs[0].Source != "test" {
		t.Errorf("history = %+v, want the new version current above the old one", vs)
	}
}

func TestFailedImportLeavesPreviousCatalog(t *testing.T) {
	db := chtest.MustOpen(t)
	s := catalog.NewStore(db, nil)
	s.BatchRows = 3 // several batches reach ClickHouse before the failure
	mustImport(t, s, "shop", "testdata/cameras.csv")
	before := currentProducts(t, db, "shop")

	boom := errors.New("disk on fire")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for _, tc := range []struct {
		name string
		hook func(context.Context, string, uint64) error
		ctx  context.Context
		want error
	}{
		{"error before switch", func(context.Context, string, uint64) error { return boom }, context.Background(), boom},
		{"context cancelled", func(context.Context, string, uint64) error { cancel(); return context.Canceled }, ctx, context.Canceled},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s.SetBeforeSwitch(tc.hook)
			f, err := os.Open("testdata/cameras.jsonl")
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			_, err = s.Import(tc.ctx, "shop", f, catalog.ImportOptions{})
			if !errors.Is(err, tc.want) {
				t.Fatalf("import error = %v, want %v", err, tc.want)
			}
			if got := currentProducts(t, db, "shop"); !reflect.DeepEqual(got, before) {
				t.Errorf("after a failed import v_products changed: %d rows", len(got))
			}
			var rows uint64
			if err := db.QueryRow(context.Background(), "SELECT count() FROM catalog_products WHERE site = 'shop'").Scan(&rows); err != nil {
				t.Fatal(err)
			}
			if rows != 10 {
				t.Errorf("catalog_products holds %d rows, want only the 10 of the current version (the failed one dropped)", rows)
			}
		})
	}
}

func TestOldVersionsArePruned(t *testing.T) {
	db := chtest.MustOpen(t)
	s := catalog.NewStore(db, nil)
	s.Keep = 2
	var last catalog.Report
	for i := 0; i < 4; i++ {
		last = mustImport(t, s, "shop", "testdata/cameras.csv")
	}
	mustImport(t, s, "other", "testdata/cameras.csv")
	var versions uint64
	if err := db.QueryRow(context.Background(), "SELECT uniqExact(version) FROM catalog_products WHERE site = 'shop'").Scan(&versions); err != nil {
		t.Fatal(err)
	}
	if versions != 2 {
		t.Errorf("shop keeps rows of %d versions, want 2", versions)
	}
	hist, err := s.Versions(context.Background(), "shop", 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(hist) != 4 || hist[0].Version != last.Version {
		t.Errorf("history has %d versions (newest %v), want all 4 with %d first", len(hist), hist, last.Version)
	}
	if got := currentIDs(t, db, "other"); len(got) != 10 {
		t.Errorf("pruning shop touched other: %d products", len(got))
	}
}

func TestNothingValidKeepsCurrentCatalog(t *testing.T) {
	db := chtest.MustOpen(t)
	s := catalog.NewStore(db, nil)
	mustImport(t, s, "shop", "testdata/cameras.csv")
	rep, err := importString(t, s, "shop", "id,price,currency\n,10,EUR\nX,-1,EUR\n")
	if !errors.Is(err, catalog.ErrNothingImported) || rep.Skipped != 2 {
		t.Fatalf("err = %v, report %+v; want ErrNothingImported with 2 skipped", err, rep)
	}
	if got := currentIDs(t, db, "shop"); len(got) != 10 {
		t.Errorf("an import with no valid row replaced the catalog: %v", got)
	}
}

func TestImportAtomFeed(t *testing.T) {
	db := chtest.MustOpen(t)
	s := catalog.NewStore(db, nil)
	mustImport(t, s, "shop", "testdata/cameras-atom.xml")
	ps := currentProducts(t, db, "shop")
	if len(ps) != 2 {
		t.Fatalf("got %d products, want 2", len(ps))
	}
	r50, rf50 := ps[0], ps[1]
	if r50.ID != "CAN-R50" || r50.Link != "https://shop.example.com/p/canon-eos-r50" || r50.Category != "Cameras > Mirrorless" ||
		r50.Description != "24.2 MP APS-C mirrorless, 4K 30p, compact" || r50.Price != 729 || r50.Currency != "EUR" {
		t.Errorf("R50 = %+v: want g:id over <id>, the alternate link, the first product_type, summary as description", r50)
	}
	if rf50.ID != "CAN-RF-50" || rf50.Link != "https://shop.example.com/p/canon-rf-50" || !reflect.DeepEqual(rf50.Tags, []string{"overstock"}) || rf50.Condition != "refurbished" {
		t.Errorf("RF 50 = %+v: want its link and the custom label as tag", rf50)
	}
}

func TestUpsertRedoneWhenCatalogMoves(t *testing.T) {
	db := chtest.MustOpen(t)
	s := catalog.NewStore(db, nil)
	mustImport(t, s, "shop", "testdata/cameras.csv")

	// While the upsert is about to switch, another writer (a CLI import)
	// replaces the catalog: the upsert must be redone on top of it rather
	// than silently bring back the ten old products.
	other := catalog.NewStore(db, nil)
	moved := false
	s.SetBeforeSwitch(func(ctx context.Context, site string, version uint64) error {
		if !moved {
			moved = true
			if _, err := importString(t, other, "shop", "id,price,currency\nNEW-1,1,EUR\nNEW-2,2,EUR\n"); err != nil {
				return err
			}
		}
		return nil
	})
	rep, err := s.Upsert(context.Background(), "shop", []catalog.Product{{ID: "X", Price: 5, Currency: "EUR", Availability: "in_stock", Condition: "new"}}, "api")
	if err != nil {
		t.Fatal(err)
	}
	if got := currentIDs(t, db, "shop"); !reflect.DeepEqual(got, []string{"NEW-1", "NEW-2", "X"}) || rep.Kept != 2 {
		t.Errorf("after the racing upsert v_products = %v (kept %d), want [NEW-1 NEW-2 X] (kept 2)", got, rep.Kept)
	}
	var stored uint64
	if err := db.QueryRow(context.Background(), "SELECT count() FROM catalog_products WHERE site = 'shop'").Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if stored != 10+2+3 {
		t.Errorf("catalog_products holds %d rows, want 15 (the abandoned copy dropped)", stored)
	}
}

// failingReader gives n bytes of r, then an error: a dropped upload.
type failingReader struct {
	r   io.Reader
	n   int
	err error
}

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, f.err
	}
	if len(p) > f.n {
		p = p[:f.n]
	}
	n, err := f.r.Read(p)
	f.n -= n
	return n, err
}

func TestImportBrokenMidStreamLeavesPreviousCatalog(t *testing.T) {
	db := chtest.MustOpen(t)
	s := catalog.NewStore(db, nil)
	s.BatchRows = 2
	mustImport(t, s, "shop", "testdata/cameras.csv")
	data, err := os.ReadFile("testdata/cameras.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	lost := errors.New("connection reset")
	_, err = s.Import(context.Background(), "shop", &failingReader{r: bytes.NewReader(data), n: len(data) * 2 / 3, err: lost}, catalog.ImportOptions{})
	if !errors.Is(err, lost) {
		t.Fatalf("err = %v, want the read error", err)
	}
	var rows, versions uint64
	if err := db.QueryRow(context.Background(), "SELECT count(), uniqExact(version) FROM catalog_products WHERE site = 'shop'").Scan(&rows, &versions); err != nil {
		t.Fatal(err)
	}
	if got := currentIDs(t, db, "shop"); len(got) != 10 || rows != 10 || versions != 1 {
		t.Errorf("after a broken upload: %d current products, %d stored rows in %d versions; want 10, 10, 1", len(got), rows, versions)
	}
}

func TestUpsertRejectsDuplicateIDs(t *testing.T) {
	s := catalog.NewStore(chtest.MustOpen(t), nil)
	p := catalog.Product{ID: "A", Price: 1, Currency: "EUR"}
	for _, ps := range [][]catalog.Product{{p, p}, {{ID: ""}}} {
		if _, err := s.Upsert(context.Background(), "shop", ps, "test"); err == nil {
			t.Errorf("upsert of %+v succeeded, want an error", ps)
		}
	}
}

// The answer to the insert that makes a catalog version current can be
// lost after the server stored it (the connection breaks, or the server
// restarts, in between). Readers then read the new version, so its rows
// must stay: the import asks whether the version was recorded and, if it
// was, has succeeded; when it cannot even ask, it fails and keeps them.
func TestCatalogSwitchWhoseAnswerIsLostKeepsTheVersion(t *testing.T) {
	for _, questionFails := range []bool{false, true} {
		name := map[bool]string{false: "the import asks", true: "the question fails"}[questionFails]
		t.Run(name, func(t *testing.T) {
			dsn := chtest.DSN(t)
			db := chtest.Open(t, dsn)
			mustImport(t, catalog.NewStore(db, nil), "shop", "testdata/cameras.csv")
			thenFail := ""
			if questionFails {
				thenFail = "FROM catalog_versions WHERE site" // the import's question whether it was recorded
			}
			proxy, through := chtest.NewAnswerLosingProxy(t, dsn, "INSERT INTO catalog_versions", thenFail)
			lossy := chtest.Open(t, through)
			_, err := importString(t, catalog.NewStore(lossy, nil), "shop", "id,title,price,currency\nNEW-1,New one,10,EUR\nNEW-2,New two,20,EUR\n")
			select {
			case <-proxy.Lost():
			default:
				t.Fatalf("the proxy lost no answer; the import ended with %v", err)
			}
			switch {
			case questionFails && (err == nil || !strings.Contains(err.Error(), "cannot tell whether the catalog version was recorded")):
				t.Errorf("the import that could not ask whether its version was recorded ended with %v", err)
			case !questionFails && err != nil:
				t.Errorf("the import failed though its version was recorded: %v", err)
			}
			if got := currentIDs(t, db, "shop"); !reflect.DeepEqual(got, []string{"NEW-1", "NEW-2"}) {
				t.Errorf("v_products = %v after the switch landed, want [NEW-1 NEW-2]", got)
			}
		})
	}
}

// TestSwitchFollowsRecordedSwitchesWhateverTheClock: the current version
// is the one with the highest switch_seq, so a switch recorded by a host
// whose clock is ahead must not outrank a later switch from this one.
func TestSwitchFollowsRecordedSwitchesWhateverTheClock(t *testing.T) {
	db := chtest.MustOpen(t)
	ctx := context.Background()
	s := catalog.NewStore(db, nil)
	rep, err := importString(t, s, "shop", "id,price,currency\nA,1,EUR\nB,2,EUR\n")
	if err != nil {
		t.Fatal(err)
	}
	// The same switch as a host whose clock is an hour ahead records it.
	recordSwitchAgain(t, db, "shop", rep.Version, anHourAhead(t, db, "shop"))
	up, err := s.Upsert(ctx, "shop", []catalog.Product{{ID: "X", Price: 5, Currency: "EUR", Availability: "in_stock", Condition: "new"}}, "api")
	if err != nil {
		t.Fatal(err)
	}
	if cur, err := s.CurrentVersion(ctx, "shop"); err != nil || cur != up.Version {
		t.Errorf("current version %d (%v), want the upsert's %d", cur, err, up.Version)
	}
	if got := currentIDs(t, db, "shop"); !reflect.DeepEqual(got, []string{"A", "B", "X"}) {
		t.Errorf("v_products = %v, want [A B X]", got)
	}
}

// Two switches recorded with the same switch_seq (writers on hosts whose
// clocks are behind the recorded switches each take the highest plus
// one) make the higher version current, before and after
// catalog_versions merges: argMax over the tie kept the row it met
// first, and a merge, which sorts by version, changed that.
func TestTiedSwitchesMakeTheHigherVersionCurrent(t *testing.T) {
	db := chtest.MustOpen(t)
	ctx := context.Background()
	s := catalog.NewStore(db, nil)
	low, err := importString(t, s, "shop", "id,price,currency\nA,1,EUR\n")
	if err != nil {
		t.Fatal(err)
	}
	high, err := importString(t, s, "shop", "id,price,currency\nB,2,EUR\n")
	if err != nil {
		t.Fatal(err)
	}
	// The higher version's record lands first, as the reads of one part
	// after another meet it first; the merge puts the lower one first.
	tie := anHourAhead(t, db, "shop")
	for _, v := range []uint64{high.Version, low.Version} {
		recordSwitchAgain(t, db, "shop", v, tie)
	}
	for _, when := range []string{"before the merge", "after the merge"} {
		if cur, err := s.CurrentVersion(ctx, "shop"); err != nil || cur != high.Version {
			t.Errorf("%s: current version %d (%v), want the higher %d", when, cur, err, high.Version)
		}
		if got := currentIDs(t, db, "shop"); !reflect.DeepEqual(got, []string{"B"}) {
			t.Errorf("%s: v_products = %v, want [B]", when, got)
		}
		var current []uint64
		if err := db.QueryRow(ctx, "SELECT groupUniqArrayIf(version, is_current = 1) FROM v_catalog_versions WHERE site = ?", "shop").Scan(&current); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(current, []uint64{high.Version}) {
			t.Errorf("%s: v_catalog_versions marks %v current, want [%d]", when, current, high.Version)
		}
		if err := db.Exec(ctx, "OPTIMIZE TABLE catalog_versions FINAL"); err != nil {
			t.Fatal(err)
		}
	}
}

// TestSwitchThatIsNotCurrentIsAnError: a write whose recorded version is
// not current afterwards (here a recorded switch_seq no switch can pass)
// fails with ErrConflict naming both versions instead of succeeding.
func TestSwitchThatIsNotCurrentIsAnError(t *testing.T) {
	db := chtest.MustOpen(t)
	ctx := context.Background()
	s := catalog.NewStore(db, nil)
	rep, err := importString(t, s, "shop", "id,price,currency\nA,1,EUR\n")
	if err != nil {
		t.Fatal(err)
	}
	recordSwitchAgain(t, db, "shop", rep.Version, math.MaxUint64)
	_, err = s.Upsert(ctx, "shop", []catalog.Product{{ID: "X", Price: 5, Currency: "EUR", Availability: "in_stock", Condition: "new"}}, "api")
	if !errors.Is(err, catalog.ErrConflict) || !strings.Contains(err.Error(), fmt.Sprintf("version %d is current", rep.Version)) {
		t.Errorf("upsert err = %v, want ErrConflict saying version %d is current", err, rep.Version)
	}
}

// eofHook is a reader that calls atEOF once, when its data runs out.
type eofHook struct {
	r     io.Reader
	atEOF func()
	done  bool
}

func (e *eofHook) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err == io.EOF && !e.done {
		e.done = true
		e.atEOF()
	}
	return n, err
}

// TestImportSendsBigRowsInBoundedBatches: rows go to ClickHouse in
// batches of BatchRows (20000), held in memory until sent; with long
// descriptions (a CSV record may hold 4 MiB) a batch could take
// gigabytes. A batch is also sent once it holds 32 MiB, so by the end of
// a 42 MiB file most of its rows are in ClickHouse already.
func TestImportSendsBigRowsInBoundedBatches(t *testing.T) {
	db := chtest.MustOpen(t)
	s := catalog.NewStore(db, nil)
	var b strings.Builder
	b.WriteString("id,price,currency,description\n")
	desc := strings.Repeat("d", 3<<20)
	for i := 1; i <= 14; i++ {
		fmt.Fprintf(&b, "P%02d,1,EUR,%s\n", i, desc)
	}
	var sent uint64
	body := &eofHook{r: strings.NewReader(b.String()), atEOF: func() {
		if err := db.QueryRow(context.Background(), "SELECT count() FROM catalog_products WHERE site = 'big'").Scan(&sent); err != nil {
			t.Error(err)
		}
	}}
	rep, err := s.Import(context.Background(), "big", body, catalog.ImportOptions{})
	if err != nil || rep.Imported != 14 {
		t.Fatalf("import: %+v %v", rep, err)
	}
	if sent < 10 {
		t.Errorf("when the 42 MiB file was read to its end, %d rows were in ClickHouse; want at least 10 (batches of at most 32 MiB)", sent)
	}
	if ids := currentIDs(t, db, "big"); len(ids) != 14 {
		t.Errorf("v_products has %d products, want 14", len(ids))
	}
}
