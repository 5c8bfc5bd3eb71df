package segment

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/remarket/remarket/internal/config"
)

// eventPlan numbers every event condition of a run's audiences. The
// profiles pass (03_profiles) evaluates them all per visitor in its one
// read of the events, into two arrays: cond_events[k] (matching lines)
// and cond_last[k] (the latest one's time); membership reads those arrays
// instead of going back to the events.
//
// Each aggregate costs a pass over every line, so a condition gets only
// what membership reads: an include its latest time (which also says
// whether there was one); an exclude only whether there was one, all
// excludes sharing one bitmask aggregate; a count only when min_count > 1
// or max_count is set.
type eventPlan struct {
	counts, lasts []string       // per condition: expressions for cond_events[k], cond_last[k]
	flags         []string       // exclude conditions sharing the bitmask, bit i = flags[i]
	args          []any          // their bound values
	index         map[string]int // condition key → 1-based array index
	windows       []int64        // every event window's bound in seconds (since, until), for incremental runs
}

// maxFlags is how many exclude conditions share the bitmask.
const maxFlags = 63

// planEvents compiles the event conditions of audiences. Every value is a
// bound parameter (@eN_...).
func planEvents(audiences []config.Audience) (*eventPlan, error) {
	p := &eventPlan{index: map[string]int{}}
	b := &builder{}
	add := func(key string, c config.Condition, exclude bool) {
		if len(c.Events) == 0 {
			return
		}
		n := len(p.counts) + 1
		pre := fmt.Sprintf("e%d_", n)
		where := []string{"has(" + b.bind(pre+"events", c.Events) + ", type)"}
		where = append(where, b.narrow(pre, normalizeCategories(c.Categories), c.Products, "pid")...)
		where = append(where, b.window(pre, "event_time", c)...)
		for _, w := range []config.Duration{c.Since, c.Until} {
			if w > 0 && !slices.Contains(p.windows, seconds(w)) {
				p.windows = append(p.windows, seconds(w))
			}
		}
		cond := strings.Join(where, " AND ")
		counted := c.MinCount > 1 || c.MaxCount > 0
		last, count := "maxIf(event_time, "+cond+")", "toUInt64("+"maxIf(event_time, "+cond+") > toDateTime(0))"
		switch {
		case exclude && !counted && len(p.flags) < maxFlags:
			bit := uint64(1) << len(p.flags)
			p.flags = append(p.flags, cond)
			last, count = "toDateTime(0)", fmt.Sprintf("toUInt64(bitAnd(flags, %d) != 0)", bit)
		case counted:
			count = "countIf(" + cond + ")"
		}
		p.counts = append(p.counts, count)
		p.lasts = append(p.lasts, last)
		p.index[key] = n
	}
	for _, a := range audiences {
		if err := a.Validate(); err != nil {
			return nil, err
		}
		for i, c := range a.Include {
			add(condKey(a.Name, i), c, false)
		}
		for i, c := range a.Exclude {
			add(condKey(a.Name, 100+i), c, true)
		}
	}
	p.args = b.args
	return p, nil
}

func condKey(audience string, n int) string { return fmt.Sprintf("%s/%d", audience, n) }

// fragments are the expressions 03_profiles computes: the bitmask of
// exclude conditions a visitor's lines met, and the two arrays.
func (p *eventPlan) fragments() (flags, counts, lasts string) {
	flags = "toUInt64(0)"
	if len(p.flags) > 0 {
		bits := make([]string, len(p.flags))
		for i, f := range p.flags {
			bits[i] = fmt.Sprintf("toUInt64(%s) * %d", f, uint64(1)<<i)
		}
		flags = "groupBitOr(" + strings.Join(bits, " + ") + ")"
	}
	if len(p.counts) == 0 {
		return flags, "emptyArrayUInt64()", "emptyArrayDateTime()"
	}
	return flags, "[" + strings.Join(p.counts, ", ") + "]", "[" + strings.Join(p.lasts, ", ") + "]"
}

// membersQuery is the one builder that turns an audience definition into
// SQL: an INSERT of the visitors its conditions select into
// seg_member_candidates, then (membersSQL) of its members into seg_members. Every value
// from the definition is a bound parameter (@cN_...); the only text it
// adds are fixed fragments chosen from the tables in this file. The run's
// shared parameters (@site, @run, @now, @audience) are bound by the caller.
//
// Semantics: a visitor is a member when every include condition holds,
// no exclude condition holds, they are not opted out (profiles only hold
// non-bot visitors) and their trigger time — the latest time among the
// include conditions' matching activity — is within the window.
func membersQuery(a config.Audience, plan *eventPlan) ([]string, []any, error) {
	if err := a.Validate(); err != nil {
		return nil, nil, err
	}
	b := &builder{plan: plan, audience: a.Name}
	// Conditions read from profiles are cheap; those that sum interests
	// are not. Every include must hold, so the latter only need to look
	// at the visitors the first profile condition lets through.
	inc := make([]string, len(a.Include))
	for i, c := range a.Include {
		if fromProfiles(c) {
			inc[i] = b.condition(i, c)
			if b.seed == "" {
				b.seed = b.lastWhere
			}
		}
	}
	for i, c := range a.Include {
		if !fromProfiles(c) {
			inc[i] = b.condition(i, c)
		}
	}
	b.seed = ""
	var exc []string
	for i, c := range a.Exclude {
		exc = append(exc, b.condition(100+i, c))
	}
	// Each include sets its bit (cond is its number); a visitor qualifies
	// when all are set. One UInt64 state per visitor, where uniqExact kept
	// a hash set each (0.75 → 0.55 s of CPU for a condition most of the
	// benchmark's million visitors meet).
	having := "groupBitOr(bitShiftLeft(toUInt64(1), cond)) = " + b.bind("all_includes", ^uint64(0)>>(64-len(inc)))
	if a.Window > 0 {
		having += " AND trigger_time >= " + ago("@now", b.bind("window_s", seconds(a.Window)))
	}
	excluded := ""
	if len(exc) > 0 {
		excluded = "\n        AND vh NOT IN (SELECT vh FROM (\n" + strings.Join(exc, "\nUNION ALL\n") + "\n))"
	}
	candidates := `INSERT INTO seg_member_candidates (site, run_id, audience, vh, trigger_time)
SELECT @site, @run, @audience, vh, trigger_time
FROM (
    SELECT vh, max(trig) AS trigger_time
    FROM (
` + strings.Join(inc, "\nUNION ALL\n") + `
    )
    GROUP BY vh
    HAVING ` + having + excluded + `
)`
	return []string{candidates, membersSQL}, b.args, nil
}

// membersSQL turns an audience's candidates into members: not opted out,
// with their identity, customer type and latest product stage (of two
// products last touched in one second, the further stage). Both
// joined sides are narrowed to the candidates by PREWHERE first, so a
// small audience reads only its members' profile strings and interests.
// Each member's group (treatment or holdout, groupSQL) comes with them.
const membersSQL = `INSERT INTO seg_members (site, run_id, audience, visitor_id, user_id, email_sha256, stage, customer_type, trigger_time, grp)
SELECT @site, @run, @audience, visitor_id, user_id, email_sha256, stage, customer_type, trigger_time, ` + groupSQL + `
FROM (
    SELECT vh, trigger_time, visitor_id, user_id, email_sha256, customer_type
    FROM (
        SELECT vh, trigger_time FROM seg_member_candidates WHERE site = @site AND run_id = @run AND audience = @audience
    ) AS candidates ALL INNER JOIN (
        SELECT vh, visitor_id, user_id, email_sha256, customer_type
        FROM seg_profiles
        PREWHERE vh IN (SELECT vh FROM seg_member_candidates WHERE site = @site AND run_id = @run AND audience = @audience)
        WHERE site = @site AND run_id = @run AND opted_out = 0
    ) AS profiles USING vh
) AS members ANY LEFT JOIN (
    SELECT vh, argMax(stage, (last_time, stage)) AS stage
    FROM seg_interests
    PREWHERE vh IN (SELECT vh FROM seg_member_candidates WHERE site = @site AND run_id = @run AND audience = @audience)
    WHERE site = @site AND run_id = @run AND ph != 0
    GROUP BY vh
) AS stages USING vh`

// seeded narrows an interest condition to the visitors of the seed.
func (b *builder) seeded() []string {
	if b.seed == "" {
		return nil
	}
	return []string{"vh IN (SELECT vh FROM seg_profiles WHERE " + b.seed + ")"}
}

// stageTime is the column that dates each stage.
var stageTime = map[string]string{
	config.Browsed:   "last_time",
	config.Carted:    "carted_at",
	config.Purchased: "purchased_at",
}

type builder struct {
	args      []any
	plan      *eventPlan
	audience  string
	seed      string // a WHERE on seg_profiles; when set, interest conditions only look at its visitors
	lastWhere string // the WHERE of the last condition read from seg_profiles
}

// fromProfiles reports whether condition c is answered by seg_profiles.
func fromProfiles(c config.Condition) bool {
	return len(c.Events) > 0 || (c.Stage == "" && c.MinScore == 0)
}

// bind adds a named parameter and returns its placeholder.
func (b *builder) bind(name string, v any) string {
	b.args = append(b.args, clickhouse.Named(name, v))
	return "@" + name
}

// prefixes is every prefix of a row's category path ("A", "A > B", ...).
// (arrayExists(c -> startsWith(category, c), ...) would read better, but
// ClickHouse 18.16 cannot capture the column there.)
func prefixes(col string) string {
	return "arrayMap(i -> arrayStringConcat(arraySlice(splitByString(' > ', " + col + "), 1, i), ' > '), arrayEnumerate(splitByString(' > ', " + col + ")))"
}

// condition returns "SELECT cond, vh, trig ..." for condition c, numbered
// n (parameter names and the cond column).
func (b *builder) condition(n int, c config.Condition) string {
	p := fmt.Sprintf("c%d_", n)
	cond := "toUInt8(" + b.bind(p+"n", uint8(n%100)) + ") AS cond"
	where := []string{"site = @site", "run_id = @run"}
	cats := normalizeCategories(c.Categories)
	switch {
	case len(c.Events) > 0:
		k := b.bind(p+"k", uint64(b.plan.index[condKey(b.audience, n)]))
		minCount := c.MinCount
		if minCount == 0 {
			minCount = 1
		}
		where = append(where, "opted_out = 0", "cond_events["+k+"] >= "+b.bind(p+"min", uint64(minCount)))
		if c.MaxCount > 0 {
			where = append(where, "cond_events["+k+"] <= "+b.bind(p+"max", uint64(c.MaxCount)))
		}
		b.lastWhere = strings.Join(where, " AND ")
		return "SELECT " + cond + ", vh, cond_last[" + k + "] AS trig FROM seg_profiles WHERE " + b.lastWhere
	case c.Stage != "":
		col := stageTime[c.Stage]
		where = append(where, b.seeded()...)
		where = append(where, "ph != 0", "stage = "+b.bind(p+"stage", c.Stage))
		where = append(where, b.narrow(p, cats, c.Products, "")...)
		where = append(where, b.window(p, col, c)...)
		return "SELECT " + cond + ", vh, max(" + col + ") AS trig FROM seg_interests WHERE " +
			strings.Join(where, " AND ") + " GROUP BY vh"
	case c.MinScore != 0:
		where = append(where, b.seeded()...)
		score := b.bind(p+"min_score", c.MinScore)
		if len(c.Products) > 0 {
			// Named categories narrow the products as in every other
			// condition (they were once left out without a word).
			where = append(where, b.narrow(p, cats, c.Products, "")...)
			where = append(where, "score >= "+score)
			return "SELECT " + cond + ", vh, max(last_time) AS trig FROM seg_interests WHERE " +
				strings.Join(where, " AND ") + " GROUP BY vh"
		}
		// A category's interest is the sum of the interest rows under it.
		// Without named categories, any category at any level: weights
		// are never negative, so a top-level category scores at least as
		// much as any category under it and is the only level to sum.
		level := "splitByString(' > ', category)[1]"
		if len(cats) > 0 {
			cp := b.bind(p+"categories", cats)
			where = append(where, "hasAny("+cp+", "+prefixes("category")+")")
			level = "arrayJoin(arrayFilter(x -> has(" + cp + ", x), " + prefixes("category") + "))"
		}
		where = append(where, "category != ''")
		return "SELECT " + cond + ", v AS vh, max(lt) AS trig FROM (SELECT any(vh) AS v, sum(score) AS s, max(last_time) AS lt FROM (" +
			"SELECT vh, score, last_time, " + level + " AS c FROM seg_interests WHERE " + strings.Join(where, " AND ") +
			") GROUP BY cityHash64(vh, c) HAVING s >= " + score + ") GROUP BY v"
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
		b.lastWhere = strings.Join(where, " AND ")
		return "SELECT " + cond + ", vh, last_seen AS trig FROM seg_profiles WHERE " + b.lastWhere
	default: // customer type
		where = append(where, "customer_type = "+b.bind(p+"customer_type", strings.ToLower(c.CustomerType)))
		b.lastWhere = strings.Join(where, " AND ")
		return "SELECT " + cond + ", vh, last_seen AS trig FROM seg_profiles WHERE " + b.lastWhere
	}
}

// narrow restricts rows to category prefixes and product ids. Rows of
// seg_interests know a product by its hash; event lines (idCol "pid") by
// its id.
func (b *builder) narrow(p string, cats, products []string, idCol string) []string {
	var w []string
	if len(cats) > 0 {
		w = append(w, "hasAny("+b.bind(p+"categories", cats)+", "+prefixes("category")+")")
	}
	if len(products) > 0 {
		if idCol != "" {
			w = append(w, "has("+b.bind(p+"products", products)+", "+idCol+")")
		} else {
			w = append(w, "ph IN (SELECT cityHash64(arrayJoin("+b.bind(p+"products", products)+")))")
		}
	}
	return w
}

// window bounds col to [now − since, now − until].
func (b *builder) window(p, col string, c config.Condition) []string {
	var w []string
	if c.Since > 0 {
		w = append(w, col+" >= "+ago("@now", b.bind(p+"since", seconds(c.Since))))
	}
	if c.Until > 0 {
		w = append(w, col+" <= "+ago("@now", b.bind(p+"until", seconds(c.Until))))
	}
	if c.Since == 0 && c.Until == 0 && col != "event_time" {
		w = append(w, col+" > toDateTime(0)")
	}
	return w
}

func seconds(d config.Duration) int64 { return int64(time.Duration(d) / time.Second) }

// ago is the time span seconds before from (both SQL expressions of
// seconds), 1970-01-01 at the earliest. toDateTime of a time before 1970
// wraps round to the 2060s on ClickHouse 18.16 and stops at 1970 on
// current servers, so a window longer than the time since 1970 ("since:
// 36500d", meaning ever) held nobody on one and everybody on the other.
func ago(from, span string) string {
	return "toDateTime(greatest(" + from + " - " + span + ", 0))"
}

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
