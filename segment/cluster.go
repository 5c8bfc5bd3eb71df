package segment

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/remarket/remarket/internal/catalog"
	"github.com/remarket/remarket/internal/chdb"
)

// On a cluster (chdb.Cluster) a run's queries are the single node's, run
// where their rows are:
//
//   - a step that works on each visitor's rows alone (perShard) runs on
//     one replica of every shard at once, in the shard database, where
//     the same table names are the shard's own rows (and the whole tables
//     are views): each shard computes its visitors' interests, profiles,
//     members and recommendations from its own events, as a single node
//     computes everyone's;
//   - every other step (products, co-occurrence pairs, related products,
//     audience product lists: statistics across visitors) runs once, on
//     one node (the coordinator), over the Distributed tables: ClickHouse
//     aggregates on each shard and merges on the coordinator.
//
// Rows written on one node reach the others by replication, which lags.
// Before a step reads a table of the run, the nodes it reads from hold at
// least as many of the run's rows as any replica does (settle): a
// per-shard step's replica has every whole table's rows and its shard's,
// a step over the Distributed tables finds every replica of a shard
// complete (whichever one ClickHouse reads), and the run is published
// only once every node that answers has all of it. Counting works on
// every version, unlike SYSTEM SYNC REPLICA, which on 18.16 can return
// before a replica has fetched the log.
type clusterRun struct {
	db        *chdb.DB
	coord     *chdb.DB     // the DSN's database on the coordinator
	executors []*chdb.Node // one replica per shard, the coordinator among them
	// eventsBehindSince is zero when the executors' replicas of events
	// were current as the run began; else the creation time of the
	// oldest insert one of them had not fetched (its server's now()
	// minus system.replicas' absolute_delay, the earliest of any). Rows
	// inserted since may not be there yet, so the run's insert-time
	// watermark is set back to it (planIncrement).
	eventsBehindSince time.Time
	sharded           map[string]bool
	runTables         map[string]bool // tables with a run_id column
	wait              time.Duration
}

// perShard are the steps (by name, up to the first '/', after eval/) that
// read and write one visitor's rows at a time. (00_opted_out is not: a
// person's opt-out follows their user id to visitor ids on other shards.)
var perShard = map[string]bool{
	"00_affected":           true, // an incremental run's recomputed visitors
	"00_identities":         true,
	"02_interests":          true,
	"03_profiles":           true,
	"04_opted_out_profiles": true,
	"members1":              true,
	"members2":              true,
	"recommendations":       true,
	"holdout":               true,
	"members":               true, // an evaluation's
	"23_eval_sessions":      true, // a next-item evaluation's held-out sessions
}

func stepOnShards(name string) bool {
	name = strings.TrimPrefix(name, "eval/")
	if i := strings.IndexByte(name, '/'); i >= 0 {
		name = name[:i]
	}
	return perShard[name]
}

// settleWait bounds how long a step waits for replicas to catch up
// before the run fails.
const settleWait = 5 * time.Minute

// newClusterRun picks one replica of every shard, the one with the
// freshest events (a replica back from a failure may still be fetching
// them), and the first of them as the coordinator.
func newClusterRun(ctx context.Context, db *chdb.DB) (*clusterRun, error) {
	nodes, err := db.Nodes(ctx)
	if err != nil {
		return nil, err
	}
	c := &clusterRun{db: db, wait: settleWait}
	for _, shard := range chdb.ShardReplicas(nodes) {
		var pick *chdb.Node
		var lag uint64
		var behindSince time.Time
		for _, n := range shard {
			var delay uint64
			var since time.Time
			// Seconds its replica of events is behind (0 when current),
			// and since when, by the same server's clock.
			err := n.QueryRow(ctx, "SELECT absolute_delay, now() - absolute_delay FROM system.replicas WHERE database = currentDatabase() AND table = 'events'").Scan(&delay, &since)
			if err != nil {
				continue // down, or cannot tell
			}
			if pick == nil || delay < lag {
				pick, lag, behindSince = n, delay, since
			}
		}
		if pick == nil {
			return nil, fmt.Errorf("no replica of shard %d answers: a run needs every shard", shard[0].Shard)
		}
		c.executors = append(c.executors, pick)
		if lag > 0 && (c.eventsBehindSince.IsZero() || behindSince.Before(c.eventsBehindSince)) {
			c.eventsBehindSince = behindSince
		}
	}
	coord := c.executors[0]
	if c.coord, err = coord.Main(); err != nil {
		return nil, err
	}
	if c.sharded, err = db.ShardedTables(ctx); err != nil {
		return nil, err
	}
	c.runTables = map[string]bool{}
	rows, err := c.coord.Query(ctx, "SELECT table FROM system.columns WHERE database = ? AND name = 'run_id'", db.Database)
	if err != nil {
		return nil, fmt.Errorf("cannot list run tables: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			return nil, err
		}
		c.runTables[t] = true
	}
	return c, rows.Err()
}

var (
	reInsertInto = regexp.MustCompile(`(?i)^\s*INSERT\s+INTO\s+(\w+)`)
	reWord       = regexp.MustCompile(`\b[a-z_][a-z0-9_]*\b`)
)

// exec runs one step of a run where its rows are, as query id (on each
// shard, id/shard N).
func (c *clusterRun) exec(ctx context.Context, id, name, q string, params []any) error {
	shards := stepOnShards(name)
	if err := c.settle(ctx, c.reads(q), runIDs(q, params), shards); err != nil {
		return err
	}
	if !shards {
		return c.coord.Exec(chdb.WithQueryID(ctx, id), q, params...)
	}
	errs := make([]error, len(c.executors))
	var wg sync.WaitGroup
	for i, n := range c.executors {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sctx := chdb.WithQueryID(ctx, fmt.Sprintf("%s/shard %d", id, n.Shard))
			if err := n.Exec(sctx, q, params...); err != nil {
				errs[i] = fmt.Errorf("shard %d (%s): %w", n.Shard, n.Host, err)
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// reads lists the run tables q names, but the one it inserts into.
func (c *clusterRun) reads(q string) []string {
	target := ""
	if m := reInsertInto.FindStringSubmatch(q); m != nil {
		target = m[1]
	}
	var out []string
	for _, w := range reWord.FindAllString(q, -1) {
		if c.runTables[w] && w != target && !slices.Contains(out, w) {
			out = append(out, w)
		}
	}
	slices.Sort(out)
	return out
}

// runIDs are the runs a step's parameters name (its own, an
// evaluation's run of every event, a next-item evaluation's held-out
// sessions) and, when q reads it, the previous run an incremental run
// builds on: a replica back from a failure may not hold all of it yet.
func runIDs(q string, params []any) []string {
	var out []string
	for _, p := range params {
		nv, ok := p.(driver.NamedValue)
		if ok && (nv.Name == "run" || nv.Name == "all_run" || nv.Name == "held" || (nv.Name == "prev" && strings.Contains(q, "@prev"))) {
			if s, ok := nv.Value.(string); ok && s != "" {
				out = append(out, s)
			}
		}
	}
	return out
}

// settle waits until the nodes a step reads from hold every row of runs
// in tables that any replica holds: for a per-shard step its replica of
// each shard, for a step over the Distributed tables the coordinator (for
// whole tables) and every replica that answers (for sharded ones).
func (c *clusterRun) settle(ctx context.Context, tables, runs []string, onShards bool) error {
	if len(tables) == 0 || len(runs) == 0 {
		return nil
	}
	nodes, err := c.db.Nodes(ctx)
	if err != nil {
		return err
	}
	var up []*chdb.Node
	for _, n := range nodes {
		if n.Up(ctx) {
			up = append(up, n)
		}
	}
	for _, t := range tables {
		var groups [][]*chdb.Node // replicas holding the same rows
		if c.sharded[t] {
			groups = chdb.ShardReplicas(up)
		} else {
			groups = [][]*chdb.Node{up}
		}
		for _, g := range groups {
			must := g // the replicas that must be complete
			if onShards {
				must = slices.DeleteFunc(slices.Clone(g), func(n *chdb.Node) bool { return !slices.Contains(c.executors, n) })
			} else if !c.sharded[t] {
				must = slices.DeleteFunc(slices.Clone(g), func(n *chdb.Node) bool { return !c.isCoordinator(n) })
			}
			if len(must) == 0 {
				continue
			}
			if err := c.catchUp(ctx, t, runs, g, must); err != nil {
				return err
			}
		}
	}
	return nil
}

func (c *clusterRun) isCoordinator(n *chdb.Node) bool {
	m, err := n.Main()
	return err == nil && m == c.coord
}

// catchUp waits until every node of must holds as many rows of runs in
// table as the fullest node of group.
func (c *clusterRun) catchUp(ctx context.Context, table string, runs []string, group, must []*chdb.Node) error {
	deadline := time.Now().Add(c.wait)
	// table is a name from system.columns of our own database.
	q := "SELECT count() FROM " + table + " WHERE has(?, run_id)"
	if !c.sharded[table] {
		q = "SELECT count() FROM " + c.db.Database + "." + table + " WHERE has(?, run_id)"
	}
	for {
		counts := make(map[*chdb.Node]uint64, len(group))
		var most uint64
		for _, n := range group {
			var k uint64
			if err := n.QueryRow(ctx, q, runs).Scan(&k); err != nil {
				if slices.Contains(must, n) {
					return fmt.Errorf("cannot count %s on %s: %w", table, n.Host, err)
				}
				continue // gone since: Distributed reads skip it too
			}
			counts[n] = k
			most = max(most, k)
		}
		behind := ""
		for _, n := range must {
			if counts[n] < most {
				behind = n.Host
			}
		}
		if behind == "" {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("replica %s has not caught up with %s of run %s within %s (is it replicating? see system.replicas)", behind, table, runs[0], c.wait)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// settleAll waits until every node that answers holds all rows of the run
// in tables: before the run is published.
func (c *clusterRun) settleAll(ctx context.Context, run string, tables []string) error {
	nodes, err := c.db.Nodes(ctx)
	if err != nil {
		return err
	}
	var up []*chdb.Node
	for _, n := range nodes {
		if n.Up(ctx) {
			up = append(up, n)
		}
	}
	for _, t := range tables {
		groups := [][]*chdb.Node{up}
		if c.sharded[t] {
			groups = chdb.ShardReplicas(up)
		}
		for _, g := range groups {
			if err := c.catchUp(ctx, t, []string{run}, g, g); err != nil {
				return err
			}
		}
	}
	return nil
}

// settleStatus waits until every node that answers reads run's newest
// status in seg_runs (a table whole on every node) as status: feeds
// serve only a current run recorded ok, on whichever node they read.
func (c *clusterRun) settleStatus(ctx context.Context, site, run, status string) error {
	nodes, err := c.db.Nodes(ctx)
	if err != nil {
		return err
	}
	q := "SELECT argMax(status, updated) FROM " + c.db.Database + ".seg_runs WHERE site = ? AND run_id = ?"
	deadline := time.Now().Add(c.wait)
	for _, n := range nodes {
		if !n.Up(ctx) {
			continue
		}
		for {
			var got string
			if err := n.QueryRow(ctx, q, site, run).Scan(&got); err != nil || got == status {
				break // caught up, or gone since (a reader's query skips it too)
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("replica %s has not caught up with the run's status %q within %s (is it replicating? see system.replicas)", n.Host, status, c.wait)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	return nil
}

// settleCatalog waits until the coordinator and every executor see the
// site's newest catalog version whole: a run reads the catalog on every
// shard. (The nodes' copies are replicas of one table: the newest version
// any of them knows, and the most rows any holds of it, are the target.)
func (c *clusterRun) settleCatalog(ctx context.Context, site string) error {
	nodes := append([]*chdb.DB{c.coord}, nodeDBs(c.executors)...)
	deadline := time.Now().Add(c.wait)
	for {
		type view struct {
			version, seq, rows uint64
		}
		views := make([]view, len(nodes))
		var newest view
		for i, n := range nodes {
			// (On an executor the catalog tables are the shard
			// database's views of the whole ones.)
			var err error
			if views[i].version, views[i].seq, err = catalog.CurrentSwitch(ctx, n, site); err != nil {
				return err
			}
			if views[i].seq > newest.seq {
				newest = views[i]
			}
		}
		behind := -1
		for i, n := range nodes {
			if err := n.QueryRow(ctx, "SELECT count() FROM catalog_products WHERE site = ? AND version = ?", site, newest.version).Scan(&views[i].rows); err != nil {
				return fmt.Errorf("cannot count the catalog: %w", err)
			}
			newest.rows = max(newest.rows, views[i].rows)
		}
		for i, v := range views {
			if v.version != newest.version || v.rows < newest.rows {
				behind = i
			}
		}
		if behind < 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("a replica has not caught up with the catalog of site %s within %s: version %d with %d rows against %d with %d",
				site, c.wait, views[behind].version, views[behind].rows, newest.version, newest.rows)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func nodeDBs(nodes []*chdb.Node) []*chdb.DB {
	out := make([]*chdb.DB, len(nodes))
	for i, n := range nodes {
		out[i] = n.DB
	}
	return out
}

// dropPartition drops a run's partition of table: of a sharded table on
// one replica of every shard (replication drops it on the others), of a
// whole table on the coordinator. ON CLUSTER would send each through the
// DDL queue, a few hundred milliseconds apiece, and a run drops ~20.
func (c *clusterRun) dropPartition(ctx context.Context, table, run string) error {
	// table comes from the run's fixed lists; the partition is bound.
	q := "ALTER TABLE " + table + " DROP PARTITION @run"
	if !c.sharded[table] {
		return c.coord.Exec(ctx, q, clickhouse.Named("run", run))
	}
	var errs []error
	for _, n := range c.executors {
		if err := n.Exec(ctx, q, clickhouse.Named("run", run)); err != nil {
			errs = append(errs, fmt.Errorf("shard %d: %w", n.Shard, err))
		}
	}
	return errors.Join(errs...)
}
