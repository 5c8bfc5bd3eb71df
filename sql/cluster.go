package sql

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/remarket/remarket/internal/chdb"
)

// On a cluster (config clickhouse_cluster), the migrations stay the
// single-node statements they are; layout turns each into the cluster's
// (the layout is described at chdb.Cluster):
//
//   - CREATE TABLE of a table with a visitor (a vh UInt64 or a visitor_id
//     column, or listed in shardedWithoutVisitor) makes the shard's table
//     in the shard database, as Replicated<engine> under
//     /clickhouse/tables/{shard}/<shard db>/<table>/… with replica
//     {replica}, and a Distributed table of the same name in the database,
//     sharded by the visitor (vh, or cityHash64(visitor_id): the same
//     number);
//   - the path ends in the statement that made the table (030-2: the
//     migration and the statement's place in it), so a table dropped and
//     made again gets a new path: ON CLUSTER runs the DROP and the CREATE
//     on each node in turn, and a node that made the table again while
//     another still dropped the old one would find half its ZooKeeper
//     nodes gone. Fixed per statement, a CREATE run again after a failure
//     joins the replicas its first run made;
//   - CREATE TABLE of any other table makes it in the database, whole on
//     every node: Replicated<engine> under /clickhouse/tables/all/<db>/<table>/…
//     with replica {shard}-{replica}, and a view of it in the shard
//     database under the same name;
//   - CREATE VIEW makes the view in both databases, with the table names
//     of its query qualified (ClickHouse 18.16 runs ON CLUSTER DDL in the
//     default database): in the database over the Distributed tables, IN
//     subqueries GLOBAL (the initiator reads the current-run pointer once
//     for all shards), in the shard database over the shard's tables;
//   - CREATE MATERIALIZED VIEW goes where its source table's rows are;
//   - DROP TABLE and ALTER TABLE follow the table.
//
// Every statement carries ON CLUSTER: the DDL queue in ZooKeeper runs it
// on every node in one order, also on a node that was down, once it is
// back. A statement the layout does not know is refused, so a migration
// that would make a table on one node only fails its tests instead.
//
// One definition makes both layouts, as PostHog's table functions do,
// without markers in the files: the single-node statement is the
// definition, and the engine functions below (replicated, distributed)
// derive the cluster's.

// shardedWithoutVisitor are tables sharded without a visitor column, by
// the key given: seg_product_lines is written by a materialized view of
// the sharded seg_visitors, so it must live beside it.
var shardedWithoutVisitor = map[string]string{
	"seg_product_lines": "rand()",
}

// wholeWithVisitor are tables with a visitor column that every node holds
// whole: erasure_subjects lists the people an erasure deletes, and every
// shard's deletion reads all of them.
var wholeWithVisitor = map[string]bool{
	"erasure_subjects": true,
}

type objectKind int

const (
	kindTable objectKind = iota
	kindView
	kindMatView
)

// object is a table or view of the layout: sharded tables live in the
// shard database behind a Distributed table; a materialized view lives
// in the shard database when sharded.
type object struct {
	kind    objectKind
	sharded bool
}

// layout is the cluster's schema as the migrations have made it, and
// turns a single-node statement into the cluster's.
type layout struct {
	cluster string
	db      string // the DSN's database
	local   string // the shard database
	objects map[string]object
	// tag names the statement being rewritten (030-2) in the ZooKeeper
	// paths of the tables it makes.
	tag string
	// plan, when set, collects the statements instead (see plan).
	plan *plan
}

func newLayout(c *chdb.Cluster, db string) *layout {
	return &layout{cluster: c.Name, db: db, local: c.Local, objects: map[string]object{}}
}

// load reads the schema that exists (from one node: every node has the
// same, the DDL queue sees to it). ClickHouse 18.16 fails a read of
// system.tables when a table is dropped meanwhile (by another process
// migrating): it is read again.
func (l *layout) load(ctx context.Context, conn *chdb.DB) error {
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		if err = l.read(ctx, conn); err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return err
}

func (l *layout) read(ctx context.Context, conn *chdb.DB) error {
	rows, err := conn.Query(ctx, `SELECT database, name, engine FROM system.tables
		WHERE database IN (?, ?) AND NOT startsWith(name, '.inner.')`, l.db, l.local)
	if err != nil {
		return fmt.Errorf("cannot read the cluster's tables: %w", err)
	}
	defer rows.Close()
	l.objects = map[string]object{}
	for rows.Next() {
		var database, name, engine string
		if err := rows.Scan(&database, &name, &engine); err != nil {
			return err
		}
		switch {
		case name == "schema_migrations_lock":
			// The runner's, never a migration's.
		case database == l.local && engine == "MaterializedView":
			l.objects[name] = object{kind: kindMatView, sharded: true}
		case database == l.local:
			// Shards of sharded tables, views of whole tables and
			// copies of views: the database's entry says what it is.
		case engine == "Distributed":
			l.objects[name] = object{kind: kindTable, sharded: true}
		case engine == "View":
			l.objects[name] = object{kind: kindView}
		case engine == "MaterializedView":
			l.objects[name] = object{kind: kindMatView}
		default:
			l.objects[name] = object{kind: kindTable}
		}
	}
	return rows.Err()
}

var (
	reCreateTable = regexp.MustCompile(`(?is)^\s*CREATE\s+TABLE\s+(IF\s+NOT\s+EXISTS\s+)?(\w+)\s*\(`)
	reEngine      = regexp.MustCompile(`(?is)^\s*ENGINE\s*=\s*(\w+)\s*`)
	reCreateView  = regexp.MustCompile(`(?is)^\s*CREATE\s+VIEW\s+(IF\s+NOT\s+EXISTS\s+)?(\w+)\s+AS\s+(.*)$`)
	reCreateMV    = regexp.MustCompile(`(?is)^\s*CREATE\s+MATERIALIZED\s+VIEW\s+(IF\s+NOT\s+EXISTS\s+)?(\w+)\s+TO\s+(\w+)\s+AS\s+(.*)$`)
	reDropTable   = regexp.MustCompile(`(?is)^\s*DROP\s+TABLE\s+(IF\s+EXISTS\s+)?(\w+)\s*$`)
	reDropQual    = regexp.MustCompile(`^DROP TABLE IF EXISTS ([\w.]+) ON CLUSTER '[^']*'$`)
	reAlterTable  = regexp.MustCompile(`(?is)^\s*ALTER\s+TABLE\s+(\w+)\s+(.*)$`)
	reInsert      = regexp.MustCompile(`(?is)^\s*INSERT\s+INTO\s`)
	reColumnAlter = regexp.MustCompile(`(?is)^\s*(ADD|DROP|MODIFY|RENAME|COMMENT)\s+COLUMN\b`)
	// A table named after FROM or JOIN, unless a database qualifies it.
	reTableRef = regexp.MustCompile(`(?i)\b(FROM|JOIN)(\s+)([A-Za-z_][A-Za-z0-9_]*)\b(\s*\.)?`)
	// IN (SELECT …), with GLOBAL and NOT when there.
	reInSelect = regexp.MustCompile(`(?i)(\bGLOBAL\s+)?\b(NOT\s+)?\bIN(\s*\(\s*SELECT\b)`)
	reFirstRef = regexp.MustCompile(`(?i)\bFROM\s+([A-Za-z_][A-Za-z0-9_]*)\b`)
)

// rewrite turns one rendered single-node statement into the cluster's
// statements, and records what they make.
// While the layout plans (see plan), rewrite records instead and returns
// nothing to run.
func (l *layout) rewrite(stmt string) ([]string, error) {
	name, act, out, err := l.translate(stmt)
	if err != nil || l.plan == nil {
		return out, err
	}
	return nil, l.plan.record(name, act, l.objects[name].kind, out)
}

// action is what a statement does to the object it names.
type action int

const (
	actCreate action = iota
	actDrop
	actAlter
	actData
)

func (l *layout) translate(stmt string) (string, action, []string, error) {
	switch {
	case reCreateTable.MatchString(stmt):
		out, err := l.createTable(stmt)
		return reCreateTable.FindStringSubmatch(stmt)[2], actCreate, out, err
	case reCreateMV.MatchString(stmt):
		m := reCreateMV.FindStringSubmatch(stmt)
		out, err := l.createMatView(m[1] != "", m[2], m[3], m[4])
		return m[2], actCreate, out, err
	case reCreateView.MatchString(stmt):
		m := reCreateView.FindStringSubmatch(stmt)
		out, err := l.createView(m[1] != "", m[2], m[3])
		return m[2], actCreate, out, err
	case reDropTable.MatchString(stmt):
		m := reDropTable.FindStringSubmatch(stmt)
		return m[2], actDrop, l.drop(m[2]), nil
	case reAlterTable.MatchString(stmt):
		m := reAlterTable.FindStringSubmatch(stmt)
		out, err := l.alter(m[1], m[2])
		return m[1], actAlter, out, err
	case reInsert.MatchString(stmt):
		return "", actData, []string{stmt}, nil // through the Distributed tables
	}
	return "", 0, nil, fmt.Errorf("cannot run this statement on a cluster (sql/cluster.go knows CREATE TABLE, CREATE [MATERIALIZED] VIEW, DROP TABLE, ALTER TABLE and INSERT): %.80s", stmt)
}

// plan collects what a new cluster's migrations leave, instead of
// running every statement: each ON CLUSTER statement is a round through
// the DDL queue (0.1-0.5 s on 18.16), and the migrations make, drop and
// make again the same tables (179 statements where 83 make the result).
// What a migration drops never gets made; an ALTER joins its table's
// statements. Tables come first, then views (which read them, and each
// other in the order they were made), then materialized views.
type plan struct {
	order []string
	stmts map[string][]string
	kinds map[string]objectKind
}

// errUnplannable means a migration moves data: the plan cannot stand in
// for running it.
var errUnplannable = errors.New("a migration moves data")

func newPlan() *plan {
	return &plan{stmts: map[string][]string{}, kinds: map[string]objectKind{}}
}

func (p *plan) record(name string, act action, kind objectKind, out []string) error {
	switch act {
	case actData:
		return errUnplannable
	case actCreate:
		if len(out) == 0 {
			return nil // there already
		}
		p.order = slices.DeleteFunc(p.order, func(n string) bool { return n == name })
		p.order = append(p.order, name)
		p.stmts[name], p.kinds[name] = out, kind
	case actDrop:
		p.order = slices.DeleteFunc(p.order, func(n string) bool { return n == name })
		delete(p.stmts, name)
	case actAlter:
		chain, ok := p.stmts[name]
		if !ok {
			return fmt.Errorf("ALTER TABLE %s before the plan made it", name)
		}
		for _, q := range out {
			// A view the ALTER drops to make again (a whole table's
			// view in the shard database) is made once, after it.
			if m := reDropQual.FindStringSubmatch(q); m != nil {
				chain = slices.DeleteFunc(chain, func(c string) bool { return strings.HasPrefix(c, "CREATE VIEW IF NOT EXISTS "+m[1]+" ") })
				continue
			}
			chain = append(chain, q)
		}
		p.stmts[name] = chain
	}
	return nil
}

// statements are the plan's, in an order they can run one by one.
func (p *plan) statements() []string {
	var out []string
	for _, stage := range p.stages() {
		for _, chain := range stage {
			out = append(out, chain...)
		}
	}
	return out
}

// stages are the plan's statements as stages of chains: the chains of a
// stage are independent and may run at once (each is one object's
// statements, in order), and a stage needs the ones before it. Tables
// first, then views in levels (a view that reads another comes a level
// later), then materialized views.
func (p *plan) stages() [][][]string {
	var tables, mvs [][]string
	level := map[string]int{}
	var views []string
	for _, name := range p.order {
		switch p.kinds[name] {
		case kindTable:
			tables = append(tables, p.stmts[name])
		case kindMatView:
			mvs = append(mvs, p.stmts[name])
		case kindView:
			l := 0
			for _, other := range views {
				if reads(p.stmts[name], other) {
					l = max(l, level[other]+1)
				}
			}
			level[name] = l
			views = append(views, name)
		}
	}
	stages := [][][]string{tables}
	for l := 0; ; l++ {
		var stage [][]string
		for _, name := range views {
			if level[name] == l {
				stage = append(stage, p.stmts[name])
			}
		}
		if len(stage) == 0 {
			break
		}
		stages = append(stages, stage)
	}
	return append(stages, mvs)
}

// reads reports whether statements name view (qualified, as the layout
// writes it).
func reads(stmts []string, view string) bool {
	re := regexp.MustCompile(`\.` + regexp.QuoteMeta(view) + `\b`)
	for _, q := range stmts {
		// The view's own name follows CREATE VIEW; look after AS.
		if _, body, ok := strings.Cut(q, " AS "); ok && re.MatchString(body) {
			return true
		}
	}
	return false
}

func (l *layout) on() string { return " ON CLUSTER '" + l.cluster + "'" }

func (l *layout) createTable(stmt string) ([]string, error) {
	head := reCreateTable.FindStringSubmatchIndex(stmt)
	ifNotExists, name := head[2] >= 0, stmt[head[4]:head[5]]
	if o, ok := l.objects[name]; ok && ifNotExists && o.kind == kindTable {
		return nil, nil
	}
	open := head[1] - 1
	closing, err := matchParen(stmt, open)
	if err != nil {
		return nil, fmt.Errorf("table %s: %w", name, err)
	}
	body := stmt[open+1 : closing]
	rest := stmt[closing+1:]
	em := reEngine.FindStringSubmatchIndex(rest)
	if em == nil {
		return nil, fmt.Errorf("table %s: no ENGINE = after the columns", name)
	}
	engine := rest[em[2]:em[3]]
	args, tail := "", rest[em[1]:]
	if strings.HasPrefix(tail, "(") {
		end, err := matchParen(tail, 0)
		if err != nil {
			return nil, fmt.Errorf("table %s: engine arguments: %w", name, err)
		}
		args, tail = tail[1:end], tail[end+1:]
	}
	cols := columns(body)
	key, sharded := shardedWithoutVisitor[name]
	if !sharded && !wholeWithVisitor[name] {
		if cols["vh"] == "UInt64" {
			key, sharded = "vh", true
		} else if _, ok := cols["visitor_id"]; ok {
			key, sharded = "cityHash64(visitor_id)", true
		}
	}
	ine := ""
	if ifNotExists {
		ine = "IF NOT EXISTS "
	}
	var out []string
	if sharded {
		eng, err := replicated(engine, args, "/clickhouse/tables/{shard}/"+l.local+"/"+name+"/"+l.tag, "{replica}")
		if err != nil {
			return nil, fmt.Errorf("table %s: %w", name, err)
		}
		out = append(out,
			"CREATE TABLE "+ine+l.local+"."+name+l.on()+" ("+body+") ENGINE = "+eng+tail,
			"CREATE TABLE "+ine+l.db+"."+name+l.on()+" AS "+l.local+"."+name+" ENGINE = "+distributed(l.cluster, l.local, name, key))
	} else {
		if engine == "Null" {
			return nil, fmt.Errorf("table %s: a Null table without a visitor has nowhere to go on a cluster", name)
		}
		eng, err := replicated(engine, args, "/clickhouse/tables/all/"+l.db+"/"+name+"/"+l.tag, "{shard}-{replica}")
		if err != nil {
			return nil, fmt.Errorf("table %s: %w", name, err)
		}
		out = append(out,
			"CREATE TABLE "+ine+l.db+"."+name+l.on()+" ("+body+") ENGINE = "+eng+tail,
			"CREATE VIEW "+ine+l.local+"."+name+l.on()+" AS SELECT * FROM "+l.db+"."+name)
	}
	l.objects[name] = object{kind: kindTable, sharded: sharded}
	return out, nil
}

// replicated is the replicated engine of a single-node one: the
// ZooKeeper path and replica name come first, the engine's own
// arguments after them. Null stays Null (it stores nothing).
func replicated(engine, args, path, replica string) (string, error) {
	switch {
	case engine == "Null":
		return "Null", nil
	case strings.HasSuffix(engine, "MergeTree") && !strings.HasPrefix(engine, "Replicated"):
		a := "'" + path + "', '" + replica + "'"
		if strings.TrimSpace(args) != "" {
			a += ", " + strings.TrimSpace(args)
		}
		return "Replicated" + engine + "(" + a + ")", nil
	}
	return "", fmt.Errorf("engine %s has no replicated form (use a MergeTree)", engine)
}

// distributed is the engine of a sharded table's Distributed table.
func distributed(cluster, local, table, key string) string {
	return "Distributed('" + cluster + "', '" + local + "', '" + table + "', " + key + ")"
}

func (l *layout) createView(ifNotExists bool, name, query string) ([]string, error) {
	if o, ok := l.objects[name]; ok && ifNotExists && o.kind == kindView {
		return nil, nil
	}
	ine := ""
	if ifNotExists {
		ine = "IF NOT EXISTS "
	}
	l.objects[name] = object{kind: kindView}
	return []string{
		"CREATE VIEW " + ine + l.db + "." + name + l.on() + " AS " + globalIn(l.qualify(query, false)),
		"CREATE VIEW " + ine + l.local + "." + name + l.on() + " AS " + l.qualify(query, true),
	}, nil
}

func (l *layout) createMatView(ifNotExists bool, name, target, query string) ([]string, error) {
	if o, ok := l.objects[name]; ok && ifNotExists && o.kind == kindMatView {
		return nil, nil
	}
	m := reFirstRef.FindStringSubmatch(query)
	if m == nil {
		return nil, fmt.Errorf("materialized view %s: no source table", name)
	}
	src, ok := l.objects[m[1]]
	if !ok || src.kind != kindTable {
		return nil, fmt.Errorf("materialized view %s: source %s is not a table of the schema", name, m[1])
	}
	dst, ok := l.objects[target]
	if !ok || dst.kind != kindTable || dst.sharded != src.sharded {
		return nil, fmt.Errorf("materialized view %s: target %s must be a table sharded like its source %s (see shardedWithoutVisitor)", name, target, m[1])
	}
	ine := ""
	if ifNotExists {
		ine = "IF NOT EXISTS "
	}
	database := l.db
	if src.sharded {
		database = l.local
	}
	l.objects[name] = object{kind: kindMatView, sharded: src.sharded}
	return []string{"CREATE MATERIALIZED VIEW " + ine + database + "." + name + l.on() + " TO " + database + "." + target +
		" AS " + l.qualify(query, src.sharded)}, nil
}

func (l *layout) drop(name string) []string {
	o, ok := l.objects[name]
	if !ok {
		return nil // IF EXISTS of a table the schema does not have
	}
	delete(l.objects, name)
	drop := func(database string) string { return "DROP TABLE IF EXISTS " + database + "." + name + l.on() }
	switch {
	case o.kind == kindMatView && o.sharded:
		return []string{drop(l.local)}
	case o.kind == kindMatView:
		return []string{drop(l.db)}
	case o.kind == kindTable && !o.sharded:
		// The shard database's view of it first.
		return []string{drop(l.local), drop(l.db)}
	}
	// The Distributed table (or the view over it) before the shards.
	return []string{drop(l.db), drop(l.local)}
}

// EveryNode starts a statement of the cluster form that the runner sends
// to every node itself (runOnEveryNode), not through the DDL queue.
const EveryNode = "/* every node */ "

func (l *layout) alter(name, clause string) ([]string, error) {
	o, ok := l.objects[name]
	if !ok || o.kind != kindTable {
		return nil, fmt.Errorf("ALTER TABLE %s: not a table of the schema", name)
	}
	columnChange := reColumnAlter.MatchString(clause)
	if o.sharded {
		out := []string{"ALTER TABLE " + l.local + "." + name + l.on() + " " + clause}
		if columnChange {
			// The Distributed table's columns, on each node in turn:
			// ClickHouse 18.16 refuses ALTER … ON CLUSTER of a table that
			// is not replicated when the cluster's shards replicate
			// (internal_replication), and the DDL queue runs an ALTER of
			// a replicated table on one replica per shard only.
			out = append(out, EveryNode+"ALTER TABLE "+l.db+"."+name+" "+clause)
		}
		return out, nil
	}
	// A whole table's replicas share one ZooKeeper path: the ALTER runs
	// on one node and replication applies it on the others (ON CLUSTER
	// would run it once per shard, the second time failing).
	out := []string{"ALTER TABLE " + l.db + "." + name + " " + clause}
	if columnChange {
		// The shard database's view lists the columns it was made with.
		out = append(out,
			"DROP TABLE IF EXISTS "+l.local+"."+name+l.on(),
			"CREATE VIEW IF NOT EXISTS "+l.local+"."+name+l.on()+" AS SELECT * FROM "+l.db+"."+name)
	}
	return out, nil
}

// qualify names the database of every table of the schema after FROM
// and JOIN: in the database, or for the shard database's copy of a
// query, the shard's own tables and views and the database's whole ones.
func (l *layout) qualify(query string, shard bool) string {
	return reTableRef.ReplaceAllStringFunc(query, func(ref string) string {
		m := reTableRef.FindStringSubmatch(ref)
		o, ok := l.objects[m[3]]
		if m[4] != "" || !ok {
			return ref
		}
		database := l.db
		if shard && (o.sharded || o.kind == kindView) {
			database = l.local
		}
		return m[1] + m[2] + database + "." + m[3]
	})
}

// globalIn makes IN (SELECT …) GLOBAL: the subquery runs once, on the
// node the query came to, instead of once on each shard.
func globalIn(query string) string {
	return reInSelect.ReplaceAllStringFunc(query, func(in string) string {
		m := reInSelect.FindStringSubmatch(in)
		if m[1] != "" {
			return in
		}
		return "GLOBAL " + m[2] + "IN" + m[3]
	})
}

// columns maps each column of a CREATE TABLE body to its type.
func columns(body string) map[string]string {
	out := map[string]string{}
	depth, start := 0, 0
	add := func(def string) {
		f := strings.Fields(def)
		if len(f) >= 2 {
			out[strings.Trim(f[0], "`")] = f[1]
		}
	}
	for i, r := range body {
		switch r {
		case '(':
			depth++
		case ')':
			depth--
		case ',':
			if depth == 0 {
				add(body[start:i])
				start = i + 1
			}
		}
	}
	add(body[start:])
	return out
}

// matchParen is the index of the parenthesis closing the one at open
// (quotes are not expected in DDL around them).
func matchParen(s string, open int) (int, error) {
	depth := 0
	for i := open; i < len(s); i++ {
		switch s[i] {
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				return i, nil
			}
		}
	}
	return 0, fmt.Errorf("unbalanced parentheses")
}
