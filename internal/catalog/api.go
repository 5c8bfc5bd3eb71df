package catalog

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/remarket/remarket/internal/chdb"
	"github.com/remarket/remarket/internal/config"
	"github.com/remarket/remarket/internal/httpx"
)

// MaxUpsertBytes bounds an upsert request body; bigger catalogs go through
// `remarket catalog import`.
const MaxUpsertBytes = 32 << 20

// API is the admin catalog API under /api/sites/:site (admin token):
//
//	PUT  /products        upsert: one product, an array, or {"products": [...]} (POST is an alias)
//	GET  /products        the current catalog, ?limit= (default 100, max 1000) &offset=
//	GET  /products/{id}   one product of the current catalog (the id may hold "/")
//	GET  /catalog/versions the version history, newest first
type API struct {
	cfg   config.Config
	store *Store
	log   *slog.Logger
}

// NewAPI returns the catalog API on db.
func NewAPI(cfg config.Config, db *chdb.DB, log *slog.Logger) *API {
	if log == nil {
		log = slog.Default()
	}
	return &API{cfg: cfg, store: NewStore(db, log), log: log}
}

// Store is the store the API writes to (for wiring jobs that share it).
func (a *API) Store() *Store { return a.store }

// Register adds the routes to r.
func (a *API) Register(r gin.IRouter) {
	g := r.Group("/api/sites/:site", httpx.RequireAdmin(a.cfg))
	g.PUT("/products", a.upsert)
	g.POST("/products", a.upsert)
	g.GET("/products", a.list)
	// A product id may hold "/" (CAM/250D): the id is the rest of the path.
	// A client that encodes it (CAM%2F250D) is decoded by the router before
	// it matches, so a one-segment parameter would answer 404 either way.
	g.GET("/products/*id", a.get)
	g.GET("/catalog/versions", a.versions)
}

func (a *API) upsert(c *gin.Context) {
	site := httpx.CurrentSite(c).ID
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, MaxUpsertBytes))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		httpx.Fail(c, httpx.Errorf(httpx.TooLarge, fmt.Sprintf("request body over %d bytes; import big catalogs with `remarket catalog import`", MaxUpsertBytes)))
		return
	}
	if err != nil {
		httpx.Fail(c, httpx.Errorf(httpx.Invalid, "cannot read the request body: "+err.Error()))
		return
	}
	items, err := splitUpsertBody(body)
	if err == nil && len(items) == 0 {
		err = errors.New(`no product in the request: send a product object, an array of them, or {"products": [...]}`)
	}
	if err != nil {
		httpx.Fail(c, httpx.Errorf(httpx.Invalid, err.Error()))
		return
	}
	products, rep := validateItems(site, items)
	if len(products) == 0 {
		c.AbortWithStatusJSON(http.StatusBadRequest, gin.H{
			"error": "no valid product: " + summarize(rep.Errors, 5), "code": httpx.Invalid, "report": rep})
		return
	}
	stored, err := a.store.upsert(c.Request.Context(), site, products, "api", rep.Skipped)
	if errors.Is(err, ErrConflict) {
		httpx.Fail(c, httpx.Errorf(httpx.Conflict, err.Error()))
		return
	}
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	rep.Version, rep.Imported, rep.Kept = stored.Version, stored.Imported, stored.Kept
	a.log.Info("catalog upsert", "site", site, "version", rep.Version, "imported", rep.Imported, "skipped", rep.Skipped)
	c.JSON(http.StatusOK, rep)
}

// splitUpsertBody accepts one product object, an array of them, or
// {"products": [...]}.
func splitUpsertBody(body []byte) ([]json.RawMessage, error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return nil, errors.New(`empty body: send a product object, an array of them, or {"products": [...]}`)
	}
	if body[0] == '[' {
		var items []json.RawMessage
		if err := json.Unmarshal(body, &items); err != nil {
			return nil, fmt.Errorf("invalid JSON array: %v", strings.TrimPrefix(err.Error(), "json: "))
		}
		return items, nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(body, &obj); err != nil {
		return nil, fmt.Errorf(`invalid JSON (want a product object, an array of them, or {"products": [...]}): %v`, strings.TrimPrefix(err.Error(), "json: "))
	}
	if list, ok := obj["products"]; ok && len(obj) == 1 {
		var items []json.RawMessage
		if err := json.Unmarshal(list, &items); err != nil {
			return nil, errors.New(`"products" must be an array of product objects`)
		}
		return items, nil
	}
	return []json.RawMessage{body}, nil
}

// validateItems applies the import rules to API items; unknown keys are
// errors here (a typo in a program is better caught than ignored).
func validateItems(site string, items []json.RawMessage) ([]Product, Report) {
	rep := Report{Site: site, Format: "json", Errors: []RowError{}}
	var products []Product
	seen := map[string]int{}
	for i, raw := range items {
		rec := decodeJSONRecord(raw, true, nil)
		rec.Item = i + 1
		rec.stamp()
		if rec.Err != nil {
			rep.skip(*rec.Err)
			continue
		}
		p, errs := rec.Validate()
		if first, dup := seen[p.ID]; dup && len(errs) == 0 {
			errs = append(errs, RowError{Item: rec.Item, ID: p.ID, Field: "id",
				Message: fmt.Sprintf("duplicate id %q (first as item %d)", p.ID, first)})
		}
		if len(errs) > 0 {
			rep.skip(errs...)
			continue
		}
		seen[p.ID] = rec.Item
		products = append(products, p)
	}
	return products, rep
}

func summarize(errs []RowError, n int) string {
	parts := make([]string, 0, n)
	for i, e := range errs {
		if i == n {
			parts = append(parts, fmt.Sprintf("and %d more", len(errs)-n))
			break
		}
		parts = append(parts, e.String())
	}
	return strings.Join(parts, "; ")
}

func (a *API) get(c *gin.Context) {
	site := httpx.CurrentSite(c).ID
	id := httpx.RestParam(c, "id")
	p, ok, err := a.store.Get(c.Request.Context(), site, id)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	if !ok {
		httpx.Fail(c, httpx.Errorf(httpx.NotFound, fmt.Sprintf("product %q is not in the current catalog of site %q", id, site)))
		return
	}
	c.JSON(http.StatusOK, p)
}

func (a *API) list(c *gin.Context) {
	limit, err1 := queryInt(c, "limit", 100, 1, 1000)
	offset, err2 := queryInt(c, "offset", 0, 0, 1<<40)
	if err := errors.Join(err1, err2); err != nil {
		httpx.Fail(c, httpx.Errorf(httpx.Invalid, err.Error()))
		return
	}
	page, err := a.store.List(c.Request.Context(), httpx.CurrentSite(c).ID, limit, offset)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, page)
}

func (a *API) versions(c *gin.Context) {
	limit, err := queryInt(c, "limit", 50, 1, 1000)
	if err != nil {
		httpx.Fail(c, httpx.Errorf(httpx.Invalid, err.Error()))
		return
	}
	vs, err := a.store.Versions(c.Request.Context(), httpx.CurrentSite(c).ID, limit)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"versions": vs})
}

func queryInt(c *gin.Context, name string, def, lo, hi int) (int, error) {
	s := c.Query(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("%s=%q: want a whole number from %d to %d", name, s, lo, hi)
	}
	return n, nil
}
