package segment

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/remarket/remarket/internal/config"
	"github.com/remarket/remarket/internal/httpx"
)

// Audience definitions come from two places: the site's YAML config and
// the admin API (stored in seg_audience_defs, latest version wins, a
// delete is a tombstone). An API definition overrides a YAML one of the
// same name; deleting it through the API brings the YAML one back.

// Definition is an audience with where it is defined.
type Definition struct {
	config.Audience
	Source string `json:"source"` // "config" or "api"
}

// Audiences lists a site's effective definitions, sorted by name.
func (e *Engine) Audiences(ctx context.Context, site string) ([]config.Audience, error) {
	defs, err := e.Definitions(ctx, site)
	if err != nil {
		return nil, err
	}
	out := make([]config.Audience, len(defs))
	for i, d := range defs {
		out[i] = d.Audience
	}
	return out, nil
}

// Definitions is Audiences with each definition's source.
func (e *Engine) Definitions(ctx context.Context, site string) ([]Definition, error) {
	s, ok := e.cfg.Site(site)
	if !ok {
		return nil, fmt.Errorf("unknown site %q", site)
	}
	byName := map[string]Definition{}
	for _, a := range s.Audiences {
		byName[a.Name] = Definition{Audience: a, Source: "config"}
	}
	stored, err := e.storedDefinitions(ctx, site)
	if err != nil {
		return nil, err
	}
	for _, a := range stored {
		byName[a.Name] = Definition{Audience: a, Source: "api"}
	}
	out := make([]Definition, 0, len(byName))
	for _, d := range byName {
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func (e *Engine) storedDefinitions(ctx context.Context, site string) ([]config.Audience, error) {
	rows, err := e.db.Query(ctx, `SELECT name, argMax(definition, updated), argMax(deleted, updated)
		FROM seg_audience_defs WHERE site = @site GROUP BY name`, clickhouse.Named("site", site))
	if err != nil {
		return nil, fmt.Errorf("cannot read audience definitions: %w", err)
	}
	defer rows.Close()
	var out []config.Audience
	for rows.Next() {
		var name, def string
		var deleted uint8
		if err := rows.Scan(&name, &def, &deleted); err != nil {
			return nil, err
		}
		if deleted == 1 {
			continue
		}
		a, err := DecodeAudience([]byte(def))
		if err == nil {
			// Stored before a check was added: one left in would fail
			// every run of the site (planEvents validates them all).
			err = a.Validate()
		}
		if err != nil {
			e.log.Warn("stored audience definition no longer valid: skipped", "site", site, "audience", name, "err", err)
			continue
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// DecodeAudience reads a JSON definition strictly: unknown fields are
// errors naming the field.
func DecodeAudience(b []byte) (config.Audience, error) {
	var a config.Audience
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&a); err != nil {
		msg := err.Error()
		if f, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
			return a, &config.FieldError{Field: strings.Trim(f, `"`), Message: "unknown field"}
		}
		if f := badDuration(b); f != "" {
			return a, &config.FieldError{Field: f, Message: strings.TrimPrefix(msg, "json: ")}
		}
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return a, &config.FieldError{Field: te.Field, Message: "wrong type: want " + te.Type.String()}
		}
		return a, &config.FieldError{Field: "body", Message: strings.TrimPrefix(msg, "json: ")}
	}
	if dec.More() {
		return a, &config.FieldError{Field: "body", Message: "one JSON object expected"}
	}
	// Trait keys are map keys: they differ by case.
	if f := httpx.RepeatedKey(b, func(path string) bool { return strings.HasSuffix(path, ".traits") }); f != "" {
		return a, &config.FieldError{Field: f, Message: "given twice (only the last would count)"}
	}
	return a, nil
}

// badDuration finds the duration field that does not parse: JSON reports
// a custom type's error without its path.
func badDuration(b []byte) string {
	var doc struct {
		Window      json.RawMessage `json:"window"`
		Attribution json.RawMessage `json:"attribution_window"`
		Include     []map[string]json.RawMessage
		Exclude     []map[string]json.RawMessage
	}
	if json.Unmarshal(b, &doc) != nil {
		return ""
	}
	bad := func(raw json.RawMessage) bool {
		var d config.Duration
		return len(raw) > 0 && d.UnmarshalJSON(raw) != nil
	}
	if bad(doc.Window) {
		return "window"
	}
	if bad(doc.Attribution) {
		return "attribution_window"
	}
	for name, conds := range map[string][]map[string]json.RawMessage{"include": doc.Include, "exclude": doc.Exclude} {
		for i, c := range conds {
			for _, key := range []string{"since", "until"} {
				if bad(c[key]) {
					return fmt.Sprintf("%s[%d].%s", name, i, key)
				}
			}
		}
	}
	return ""
}

// PutAudience validates a definition (checkDefinition) and stores it,
// unless the site's audiences would then hold more events conditions than
// a run can evaluate (config.MaxSiteEventConditions).
func (e *Engine) PutAudience(ctx context.Context, site string, a config.Audience) error {
	if err := e.checkDefinition(ctx, site, a); err != nil {
		return err
	}
	defs, err := e.Audiences(ctx, site)
	if err != nil {
		return err
	}
	defs = slices.DeleteFunc(defs, func(d config.Audience) bool { return d.Name == a.Name })
	if n := config.EventConditions(append(defs, a)); n > config.MaxSiteEventConditions {
		return httpx.Errorf(httpx.Invalid, fmt.Sprintf("include, exclude: with this definition the site's audiences would hold %d events conditions, at most %d (a run evaluates them all in one statement)",
			n, config.MaxSiteEventConditions))
	}
	def, err := json.Marshal(a)
	if err != nil {
		return err
	}
	return e.storeDefinition(ctx, site, a.Name, string(def), 0)
}

// storeDefinition records a version of a definition (or a tombstone).
// The latest version is the one with the highest updated, so a new one
// follows every version recorded: at this process's clock, or just after
// the newest when another instance's clock put that one later (a PUT
// from a clock behind answered 200 and was never in effect).
func (e *Engine) storeDefinition(ctx context.Context, site, name, def string, deleted uint8) error {
	var latest uint64
	if err := e.db.QueryRow(ctx, `SELECT max(updated) FROM seg_audience_defs WHERE site = @site AND name = @name`,
		clickhouse.Named("site", site), clickhouse.Named("name", name)).Scan(&latest); err != nil {
		return fmt.Errorf("cannot read audience definitions: %w", err)
	}
	return e.db.InsertRow(ctx, "INSERT INTO seg_audience_defs (site, name, definition, deleted, updated)",
		site, name, def, deleted, max(uint64(time.Now().UnixNano()), latest+1))
}

// checkDefinition validates a definition, including that its categories
// exist in the catalog and that it compiles.
func (e *Engine) checkDefinition(ctx context.Context, site string, a config.Audience) error {
	if err := a.Validate(); err != nil {
		return invalid(err)
	}
	plan, err := planEvents([]config.Audience{a})
	if err != nil {
		return invalid(err)
	}
	if _, _, err := membersQuery(a, plan); err != nil {
		return invalid(err)
	}
	return e.checkCategories(ctx, site, a)
}

// DeleteAudience tombstones an API-defined audience.
func (e *Engine) DeleteAudience(ctx context.Context, site, name string) error {
	defs, err := e.Definitions(ctx, site)
	if err != nil {
		return err
	}
	for _, d := range defs {
		if d.Name != name {
			continue
		}
		if d.Source == "config" {
			return httpx.Errorf(httpx.Conflict, fmt.Sprintf("audience %q is defined in the config file; remove it there", name))
		}
		return e.storeDefinition(ctx, site, name, "", 1)
	}
	// A stored definition that is no longer valid is skipped, so not
	// listed; it can still be deleted.
	var versions uint64
	var deleted uint8
	if err := e.db.QueryRow(ctx, `SELECT count(), argMax(deleted, updated) FROM seg_audience_defs WHERE site = @site AND name = @name`,
		clickhouse.Named("site", site), clickhouse.Named("name", name)).Scan(&versions, &deleted); err != nil {
		return err
	}
	if versions > 0 && deleted == 0 {
		return e.storeDefinition(ctx, site, name, "", 1)
	}
	return httpx.Errorf(httpx.NotFound, fmt.Sprintf("no audience %q", name))
}

// checkCategories rejects category paths no catalog product is under.
func (e *Engine) checkCategories(ctx context.Context, site string, a config.Audience) error {
	check := func(at string, cs []config.Condition) error {
		for i, c := range cs {
			for j, cat := range normalizeCategories(c.Categories) {
				var n uint64
				err := e.db.QueryRow(ctx, `SELECT count() FROM v_products WHERE site = @site AND (category = @cat OR startsWith(category, concat(@cat, ' > ')))`,
					clickhouse.Named("site", site), clickhouse.Named("cat", cat)).Scan(&n)
				if err != nil {
					return err
				}
				if n == 0 {
					return httpx.Errorf(httpx.Invalid, fmt.Sprintf("%s[%d].categories[%d]: unknown category %q (no catalog product is under it)", at, i, j, cat))
				}
			}
		}
		return nil
	}
	if err := check("include", a.Include); err != nil {
		return err
	}
	return check("exclude", a.Exclude)
}

func invalid(err error) error {
	return httpx.Errorf(httpx.Invalid, err.Error())
}
