package feeds

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/remarket/remarket/internal/config"
	"github.com/remarket/remarket/internal/httpx"
)

// Plan is everything a feed depends on, fixed at the start of a request:
// the run, the catalog version, the effective rules, the offer windows
// and the clock.
type Plan struct {
	Site     config.Site
	Audience string
	Format   Format
	Run      Run
	Rules    []config.DiscountRule
	Now      time.Time
	Feeds    config.Feeds
	Link     string // public URL

	catalog      catalogVersion
	rulesVersion uint64 // of the admin rules (ruleSet.version)
	windows      offerWindows
}

// Key identifies the feed's bytes. Within a run the content changes only
// when the catalog is switched, the rules are changed, or an offer window
// opens or closes, so the key names the catalog and rule versions, counts
// the window edges passed (the "epoch") rather than the time, and names
// the windows themselves by their digest. Whatever moves Last-Modified
// (epoch) is in the key, so one key has one Last-Modified everywhere.
func (p Plan) Key() string {
	h := sha256.New()
	conf, _ := json.Marshal(struct {
		Rules                  []config.DiscountRule
		Max                    float64
		Zone, Brand            string
		SiteMax, MaxItems      int
		Medium, Source, Param  string
		Link, KeyID, KeySecret string
	}{p.Rules, p.Site.MaxDiscount(), p.Site.TimeZone, p.Site.DefaultBrand, p.Site.FeedMaxItems, p.Feeds.MaxItems,
		p.Feeds.UTMMedium, p.Feeds.UTMSource[string(p.Format)], p.Feeds.OfferParam, p.Link, p.keyID(), p.keyHash()})
	epoch, _ := p.epoch()
	for _, s := range []string{p.Site.ID, p.Audience, p.Run.ID, string(conf), string(p.Format), p.windows.digest, strconv.Itoa(epoch),
		strconv.FormatUint(p.catalog.version, 10), strconv.FormatUint(p.catalog.switchSeq, 10), strconv.FormatUint(p.rulesVersion, 10)} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))[:40]
}

func (p Plan) keyID() string {
	if len(p.Site.OfferKeys) == 0 {
		return ""
	}
	return p.Site.OfferKeys[0].ID
}

// keyHash stands for the signing secret in the key (one-way).
func (p Plan) keyHash() string {
	if len(p.Site.OfferKeys) == 0 {
		return ""
	}
	s := sha256.Sum256([]byte(p.Site.OfferKeys[0].Secret))
	return hex.EncodeToString(s[:8])
}

// epoch counts the feed's offer-window edges already passed; lastChange
// is the latest of what changed the feed's bytes: the run's finish, the
// last edge passed, the catalog switch or the rule change. It is the
// feed's Last-Modified.
func (p Plan) epoch() (n int, lastChange time.Time) {
	n, last := p.windows.epoch(p.Now)
	lastChange = p.Run.Finished
	// HTTP dates have whole seconds (run finishes and window edges are
	// whole already): a switch or a rule change is rounded up, or one in
	// the second after the previous Last-Modified would not move it.
	rules := ruleSet{version: p.rulesVersion}.changed()
	for _, t := range []time.Time{last, ceilSecond(p.catalog.switched()), ceilSecond(rules)} {
		if t.After(lastChange) {
			lastChange = t
		}
	}
	return n, lastChange
}

// ceilSecond rounds t up to a whole second.
func ceilSecond(t time.Time) time.Time {
	if s := t.Truncate(time.Second); !s.Equal(t) {
		return s.Add(time.Second)
	}
	return t
}

// MaxItems is the site's item cap.
func (p Plan) MaxItems() int {
	if p.Site.FeedMaxItems > 0 && p.Site.FeedMaxItems < p.Feeds.MaxItems {
		return p.Site.FeedMaxItems
	}
	return p.Feeds.MaxItems
}

// Builder returns the item builder of the plan.
func (p Plan) Builder() *Builder {
	return &Builder{
		Site: p.Site, Audience: p.Audience, Now: p.Now, RunFinished: p.Run.Finished, Rules: p.Rules, Windows: p.windows.byProduct,
		UTMSource: p.Feeds.UTMSource[string(p.Format)], UTMMedium: p.Feeds.UTMMedium, OfferParam: p.Feeds.OfferParam,
	}
}

// Header returns the feed header of the plan.
func (p Plan) Header() Header {
	return Header{Site: p.Site.ID, Audience: p.Audience, RunID: p.Run.ID, RunFinished: p.Run.Finished, Generated: p.Now, Link: p.Link}
}

// plan fixes the inputs of one feed request; a missing run is 503.
func (a *API) plan(ctx context.Context, site config.Site, audience string, f Format) (Plan, error) {
	run, err := a.runs.current(ctx, site.ID)
	if errors.Is(err, errNoRun) {
		return Plan{}, httpx.Errorf(httpx.Unavailable, "no complete segment run yet for this site; run `remarket segment run`")
	}
	if err != nil {
		return Plan{}, err
	}
	rules, err := a.rules.effectiveSet(ctx, site)
	if err != nil {
		return Plan{}, err
	}
	cat, err := a.cats.current(ctx, site.ID)
	if err != nil {
		return Plan{}, err
	}
	p := Plan{Site: site, Audience: audience, Format: f, Run: run, Rules: rules.rules, Now: a.Now().UTC(),
		Feeds: a.cfg.Feeds, Link: a.cfg.PublicURL, catalog: cat, rulesVersion: rules.version}
	if p.windows, err = a.wins.get(ctx, site.ID, audience, run, cat, p.Rules, p.Now, p.rowLimit()); err != nil {
		return Plan{}, err
	}
	return p, nil
}

// rowLimit bounds the rows read for a feed: room for rows that turn out
// invalid.
func (p Plan) rowLimit() int { return p.MaxItems() * 2 }

// Write generates the plan's feed onto w from ClickHouse.
func (a *API) Write(ctx context.Context, w io.Writer, p Plan) (Stats, error) {
	return Generate(ctx, w, p.Format, p.Header(), p.Builder(), audienceRows(a.db, p.Site.ID, p.Audience, p.Run.ID, p.rowLimit()), p.MaxItems())
}

// Export plans and writes one feed (for `remarket feed export`); an
// unknown audience is an error.
func (a *API) Export(ctx context.Context, w io.Writer, siteID, audience string, f Format) (Stats, error) {
	site, ok := a.cfg.Site(siteID)
	if !ok {
		return Stats{}, httpx.Errorf(httpx.NotFound, "unknown site "+siteID)
	}
	p, err := a.plan(ctx, site, audience, f)
	if err != nil {
		return Stats{}, err
	}
	ok, err = audienceInRun(ctx, a.db, site.ID, audience, p.Run.ID)
	if err != nil {
		return Stats{}, err // ClickHouse failed, which is not "not found"
	}
	if !ok {
		return Stats{}, httpx.Errorf(httpx.NotFound, "audience "+audience+" is not in the current segment run")
	}
	st, err := a.Write(ctx, w, p)
	a.logSkips(p, st)
	return st, err
}

func (a *API) logSkips(p Plan, st Stats) {
	if len(st.Skipped) > 0 {
		a.log.Warn("feed left out products that cannot be made valid", "site", p.Site.ID, "audience", p.Audience,
			"format", p.Format, "run_id", p.Run.ID, "items", st.Items, "skipped", st.Skipped)
	}
}

// serveFeed answers GET /feeds/:site/:audience/{google.xml,meta.csv,feed.json}.
func (a *API) serveFeed(c *gin.Context) {
	site := httpx.CurrentSite(c)
	f, ok := Formats[c.Param("file")]
	audience := c.Param("audience")
	if !ok || !validAudience.MatchString(audience) {
		httpx.Fail(c, httpx.Errorf(httpx.NotFound, "no such feed: use google.xml, meta.csv or feed.json"))
		return
	}
	ctx := c.Request.Context()
	p, err := a.plan(ctx, site, audience, f)
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	fc, err := a.feedCache()
	if err != nil {
		httpx.Fail(c, err)
		return
	}
	gz := acceptsGzip(c.GetHeader("Accept-Encoding"))
	for attempt := 0; ; attempt++ {
		key := p.Key()
		e, hit, err := fc.get(ctx, key, a.generator(p))
		if errors.Is(err, errCatalogMoved) && attempt < 2 {
			// The plan's catalog version was stale (the check dropped
			// it): plan again on the current one.
			if p, err = a.plan(ctx, site, audience, f); err != nil {
				httpx.Fail(c, err)
				return
			}
			continue
		}
		if err != nil {
			httpx.Fail(c, err)
			return
		}
		path, etag := e.plain, `"`+key+`"`
		if gz {
			path, etag = e.gz, `"`+key+`-gz"`
		}
		var body io.ReadSeeker
		if gz && e.gzMem != nil {
			body = bytes.NewReader(e.gzMem)
		} else {
			file, err := os.Open(path)
			if err != nil && attempt < 2 {
				continue // evicted between lookup and open: generate again
			}
			if err != nil {
				httpx.Fail(c, err)
				return
			}
			defer file.Close()
			body = file
		}
		_, lastChange := p.epoch()
		h := c.Writer.Header()
		h.Set("Content-Type", f.ContentType())
		h.Set("ETag", etag)
		h.Set("Vary", "Accept-Encoding")
		h.Set("Cache-Control", "private, no-cache")
		h.Set("X-Segment-Run", p.Run.ID)
		h.Set("X-Feed-Items", strconv.Itoa(e.stats.Items))
		if gz {
			h.Set("Content-Encoding", "gzip")
		}
		outcome := "miss"
		if hit {
			outcome = "hit"
		}
		h.Set("X-Cache", outcome)
		if c.GetHeader("If-None-Match") != "" && etagMatch(c.GetHeader("If-None-Match"), etag) {
			outcome = "not_modified"
		}
		servedFeeds.WithLabelValues(string(f), outcome).Inc()
		http.ServeContent(c.Writer, c.Request, "", lastChange, body)
		return
	}
}

// generator writes p's feed into the cache. The bytes are kept only if
// the catalog version p was planned on is still current after the feed
// query: otherwise they may be another catalog's, and the key (which
// names the version) would give one ETag to two different feeds.
func (a *API) generator(p Plan) generateFunc {
	return func(ctx context.Context, w io.Writer) (Stats, error) {
		ok, err := audienceInRun(ctx, a.db, p.Site.ID, p.Audience, p.Run.ID)
		if err != nil {
			return Stats{}, err
		}
		if !ok {
			return Stats{}, httpx.Errorf(httpx.NotFound, "no audience "+p.Audience+" in the current segment run")
		}
		st, err := a.Write(ctx, w, p)
		if err == nil {
			err = a.cats.checkCatalog(ctx, p.Site.ID, p.catalog)
		}
		if err == nil {
			a.logSkips(p, st)
		}
		return st, err
	}
}

// etagMatch mirrors If-None-Match's weak comparison, for the metric only
// (http.ServeContent makes the real decision).
func etagMatch(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == etag || t == "*" {
			return true
		}
	}
	return false
}

// acceptsGzip reads Accept-Encoding: gzip (or *) with a non-zero q.
func acceptsGzip(header string) bool {
	for _, part := range strings.Split(header, ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		coding = strings.ToLower(strings.TrimSpace(coding))
		if coding != "gzip" && coding != "x-gzip" && coding != "*" {
			continue
		}
		q := strings.ReplaceAll(params, " ", "")
		if strings.HasPrefix(q, "q=") {
			if v, err := strconv.ParseFloat(q[2:], 64); err == nil && v == 0 {
				return false
			}
		}
		return true
	}
	return false
}
