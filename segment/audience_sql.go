package segment

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/remarket/remarket/internal/config"
)

// membersQuery is the one builder that turns an audience definition into
// SQL: an INSERT of the audience's members into seg_members. Every value
// from the definition is a bound parameter (@cN_...); the only text it
// adds are fixed fragments chosen from the tables in this file. The run's
// shared parameters (@site, @run, @now, @audience) are bound by the caller.
//
// Semantics: a visitor is a member when every include condition holds,
// no exclude condition holds, they are not opted out (profiles only hold
// non-bot visitors) and their trigger time — the latest time among the
// include conditions' matching activity — is within the window.
func membersQuery(a config.Audience) (string, []any, error) {
	if err := a.Validate(); err != nil {
		return "", nil, err
	}
	b := &builder{}
	var inc []string
	for i, c := range a.Include {
		inc = append(inc, b.condition(i, c))
	}
	var exc []string
	for i, c := range a.Exclude {
		exc = append(exc, b.condition(100+i, c))
	}
	having := "uniqExact(cond) = " + b.bind("n_includes", uint8(len(inc)))
	if a.Window > 0 {
		having += " AND trigger_time >= toDateTime(@now - " + b.bind("window_s", seconds(a.Window)) + ")"
	}
	excluded := "0"
	if len(exc) > 0 {
		excluded = "visitor_id IN (SELECT visitor_id FROM (\n" + strings.Join(exc, "\nUNION ALL\n") + "\n))"
	}
	q := `INSERT INTO seg_members (site, run_id, audience, visitor_id, user_id, email_sha256, stage, customer_type, trigger_time)
SELECT @site, @run, @audience, visitor_id, user_id, email_sha256, stage, customer_type, trigger_time
FROM (
    SELECT visitor_id, trigger_time, user_id, email_sha256, customer_type
    FROM (
        SELECT visitor_id, max(trig) AS trigger_time
        FROM (
` + strings.Join(inc, "\nUNION ALL\n") + `
        )
        GROUP BY visitor_id
        HAVING ` + having + `
    ) ANY INNER JOIN (
        SELECT visitor_id, user_id, email_sha256, customer_type
        FROM seg_profiles WHERE site = @site AND run_id = @run AND opted_out = 0
    ) USING visitor_id
    WHERE NOT (` + excluded + `)
) ANY LEFT JOIN (
    SELECT visitor_id, argMax(stage, last_time) AS stage
    FROM seg_product_interests WHERE site = @site AND run_id = @run
    GROUP BY visitor_id
) USING visitor_id`
	return q, b.args, nil
}

// stageTime is the column that dates each stage.
var stageTime = map[string]string{
	config.Browsed:   "last_time",
	config.Carted:    "carted_at",
	config.Purchased: "purchased_at",
}

type builder struct{ args []any }

// bind adds a named parameter and returns its placeholder.
func (b *builder) bind(name string, v any) string {
	b.args = append(b.args, clickhouse.Named(name, v))
	return "@" + name
}

// condition returns "SELECT cond, visitor_id, trig ..." for condition c,
// numbered n (parameter names and the cond column).
func (b *builder) condition(n int, c config.Condition) string {
	p := fmt.Sprintf("c%d_", n)
	cond := "toUInt8(" + b.bind(p+"n", uint8(n%100)) + ") AS cond"
	where := []string{"site = @site", "run_id = @run"}
	cats := normalizeCategories(c.Categories)
	switch {
	case len(c.Events) > 0:
		where = append(where, "has("+b.bind(p+"events", c.Events)+", type)")
		where = append(where, b.narrow(p, cats, c.Products)...)
		where = append(where, b.window(p, "event_time", c)...)
		minCount := c.MinCount
		if minCount == 0 {
			minCount = 1
		}
		having := "count() >= " + b.bind(p+"min", uint64(minCount))
		if c.MaxCount > 0 {
			having += " AND count() <= " + b.bind(p+"max", uint64(c.MaxCount))
		}
		return "SELECT " + cond + ", visitor_id, max(event_time) AS trig FROM seg_lines WHERE " +
			strings.Join(where, " AND ") + " GROUP BY visitor_id HAVING " + having
	case c.Stage != "":
		col := stageTime[c.Stage]
		where = append(where, "stage = "+b.bind(p+"stage", c.Stage))
		where = append(where, b.narrow(p, cats, c.Products)...)
		where = append(where, b.window(p, col, c)...)
		return "SELECT " + cond + ", visitor_id, max(" + col + ") AS trig FROM seg_product_interests WHERE " +
			strings.Join(where, " AND ") + " GROUP BY visitor_id"
	case c.MinScore != 0:
		score := "score >= " + b.bind(p+"min_score", c.MinScore)
		if len(c.Products) > 0 {
			where = append(where, "has("+b.bind(p+"products", c.Products)+", product_id)", score)
			return "SELECT " + cond + ", visitor_id, max(last_time) AS trig FROM seg_product_interests WHERE " +
				strings.Join(where, " AND ") + " GROUP BY visitor_id"
		}
		if len(cats) > 0 {
			where = append(where, "has("+b.bind(p+"categories", cats)+", category)")
		}
		where = append(where, score)
		return "SELECT " + cond + ", visitor_id, max(last_time) AS trig FROM seg_category_interests WHERE " +
			strings.Join(where, " AND ") + " GROUP BY visitor_id"
	case len(c.Traits) > 0:
		keys := make([]string, 0, len(c.Traits))
		for k := range c.Traits {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for i, k := range keys {
			kp := b.bind(fmt.Sprintf("%sk%d", p, i), k)
			vp := b.bind(fmt.Sprintf("%sv%d", p, i), c.Traits[k])
			where = append(where, "(visitParamExtractString(traits, "+kp+") = "+vp+" OR visitParamExtractRaw(traits, "+kp+") = "+vp+")")
		}
		return "SELECT " + cond + ", visitor_id, last_seen AS trig FROM seg_profiles WHERE " + strings.Join(where, " AND ")
	default: // customer type
		where = append(where, "customer_type = "+b.bind(p+"customer_type", strings.ToLower(c.CustomerType)))
		return "SELECT " + cond + ", visitor_id, last_seen AS trig FROM seg_profiles WHERE " + strings.Join(where, " AND ")
	}
}

// narrow restricts rows to category prefixes and product ids.
func (b *builder) narrow(p string, cats, products []string) []string {
	var w []string
	if len(cats) > 0 {
		// A row is under a given path when one of its own prefixes equals
		// it. (arrayExists(c -> startsWith(category, c), ...) would read
		// better, but ClickHouse 18.16 cannot capture the column there.)
		w = append(w, "hasAny("+b.bind(p+"categories", cats)+", arrayMap(i -> arrayStringConcat(arraySlice(splitByString(' > ', category), 1, i), ' > '), arrayEnumerate(splitByString(' > ', category))))")
	}
	if len(products) > 0 {
		w = append(w, "has("+b.bind(p+"products", products)+", product_id)")
	}
	return w
}

// window bounds col to [now − since, now − until].
func (b *builder) window(p, col string, c config.Condition) []string {
	var w []string
	if c.Since > 0 {
		w = append(w, col+" >= toDateTime(@now - "+b.bind(p+"since", seconds(c.Since))+")")
	}
	if c.Until > 0 {
		w = append(w, col+" <= toDateTime(@now - "+b.bind(p+"until", seconds(c.Until))+")")
	}
	if c.Since == 0 && c.Until == 0 && col != "event_time" {
		w = append(w, col+" > toDateTime(0)")
	}
	return w
}

func seconds(d config.Duration) int64 { return int64(time.Duration(d) / time.Second) }

// normalizeCategories writes paths the way the catalog does: "A > B".
func normalizeCategories(in []string) []string {
	out := make([]string, 0, len(in))
	for _, c := range in {
		out = append(out, NormalizeCategory(c))
	}
	return out
}

// NormalizeCategory trims each level of a "A > B" path and joins with " > ".
func NormalizeCategory(c string) string {
	parts := strings.Split(c, ">")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	return strings.Join(parts, " > ")
}
