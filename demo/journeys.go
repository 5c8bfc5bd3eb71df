package demo

import (
	"math"
	"net/url"
	"strings"
	"time"
)

// session is one visit: hits a few seconds to minutes apart.
type session struct {
	p *planner
	v *Visitor
	t time.Time
}

func (p *planner) session(v *Visitor, at time.Time) *session {
	return &session{p: p, v: v, t: at}
}

func (s *session) add(h Hit) {
	if !s.t.Before(s.p.opts.Now) { // a session running into "now" stops there
		return
	}
	h.At = s.t
	s.v.Hits = append(s.v.Hits, h)
	s.t = s.t.Add(time.Duration(15+s.p.rng.IntN(150)) * time.Second)
}

const shop = "https://shop.example"

func (s *session) home() {
	s.add(Hit{Call: "page", URL: shop + "/", Title: "Shop Example – cameras, running, phones and hair care"})
}

func (s *session) list(category string) {
	slug := strings.ToLower(strings.NewReplacer(" > ", "/", " ", "-").Replace(category))
	s.add(Hit{Call: "page", URL: shop + "/c/" + slug, Title: category + " – Shop Example"})
	s.add(Hit{Call: "track", Event: "Product List Viewed", URL: shop + "/c/" + slug, Title: category,
		Props: map[string]any{"list_id": slug, "category": category}})
}

func (s *session) search(query string) {
	s.add(Hit{Call: "track", Event: "Products Searched", URL: shop + "/search?q=" + url.QueryEscape(query),
		Props: map[string]any{"query": query}})
}

func productProps(pr *Product, qty int) map[string]any {
	m := map[string]any{
		"product_id": pr.ID, "sku": pr.ID, "name": pr.Title, "brand": pr.Brand,
		"category": pr.Category, "price": pr.Price, "currency": pr.Currency,
	}
	if qty > 0 {
		m["quantity"] = qty
	}
	return m
}

func (s *session) view(pr *Product) {
	s.add(Hit{Call: "page", URL: pr.Link, Title: pr.Title + " – Shop Example"})
	s.add(Hit{Call: "track", Event: "Product Viewed", URL: pr.Link, Title: pr.Title, Props: productProps(pr, 0)})
}

func (s *session) cart(pr *Product, qty int) {
	s.add(Hit{Call: "track", Event: "Product Added", URL: pr.Link, Title: pr.Title, Props: productProps(pr, qty)})
}

func (s *session) remove(pr *Product) {
	s.add(Hit{Call: "track", Event: "Product Removed", URL: shop + "/cart", Title: "Cart", Props: productProps(pr, 1)})
}

type line struct {
	pr  *Product
	qty int
}

func (s *session) checkout(lines []line) {
	s.add(Hit{Call: "track", Event: "Checkout Started", URL: shop + "/checkout", Title: "Checkout", Props: orderProps("", lines)})
}

func (s *session) purchase(lines []line, traits map[string]any) {
	if traits != nil {
		s.add(Hit{Call: "identify", Traits: traits, Server: true})
	}
	s.add(Hit{Call: "track", Event: "Order Completed", URL: shop + "/checkout/thanks", Title: "Thank you",
		Props: orderProps(s.p.nextOrder(), lines), Server: true})
}

func orderProps(orderID string, lines []line) map[string]any {
	var products []any
	total := 0.0
	for _, l := range lines {
		products = append(products, productProps(l.pr, l.qty))
		total += l.pr.Price * float64(l.qty)
	}
	total = math.Round(total*100) / 100
	m := map[string]any{"products": products, "value": total, "currency": lines[0].pr.Currency}
	if orderID != "" {
		m["order_id"] = orderID
		m["revenue"] = total
	}
	return m
}

// --- personas ---------------------------------------------------------------

// browser looks at a few products of one category and leaves.
func (p *planner) browser(v *Visitor) {
	pr := p.pick(p.pickCategory(p.primary), true)
	s := p.session(v, p.ago(p.recentBias(float64(p.opts.Days))))
	if p.rng.IntN(2) == 0 {
		s.home()
	}
	s.list(pr.Category)
	s.view(pr)
	for _, q := range p.neighbours(pr, p.rng.IntN(3)) {
		s.view(q)
	}
}

// comparer weighs an item against its upgrades over a few days, sometimes
// putting one in the cart: the upsell audience's best prospects.
func (p *planner) comparer(v *Visitor) {
	pr := p.pick(p.pickCategory(p.primary), false)
	start := p.recentBias(20) + 2
	s := p.session(v, p.ago(start))
	s.search(pr.Brand + " " + strings.Fields(pr.Category)[len(strings.Fields(pr.Category))-1])
	s.view(pr)
	others := p.neighbours(pr, 2+p.rng.IntN(3))
	for _, q := range others {
		s.view(q)
	}
	s = p.session(v, p.ago(start-1-p.rng.Float64()*float64(int(start)-1)))
	s.view(pr)
	if len(others) > 0 {
		s.view(others[0])
	}
	if p.rng.IntN(3) == 0 {
		s.cart(pr, 1)
		if p.rng.IntN(2) == 0 {
			s.remove(pr)
		}
	}
}

// abandoner fills a cart in the last few days and never pays.
func (p *planner) abandoner(v *Visitor) {
	pr := p.pick(p.pickCategory(p.primary), false)
	s := p.session(v, p.ago(p.rng.Float64()*6))
	s.list(pr.Category)
	s.view(pr)
	for _, q := range p.neighbours(pr, p.rng.IntN(2)) {
		s.view(q)
	}
	s.cart(pr, 1)
	lines := []line{{pr, 1}}
	if c := p.complements(pr); len(c) > 0 && p.rng.IntN(2) == 0 {
		q := c[p.rng.IntN(len(c))]
		s.view(q)
		s.cart(q, 1)
		lines = append(lines, line{q, 1})
	}
	if p.rng.IntN(2) == 0 {
		s.checkout(lines)
	}
}

// buyer compares, buys, and often comes back weeks later for accessories.
func (p *planner) buyer(v *Visitor) {
	pr := p.pick(p.pickCategory(p.primary), false)
	when := 3 + p.rng.Float64()*float64(p.opts.Days-5)
	p.buy(v, pr, when, "consumer")
	if p.rng.IntN(2) == 0 && when > 12 {
		back := when - 7 - p.rng.Float64()*math.Min(28, when-8)
		s := p.session(v, p.ago(back))
		c := p.complements(pr)
		for i := 0; i < len(c) && i < 2+p.rng.IntN(3); i++ {
			s.view(c[p.rng.IntN(len(c))])
		}
		if len(c) > 0 && p.rng.IntN(3) == 0 {
			q := c[p.rng.IntN(len(c))]
			s.cart(q, 1)
			s.checkout([]line{{q, 1}})
			s.purchase([]line{{q, 1}}, p.identify(v, "consumer"))
		}
	}
}

// buy is one purchase journey daysAgo: view, compare, cart, checkout, pay.
func (p *planner) buy(v *Visitor, pr *Product, daysAgo float64, customerType string) {
	p.buyAt(v, pr, p.ago(daysAgo), customerType)
}

func (p *planner) buyAt(v *Visitor, pr *Product, at time.Time, customerType string) {
	s := p.session(v, at)
	s.list(pr.Category)
	s.view(pr)
	for _, q := range p.neighbours(pr, p.rng.IntN(3)) {
		s.view(q)
	}
	s.view(pr)
	lines := []line{{pr, 1}}
	s.cart(pr, 1)
	if c := p.complements(pr); len(c) > 0 && p.rng.IntN(3) == 0 {
		q := c[p.rng.IntN(len(c))]
		s.cart(q, 1)
		lines = append(lines, line{q, 1})
	}
	s.checkout(lines)
	var traits map[string]any
	if p.rng.IntN(10) < 8 {
		traits = p.identify(v, customerType)
	}
	s.purchase(lines, traits)
}

// lapsed bought once or twice long ago (more than the lapsed audience's
// 90 days) and has not been back since.
func (p *planner) lapsed(v *Visitor) {
	pr := p.pick(p.pickCategory(p.primary), false)
	span := float64(p.opts.HistoryDays - 95)
	last := 95 + p.rng.Float64()*span*0.6
	if p.rng.IntN(3) == 0 {
		p.buyAt(v, p.pick(pr.Category, false), p.agoWithin(last+5+p.rng.Float64()*span*0.3, p.opts.HistoryDays), "consumer")
	}
	p.buyAt(v, pr, p.agoWithin(last, p.opts.HistoryDays), "consumer")
}

// enthusiast keeps coming back to one category.
func (p *planner) enthusiast(v *Visitor) {
	cat := p.pickCategory([]weighted{
		{"Cameras > Mirrorless", 4}, {"Cameras > Lenses", 3}, {"Sports > Running > Shoes", 4},
		{"Electronics > Phones > Smartphones", 2}, {"Beauty > Hair Care > Professional > Treatments", 1},
	})
	sessions := 6 + p.rng.IntN(5)
	for i := 0; i < sessions; i++ {
		s := p.session(v, p.ago(p.recentBias(float64(p.opts.Days))))
		s.list(cat)
		for j := 0; j < 3+p.rng.IntN(4); j++ {
			s.view(p.pick(cat, true))
		}
	}
	if p.rng.IntN(3) == 0 {
		p.buy(v, p.pick(cat, false), p.rng.Float64()*float64(p.opts.Days-2)+1, "consumer")
	}
}

// hairdresser restocks the salon every couple of weeks: salon sizes,
// colour and developer by the dozen.
func (p *planner) hairdresser(v *Visitor) {
	traits := p.identify(v, "professional")
	var pro []*Product
	for i := range p.c.Products {
		if pr := &p.c.Products[i]; pr.Professional && pr.InStock && (strings.Contains(pr.Title, "1000 ml") || strings.Contains(pr.Category, "Colour") || strings.Contains(pr.Title, "Foil")) {
			pro = append(pro, pr)
		}
	}
	days := float64(p.opts.Days) - p.rng.Float64()*10
	first := true
	for days > 1 {
		s := p.session(v, p.ago(days))
		if first {
			s.add(Hit{Call: "identify", Traits: traits})
			first = false
		}
		var lines []line
		for j := 0; j < 2+p.rng.IntN(4); j++ {
			pr := pro[p.rng.IntN(len(pro))]
			s.view(pr)
			qty := 6 * (1 + p.rng.IntN(4))
			s.cart(pr, qty)
			lines = append(lines, line{pr, qty})
		}
		s.checkout(lines)
		if p.rng.IntN(5) > 0 {
			s.purchase(lines, traits)
		}
		days -= 10 + p.rng.Float64()*12
	}
}

// bot crawls product pages fast.
func (p *planner) bot(v *Visitor) {
	v.UserAgent = bots[p.rng.IntN(len(bots))]
	v.GPC = false
	s := p.session(v, p.ago(p.rng.Float64()*float64(p.opts.Days)))
	for i := 0; i < 20+p.rng.IntN(40); i++ {
		s.view(&p.c.Products[p.rng.IntN(len(p.c.Products))])
	}
	v.Bot = true
}
