package main

import (
	"bufio"
	"encoding/csv"
	"fmt"
	"hash/fnv"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
)

// click is one line of a session file: a product viewed in a session.
type click struct {
	session, item string
	time          float64 // Unix seconds
}

type clicks []click

// readClicks reads a tab-separated session file (SessionId, ItemId,
// Time) with a header row.
func readClicks(path string) (clicks, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("cannot open the session data: %w", err)
	}
	defer f.Close()
	var out clicks
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		fields := strings.Split(strings.TrimRight(sc.Text(), "\r"), "\t")
		if n == 1 || len(fields) == 1 && fields[0] == "" {
			continue
		}
		if len(fields) != 3 {
			return nil, fmt.Errorf("%s line %d: want SessionId, ItemId, Time", path, n)
		}
		t, err := strconv.ParseFloat(fields[2], 64)
		if err != nil {
			return nil, fmt.Errorf("%s line %d: time %q: %w", path, n, fields[2], err)
		}
		out = append(out, click{fields[0], fields[1], t})
	}
	return out, sc.Err()
}

func (cs clicks) sessions() int {
	seen := map[string]bool{}
	for _, c := range cs {
		seen[c.session] = true
	}
	return len(seen)
}

// categories is how many categories the catalog's products are spread
// over: about 150 products each for this data's 2,900.
const categories = 20

// category and price are drawn from the product id, so every run (and
// every reader of BENCHMARKS.md) has the same catalog: a category out of
// 20, a price log-uniform between 5 and 500.
func category(id string) string {
	return fmt.Sprintf("Category %02d", hash("category:"+id)%categories)
}

func price(id string) float64 {
	u := float64(hash("price:"+id)%10000) / 10000
	return math.Round(5*math.Pow(100, u)*100) / 100
}

func hash(s string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	return h.Sum64()
}

// writeCatalog writes every product of both files as a catalog CSV.
func writeCatalog(path string, sets ...clicks) error {
	ids := map[string]bool{}
	for _, cs := range sets {
		for _, c := range cs {
			ids[c.item] = true
		}
	}
	sorted := make([]string, 0, len(ids))
	for id := range ids {
		sorted = append(sorted, id)
	}
	sort.Strings(sorted)
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := csv.NewWriter(f)
	w.Write([]string{"id", "title", "price", "currency", "availability", "category", "link", "image_link"})
	for _, id := range sorted {
		w.Write([]string{id, "Item " + id, strconv.FormatFloat(price(id), 'f', 2, 64), "EUR", "in_stock", category(id),
			"https://shop.example/p/" + id, "https://shop.example/img/" + id + ".jpg"})
	}
	w.Flush()
	if err := w.Error(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
