package dashboard

import (
	"html/template"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/remarket/remarket/demo"
	"github.com/remarket/remarket/ingest"
)

// shopProducts are the items the demo shop page offers: an upgrade path
// and its complements, as the seed's examples.
var shopProducts = []string{"canon-eos-250d", "canon-eos-90d", "canon-ef-50-18-stm", "sandisk-extreme-pro-sd-128", "nike-pegasus-41-black", "balega-hidden-comfort", "kerastase-nutritive-shampoo-250"}

// shop serves /demo/shop: a static page that embeds the snippet exactly
// as a customer's site would (the <script> tags and the <noscript> pixel
// of ingest.SnippetHTML), to try the tracking by hand and in browser tests.
func (u *UI) shop(c *gin.Context) {
	site, ok := u.cfg.Site(demo.Site)
	if !ok {
		c.String(http.StatusNotFound, "no demo site: run `remarket demo` first\n")
		return
	}
	cat, err := demo.LoadCatalog()
	if err != nil {
		c.String(http.StatusInternalServerError, "demo catalog: %v\n", err)
		return
	}
	var products []demo.Product
	for _, id := range shopProducts {
		if p := cat.ByID[id]; p != nil {
			products = append(products, *p)
		}
	}
	// Same origin as the page: the snippet loads from wherever the shop is served.
	base := "//" + c.Request.Host
	snippet := ingest.SnippetHTML(base, site.WriteKey)
	c.Header("Cache-Control", "no-store")
	c.Header("Content-Type", "text/html; charset=utf-8")
	c.Status(http.StatusOK)
	err = shopPage.Execute(c.Writer, map[string]any{
		"Snippet":  template.HTML(snippet), // built by ingest from escaped values
		"Products": products,
	})
	if err != nil {
		u.log.Warn("demo shop page", "err", err)
	}
}

var shopPage = template.Must(template.New("shop").Funcs(template.FuncMap{
	"short": func(cat string) string { parts := strings.Split(cat, " > "); return parts[len(parts)-1] },
}).Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Shop Example – remarket demo shop</title>
<link rel="icon" href="/ui/favicon.svg">
<link rel="stylesheet" href="/ui/app.css">
{{.Snippet}}
</head>
<body class="shop">
<header><strong>Shop Example</strong> <span class="muted">a demo shop tracked by remarket: every button sends an event</span></header>
<main>
<p class="muted">This page embeds <code>/t.js</code> like any shop would. Open the dashboard's visitor lookup with the id below to watch your own events arrive.</p>
<p>Your visitor id: <code id="vid">(set on the first event)</code></p>
<div class="grid">
{{range .Products}}
<article class="card product" data-id="{{.ID}}" data-title="{{.Title}}" data-brand="{{.Brand}}" data-category="{{.Category}}" data-price="{{printf "%.2f" .Price}}" data-currency="{{.Currency}}">
  <div class="muted">{{short .Category}} · {{.Brand}}</div>
  <h3>{{.Title}}</h3>
  <div class="price">{{printf "%.2f" .Price}} {{.Currency}}</div>
  <div class="buttons">
    <button class="view">View</button>
    <button class="add">Add to cart</button>
    <button class="buy">Buy now</button>
  </div>
</article>
{{end}}
</div>
<p id="log" class="muted" aria-live="polite"></p>
</main>
<script src="/ui/shop.js"></script>
</body>
</html>
`))
