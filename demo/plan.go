package demo

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"time"
)

// Visitor is one simulated person (or bot) and everything they will do.
type Visitor struct {
	ID        string // anonymous id, like an _rmid cookie
	UserID    string // set once they identify
	Email     string
	Persona   string
	UserAgent string
	GPC       bool // sends Sec-GPC: 1
	Bot       bool
	Pixel     bool // browses with the pixel (no JavaScript); orders still arrive from the shop's server
	Hits      []Hit
}

// Hit is one call a browser or the shop's server makes.
type Hit struct {
	At     time.Time
	Call   string // page, track or identify (Segment call types)
	Event  string // track event name, Segment e-commerce v2
	Props  map[string]any
	Traits map[string]any
	URL    string
	Title  string
	Server bool // sent by the shop's backend (orders, identify), never by the pixel
}

// PlanOptions shape the simulated population.
type PlanOptions struct {
	Seed     uint64
	Now      time.Time // every hit lies in (Now-Days, Now]
	Days     int       // default 60
	Visitors int       // humans, default 1200; bots and opt-outs come on top of/among them
	// HistoryDays reach further back for lapsed customers only, whose
	// last purchase must be older than the lapsed audience's 90 days
	// (default 150).
	HistoryDays int
}

func (o *PlanOptions) defaults() {
	if o.Days <= 0 {
		o.Days = 60
	}
	if o.Visitors <= 0 {
		o.Visitors = 1200
	}
	if o.HistoryDays < o.Days {
		o.HistoryDays = max(150, o.Days)
	}
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	o.Now = o.Now.UTC().Truncate(time.Second)
}

// persona is a kind of shopper with its share of the population.
type persona struct {
	name   string
	weight int
	run    func(p *planner, v *Visitor)
}

// personas are the journeys of the seed's examples: browsing and comparing
// (viewed-not-bought), leaving a cart, buying and coming back weeks later
// for accessories (cross-sell), buying long ago and not since (lapsed),
// returning again and again to one category (enthusiasts), and
// hairdressers buying salon sizes by the dozen (professional buyers).
var personas = []persona{
	{"browser", 30, (*planner).browser},
	{"comparer", 14, (*planner).comparer},
	{"cart_abandoner", 10, (*planner).abandoner},
	{"buyer", 22, (*planner).buyer},
	{"lapsed_customer", 7, (*planner).lapsed},
	{"enthusiast", 7, (*planner).enthusiast},
	{"hairdresser", 4, (*planner).hairdresser},
}

// Plan builds the whole simulated population. Every hit lies in the last
// Days days, except lapsed customers' purchases, up to HistoryDays back. The same seed, options and
// catalog give the same visitors with the same hits.
func Plan(c *Catalog, opts PlanOptions) []Visitor {
	opts.defaults()
	p := newPlanner(c, opts)
	total := 0
	for _, ps := range personas {
		total += ps.weight
	}
	var out []Visitor
	for i := 0; i < opts.Visitors; i++ {
		ps := personas[len(personas)-1]
		n := p.rng.IntN(total)
		for _, cand := range personas {
			if n < cand.weight {
				ps = cand
				break
			}
			n -= cand.weight
		}
		v := p.newVisitor(ps.name)
		ps.run(p, &v)
		if len(v.Hits) > 0 {
			out = append(out, v)
		}
	}
	for i := 0; i < opts.Visitors/30; i++ {
		v := p.newVisitor("bot")
		p.bot(&v)
		out = append(out, v)
	}
	for i := range out {
		sort.SliceStable(out[i].Hits, func(a, b int) bool { return out[i].Hits[a].At.Before(out[i].Hits[b].At) })
	}
	return out
}

type planner struct {
	c      *Catalog
	opts   PlanOptions
	rng    *rand.Rand
	orders int
	users  int
	// inStock by category leaf, sorted by price, for picking neighbours.
	byCategory map[string][]*Product
	primary    []weighted // categories a journey starts from
}

type weighted struct {
	category string
	weight   int
}

func newPlanner(c *Catalog, opts PlanOptions) *planner {
	p := &planner{c: c, opts: opts, rng: rand.New(rand.NewPCG(opts.Seed, opts.Seed^0x5eed)), byCategory: map[string][]*Product{}}
	for i := range c.Products {
		pr := &c.Products[i]
		p.byCategory[pr.Category] = append(p.byCategory[pr.Category], pr)
	}
	for _, list := range p.byCategory {
		sort.SliceStable(list, func(a, b int) bool { return list[a].Price < list[b].Price })
	}
	p.primary = []weighted{
		{"Cameras > Mirrorless", 18}, {"Cameras > DSLR", 8}, {"Cameras > Lenses", 6},
		{"Sports > Running > Shoes", 24}, {"Sports > Running > Watches", 5},
		{"Electronics > Phones > Smartphones", 20},
		{"Beauty > Hair Care > Consumer > Shampoo", 9}, {"Beauty > Hair Care > Consumer > Tools", 4},
		{"Beauty > Hair Care > Professional > Shampoo", 6},
	}
	return p
}

var (
	browsers = []string{
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
		"Mozilla/5.0 (Linux; Android 15; Pixel 9) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
		"Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
		"Mozilla/5.0 (Linux; Android 14; SM-S921B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36",
	}
	bots = []string{
		"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
		"Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
		"Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
		"Mozilla/5.0 (compatible; SemrushBot/7~bl; +http://www.semrush.com/bot.html)",
		"python-requests/2.32.3",
	}
	firstNames = []string{"anna", "ben", "clara", "david", "emma", "felix", "greta", "hugo", "ines", "jonas", "katrin", "lucas", "mia", "noah", "olivia", "paul", "rosa", "sam", "tara", "tom"}
	lastNames  = []string{"schmidt", "martin", "rossi", "dubois", "meyer", "garcia", "jansen", "novak", "weber", "silva", "kowalski", "bauer", "moreau", "fischer", "costa"}
	salons     = []string{"Salon Lumière", "Cut & Colour Studio", "Haarwerk", "The Blow Bar", "Studio Ciseaux", "Barber & Co", "Atelier Coiffure", "Mane Street"}
)

func (p *planner) newVisitor(persona string) Visitor {
	var b [16]byte
	for i := range b {
		b[i] = byte(p.rng.UintN(256))
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	v := Visitor{
		ID:        fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:]),
		Persona:   persona,
		UserAgent: browsers[p.rng.IntN(len(browsers))],
		GPC:       p.rng.IntN(100) < 6,
		Pixel:     p.rng.IntN(100) < 25,
	}
	return v
}

// identify gives v an account; professional ones carry the trait the
// professional audiences look for.
func (p *planner) identify(v *Visitor, customerType string) map[string]any {
	if v.UserID == "" {
		p.users++
		v.UserID = fmt.Sprintf("cust-%05d", p.users)
		v.Email = fmt.Sprintf("%s.%s%d@example.com", firstNames[p.rng.IntN(len(firstNames))], lastNames[p.rng.IntN(len(lastNames))], p.users)
	}
	traits := map[string]any{"email": v.Email, "customer_type": customerType}
	if customerType == "professional" {
		traits["company"] = salons[p.rng.IntN(len(salons))]
	}
	return traits
}

// ago is a point in time days before Now at a believable hour of the day
// (8:00-23:00 UTC), never in the future nor more than Days back.
func (p *planner) ago(days float64) time.Time {
	return p.agoWithin(days, p.opts.Days)
}

func (p *planner) agoWithin(days float64, limit int) time.Time {
	day := p.opts.Now.Add(-time.Duration(days * float64(24*time.Hour)))
	y, m, d := day.Date()
	t := time.Date(y, m, d, 8+p.rng.IntN(15), p.rng.IntN(60), p.rng.IntN(60), 0, time.UTC)
	if !t.Before(p.opts.Now) {
		t = p.opts.Now.Add(-time.Duration(1+p.rng.IntN(90)) * time.Minute)
	}
	if oldest := p.opts.Now.Add(-time.Duration(limit) * 24 * time.Hour); !t.After(oldest) {
		t = oldest.Add(time.Duration(1+p.rng.IntN(600)) * time.Minute)
	}
	return t
}

// recentBias picks an age in days, more often recent than old.
func (p *planner) recentBias(maxDays float64) float64 {
	u := p.rng.Float64()
	return maxDays * u * u
}

func (p *planner) pickCategory(list []weighted) string {
	total := 0
	for _, w := range list {
		total += w.weight
	}
	n := p.rng.IntN(total)
	for _, w := range list {
		if n < w.weight {
			return w.category
		}
		n -= w.weight
	}
	return list[0].category
}

// pick returns a product of category, in stock unless anyStock.
func (p *planner) pick(category string, anyStock bool) *Product {
	list := p.byCategory[category]
	for tries := 0; tries < 20; tries++ {
		pr := list[p.rng.IntN(len(list))]
		if pr.InStock || anyStock {
			return pr
		}
	}
	return list[0]
}

// neighbours are products of the same category priced near pr: what a
// shopper compares it with.
func (p *planner) neighbours(pr *Product, n int) []*Product {
	var out []*Product
	for _, id := range pr.Upgrades {
		if q := p.c.ByID[id]; q != nil && len(out) < n {
			out = append(out, q)
		}
	}
	list := p.byCategory[pr.Category]
	for tries := 0; len(out) < n && tries < 10; tries++ {
		q := list[p.rng.IntN(len(list))]
		if q.ID != pr.ID && q.Price < pr.Price*1.6 && q.Price > pr.Price*0.6 {
			out = append(out, q)
		}
	}
	return out
}

// complements of pr that are in stock, in catalog order.
func (p *planner) complements(pr *Product) []*Product {
	var out []*Product
	for _, id := range pr.Complements {
		if q := p.c.ByID[id]; q != nil && q.InStock {
			out = append(out, q)
		}
	}
	return out
}

func (p *planner) nextOrder() string {
	p.orders++
	return fmt.Sprintf("D%06d", p.orders)
}
