package sql

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/remarket/remarket/internal/chdb"
)

// migrateCluster is Migrate on a cluster: every statement in its cluster
// form (cluster.go), sent to one node that answers, which hands it to the
// DDL queue. With nothing to apply it changes nothing, so instances start
// while a node is down; applying a migration needs every node (each DDL
// statement waits for all of them, distributed_ddl_task_timeout).
func migrateCluster(ctx context.Context, db *chdb.DB) ([]string, error) {
	all, err := Migrations()
	if err != nil {
		return nil, err
	}
	node, err := upNode(ctx, db)
	if err != nil {
		return nil, err
	}
	l := newLayout(db.Cluster, db.Database)
	if err := l.load(ctx, node); err != nil {
		return nil, err
	}
	s := &Schema{DB: db, conn: node, layout: l}
	ledger := db.Database + ".schema_migrations"
	if _, ok := l.objects["schema_migrations"]; !ok {
		if err := everyNodeAnswers(ctx, db); err != nil {
			return nil, err
		}
		if err := s.Exec(ctx, createLedger); err != nil {
			return nil, fmt.Errorf("cannot create schema_migrations: %w", err)
		}
	}
	done, err := applied(ctx, node, ledger)
	if err != nil {
		return nil, err
	}
	if !pending(all, done) {
		return nil, nil
	}
	if err := everyNodeAnswers(ctx, db); err != nil {
		return nil, err
	}
	unlock, err := lockCluster(ctx, db, node)
	if err != nil {
		return nil, err
	}
	defer unlock()
	// The previous holder recorded its migrations on its node; wait until
	// they are here, and read the schema it left.
	if err := node.Exec(ctx, "SYSTEM SYNC REPLICA "+ledger); err != nil {
		return nil, fmt.Errorf("cannot sync schema_migrations: %w", err)
	}
	if done, err = applied(ctx, node, ledger); err != nil {
		return nil, err
	}
	if err := l.load(ctx, node); err != nil {
		return nil, err
	}
	if len(done) == 0 && len(l.objects) == 1 {
		// A new cluster (nothing but the ledger): make what the
		// migrations leave, not every step on the way.
		ran, err := applyPlan(ctx, s, all, ledger)
		if !errors.Is(err, errUnplannable) {
			return ran, err
		}
	}
	return apply(ctx, s, all, done, ledger)
}

// everyNodeAnswers fails, naming them, when nodes of the cluster do not
// answer: each DDL statement waits for every node
// (distributed_ddl_task_timeout, 180 s by default) and then fails.
func everyNodeAnswers(ctx context.Context, db *chdb.DB) error {
	down, err := db.Silent(ctx)
	if err != nil {
		return err
	}
	if len(down) > 0 {
		return fmt.Errorf("cannot apply migrations on cluster %s: node %s does not answer; applying a migration needs every node (start it and migrate again)",
			db.Cluster.Name, strings.Join(down, ", node "))
	}
	return nil
}

// applyPlan runs the migrations into a plan, runs the plan's statements
// and records every migration.
func applyPlan(ctx context.Context, s *Schema, all []Migration, ledger string) ([]string, error) {
	l := *s.layout
	l.objects = maps.Clone(s.layout.objects)
	l.plan = newPlan()
	planner := &Schema{DB: s.DB, conn: s.conn, layout: &l}
	for _, m := range all {
		planner.version, planner.n = m.Version, 0
		if m.Run != nil {
			if err := m.Run(ctx, planner); err != nil {
				return nil, fmt.Errorf("migration %s: %w", m.Name, err)
			}
		}
		for i, tmpl := range m.Statements {
			if err := planner.Exec(ctx, tmpl); err != nil {
				return nil, fmt.Errorf("migration %s, statement %d: %w", m.Name, i+1, err)
			}
		}
	}
	// Independent objects' statements go to the DDL queue at once: each
	// waits for every node, mostly idle in between.
	for _, stage := range l.plan.stages() {
		work := make(chan []string)
		var mu sync.Mutex
		var errs []error
		var wg sync.WaitGroup
		for range min(8, len(stage)) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for chain := range work {
					for _, q := range chain {
						if err := s.run(ctx, q); err != nil {
							mu.Lock()
							errs = append(errs, fmt.Errorf("new cluster schema: %w", err))
							mu.Unlock()
							break
						}
					}
				}
			}()
		}
		for _, chain := range stage {
			work <- chain
		}
		close(work)
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			return nil, err
		}
	}
	s.layout.objects = l.objects
	var ran []string
	for _, m := range all {
		if err := s.conn.InsertRow(ctx, "INSERT INTO "+ledger+" (version, name, applied_at)",
			uint32(m.Version), m.Name, time.Now().UTC()); err != nil {
			return ran, fmt.Errorf("cannot record migration %s: %w", m.Name, err)
		}
		ran = append(ran, m.Name)
	}
	return ran, nil
}

func pending(all []Migration, done map[int]bool) bool {
	for _, m := range all {
		if !done[m.Version] {
			return true
		}
	}
	return false
}

// upNode is the first node of the cluster that answers.
func upNode(ctx context.Context, db *chdb.DB) (*chdb.DB, error) {
	nodes, err := db.Nodes(ctx)
	if err != nil {
		return nil, err
	}
	for _, n := range nodes {
		if n.Up(ctx) {
			return n.DB, nil
		}
	}
	return nil, fmt.Errorf("no node of cluster %s answers", db.Cluster.Name)
}

// lockCluster takes the migration lock of the whole cluster: the lock
// table is created ON CLUSTER, and the DDL queue runs the CREATEs of
// processes racing for it in one order on every node, so exactly one
// succeeds. It is replicated, so its time stamp reaches every node and a
// lock left by a process that died is recognised from any of them.
func lockCluster(ctx context.Context, db *chdb.DB, node *chdb.DB) (func(), error) {
	c := db.Cluster
	table := db.Database + ".schema_migrations_lock"
	// A path of its own for each lock (see the tag in cluster.go): the
	// previous lock's may still be being removed on some node.
	create := "CREATE TABLE " + table + c.OnCluster() + " (locked_at DateTime) ENGINE = ReplicatedMergeTree('/clickhouse/tables/all/" +
		db.Database + "/schema_migrations_lock/%d', '{shard}-{replica}') ORDER BY tuple()"
	drop := "DROP TABLE IF EXISTS " + table + c.OnCluster()
	deadline := time.Now().Add(2 * staleLock)
	for {
		// (EXISTS rather than system.tables: on 18.16 a read of
		// system.tables fails when the holder drops a table meanwhile.)
		var exists uint8
		if err := node.QueryRow(ctx, "EXISTS TABLE "+table).Scan(&exists); err != nil {
			return nil, fmt.Errorf("cannot look for the migration lock: %w", err)
		}
		if exists == 0 {
			err := node.Exec(ctx, fmt.Sprintf(create, time.Now().UnixNano()))
			if err == nil {
				if err := node.InsertRow(ctx, "INSERT INTO "+table+" (locked_at)", time.Now().UTC()); err != nil {
					return nil, fmt.Errorf("cannot stamp migration lock: %w", err)
				}
				return func() { node.Exec(context.Background(), drop) }, nil
			}
			if !strings.Contains(err.Error(), "already exists") {
				return nil, fmt.Errorf("cannot take migration lock: %w", err)
			}
		} else {
			var n uint64
			var age int64
			row := node.QueryRow(ctx, "SELECT count(), toInt64(now()) - toInt64(max(locked_at)) FROM "+table)
			if row.Scan(&n, &age) == nil && n > 0 && age > int64(staleLock/time.Second) {
				node.Exec(ctx, drop)
				continue
			}
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("migration lock held by another process for too long; if none runs, drop table %s%s", table, c.OnCluster())
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// reEveryNodeAlter matches the column change of a Distributed table that
// runOnEveryNode makes: ALTER TABLE db.t ADD|DROP|MODIFY… COLUMN [IF [NOT]
// EXISTS] c.
var reEveryNodeAlter = regexp.MustCompile(`(?is)^ALTER\s+TABLE\s+(\w+)\.(\w+)\s+(ADD|DROP|MODIFY|RENAME|COMMENT)\s+COLUMN\s+(?:IF\s+(?:NOT\s+)?EXISTS\s+)?(\w+)`)

// runOnEveryNode changes a Distributed table's columns on every node (a
// migration needs every node anyway). A column added waits until the
// node's shard table has it (the DDL queue changed one replica per shard;
// replication brings the others along), and a node that has the change
// already (a run stopped half way) is left as it is.
func runOnEveryNode(ctx context.Context, db *chdb.DB, q string) error {
	m := reEveryNodeAlter.FindStringSubmatch(q)
	if m == nil {
		return fmt.Errorf("not a column change of a Distributed table: %s", q)
	}
	table, op, column := m[2], strings.ToUpper(m[3]), m[4]
	nodes, err := db.Nodes(ctx)
	if err != nil {
		return err
	}
	has := func(n *chdb.Node, database string) (bool, error) {
		var k uint64
		err := n.QueryRow(ctx, "SELECT count() FROM system.columns WHERE database = ? AND table = ? AND name = ?",
			database, table, column).Scan(&k)
		return k > 0, err
	}
	for _, n := range nodes {
		if op == "ADD" {
			deadline := time.Now().Add(time.Minute)
			for {
				ok, err := has(n, db.Cluster.Local)
				if err != nil {
					return fmt.Errorf("node %s: %w", n.Host, err)
				}
				if ok {
					break
				}
				if time.Now().After(deadline) {
					return fmt.Errorf("node %s: %s.%s has no column %s a minute after it was added (see system.replicas)", n.Host, db.Cluster.Local, table, column)
				}
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(100 * time.Millisecond):
				}
			}
			if ok, err := has(n, db.Database); err != nil || ok {
				if err != nil {
					return fmt.Errorf("node %s: %w", n.Host, err)
				}
				continue
			}
		}
		if err := n.Exec(ctx, q); err != nil {
			return fmt.Errorf("node %s: %w", n.Host, err)
		}
	}
	return nil
}
