package catalog_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"testing"

	"github.com/remarket/remarket/internal/catalog"
	"github.com/remarket/remarket/internal/chtest"
)

// syntheticCSV is a believable catalog of n products (about 400 bytes a row).
func syntheticCSV(n int) []byte {
	var b bytes.Buffer
	b.WriteString("id,title,description,link,image_link,price,currency,availability,condition,brand,gtin,mpn,category,google_product_category,item_group_id,stock_quantity,launch_date,tags,margin,complements,upgrades\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "SKU-%07d,Product %d,\"A fine product, number %d, with a description of moderate length\",https://shop.example.com/p/%d,https://shop.example.com/img/%d.jpg,%d.%02d,EUR,in_stock,new,Brand%d,%013d,MPN-%d,Category %d > Sub %d,Cameras & Optics,GRP-%d,%d,2023-%02d-%02d,new|bestseller,0.2,SKU-%07d|SKU-%07d,SKU-%07d\n",
			i, i, i, i, i, 10+i%2000, i%100, i%50, i, i, i%200, i%7, i/3, i%100, 1+i%12, 1+i%28, (i+1)%n, (i+2)%n, (i+3)%n)
	}
	return b.Bytes()
}

// BenchmarkParseCSV measures decoding and validation alone.
func BenchmarkParseCSV(b *testing.B) {
	data := syntheticCSV(100000)
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	rows := 0
	for i := 0; i < b.N; i++ {
		dec, _, err := catalog.NewDecoder(bytes.NewReader(data), "")
		if err != nil {
			b.Fatal(err)
		}
		for {
			rec, err := dec.Next()
			if err == io.EOF {
				break
			}
			if _, errs := rec.Validate(); err != nil || rec.Err != nil || len(errs) > 0 {
				b.Fatalf("row %d: %v %v %v", rec.Item, err, rec.Err, errs)
			}
			rows++
		}
	}
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkImportCSV measures a whole import into ClickHouse: parse,
// validate, batch inserts, switch and prune.
func BenchmarkImportCSV(b *testing.B) {
	const n = 200000
	data := syntheticCSV(n)
	db := chtest.MustOpen(b)
	s := catalog.NewStore(db, nil)
	s.Keep = 2
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rep, err := s.Import(context.Background(), "bench", bytes.NewReader(data), catalog.ImportOptions{Source: "bench"})
		if err != nil || rep.Imported != n {
			b.Fatalf("import: %v (%d imported)", err, rep.Imported)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "rows/s")
}
