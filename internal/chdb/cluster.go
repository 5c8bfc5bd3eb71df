package chdb

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Cluster is the layout of remarket's tables on a ClickHouse cluster
// (config clickhouse_cluster), in two databases on every node:
//
//   - the database of the DSN (remarket) holds what users and remarket
//     query: a Distributed table for every sharded table, replicated
//     tables that every node holds whole (catalog, segment run results
//     that are not per visitor, the migration ledger, ...), and the views;
//   - the shard database (remarket_shard, Local) holds the node's own
//     shard of every sharded table under the same name, as a
//     Replicated…MergeTree replicated between the shard's replicas, plus
//     the same views over them and a view for each whole table, so that a
//     query written for one node runs unchanged on one shard's visitors.
//
// Tables with a visitor (visitor_id or its hash vh) are sharded by
// cityHash64(visitor_id): every row of one visitor lives on one shard, so
// a visitor's events meet their re-sent copies there (each id once, by
// FINAL, per shard) and a segment step grouped by visitor runs on each
// shard alone. sql/cluster.go makes both databases from the single-node
// migrations.
type Cluster struct {
	Name  string // in remote_servers
	Local string // the shard database

	opts    clickhouse.Options // the DSN's, for connections to each node
	version Version

	mu    sync.Mutex
	nodes map[string]*Node // by host:port
}

// LocalSuffix names the shard database after the DSN's database.
const LocalSuffix = "_shard"

// clusterSettings are what every connection to a cluster sets:
// an insert into a Distributed table returns once every shard has its
// rows (instead of queueing them on the node, to be sent later: an
// acknowledged event must be in ClickHouse when the spool moves past it,
// and a segment step's rows must be there when the next step reads them).
var clusterSettings = clickhouse.Settings{
	"insert_distributed_sync": 1,
}

// Node is one server of the cluster: its place and a connection whose
// default database is the shard database.
type Node struct {
	Shard, Replica int
	Host           string // host:port as remote_servers names it
	*DB

	cluster  *Cluster
	database string // the DSN's
	main     *DB
}

// Main is a connection to the node whose default database is the DSN's
// (the Distributed tables and the whole ones), opened on first use.
func (n *Node) Main() (*DB, error) {
	c := n.cluster
	c.mu.Lock()
	defer c.mu.Unlock()
	if n.main == nil {
		opts := c.opts
		opts.Addr = []string{n.Host}
		opts.Auth.Database = n.database
		opts.MaxOpenConns = 8
		conn, err := clickhouse.Open(&opts)
		if err != nil {
			return nil, fmt.Errorf("cannot open cluster node %s: %w", n.Host, err)
		}
		n.main = &DB{Conn: conn, Database: n.database, Version: c.version}
	}
	return n.main, nil
}

// OnCluster is the clause every DDL statement of the layout carries.
func (c *Cluster) OnCluster() string { return " ON CLUSTER '" + c.Name + "'" }

// Nodes lists the cluster's servers by shard and replica (from
// system.clusters of the node db is connected to), each with a connection
// (opened once, dialled on first use: a node that is down fails its
// queries, not this call).
func (db *DB) Nodes(ctx context.Context) ([]*Node, error) {
	c := db.Cluster
	if c == nil {
		return nil, fmt.Errorf("not a cluster")
	}
	rows, err := db.Query(ctx, "SELECT shard_num, replica_num, host_name, port FROM system.clusters WHERE cluster = ? ORDER BY shard_num, replica_num", c.Name)
	if err != nil {
		return nil, fmt.Errorf("cannot read cluster %s: %w", c.Name, err)
	}
	defer rows.Close()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.nodes == nil {
		c.nodes = map[string]*Node{}
	}
	var out []*Node
	for rows.Next() {
		var shard, replica uint32
		var host string
		var port uint16
		if err := rows.Scan(&shard, &replica, &host, &port); err != nil {
			return nil, err
		}
		addr := host + ":" + strconv.Itoa(int(port))
		n := c.nodes[addr]
		if n == nil {
			opts := c.opts
			opts.Addr = []string{addr}
			opts.Auth.Database = c.Local
			opts.MaxOpenConns = 8
			conn, err := clickhouse.Open(&opts)
			if err != nil {
				return nil, fmt.Errorf("cannot open cluster node %s: %w", addr, err)
			}
			n = &Node{Host: addr, DB: &DB{Conn: conn, Database: c.Local, Version: c.version}, cluster: c, database: db.Database}
			c.nodes[addr] = n
		}
		n.Shard, n.Replica = int(shard), int(replica)
		out = append(out, n)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("cluster %s is not in remote_servers of the server remarket is connected to", c.Name)
	}
	return out, nil
}

// Up reports whether the node answers within a second.
func (n *Node) Up(ctx context.Context) bool {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	return n.Ping(ctx) == nil
}

// Close closes the connection and those to the cluster's nodes.
func (db *DB) Close() error {
	if c := db.Cluster; c != nil {
		c.mu.Lock()
		for _, n := range c.nodes {
			n.Conn.Close()
			if n.main != nil {
				n.main.Conn.Close()
			}
		}
		c.nodes = nil
		c.mu.Unlock()
	}
	return db.Conn.Close()
}

// ShardedTables are the tables of the database that are sharded on the
// cluster (the Distributed ones), by name; empty on a single node.
func (db *DB) ShardedTables(ctx context.Context) (map[string]bool, error) {
	out := map[string]bool{}
	if db.Cluster == nil {
		return out, nil
	}
	rows, err := db.Query(ctx, "SELECT name FROM system.tables WHERE database = ? AND engine = 'Distributed'", db.Database)
	if err != nil {
		return nil, fmt.Errorf("cannot list sharded tables: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return nil, err
		}
		out[name] = true
	}
	return out, rows.Err()
}

// Settle waits, on a cluster, until every node that answers holds as many
// rows of table (one every node holds whole) matching where as the node
// holding most: rows written on one node reach the others by replication,
// and a reader on a node that had not fetched them yet would not see
// them. A node that does not answer gets them when it is back. what
// names the rows in the error after a minute. table and where come from
// the caller's code, never from input.
func (db *DB) Settle(ctx context.Context, what, table, where string, args ...any) error {
	if db.Cluster == nil {
		return nil
	}
	nodes, err := db.Nodes(ctx)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(time.Minute)
	for {
		var counts []uint64
		var most uint64
		for _, n := range nodes {
			var k uint64
			if err := n.QueryRow(ctx, "SELECT count() FROM "+db.Database+"."+table+" WHERE "+where, args...).Scan(&k); err != nil {
				continue // down
			}
			counts = append(counts, k)
			most = max(most, k)
		}
		if slices.Min(append(counts, most)) == most {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s have not reached every node within a minute (see system.replicas)", what)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Alter runs ALTER TABLE table <clause> where the table's rows are: on a
// single node as it is; on a cluster, for a sharded table on one
// replica of every shard that answers (alterShards), for a table every
// node holds whole on this node. Replication carries a DELETE or DROP
// PARTITION to the other replicas, also to one that is down, once it is
// back. table comes from the caller's code, never from input.
func (db *DB) Alter(ctx context.Context, table, clause string, args ...any) error {
	if db.Cluster == nil {
		return db.Exec(ctx, "ALTER TABLE "+quoteIdent(table)+" "+clause, args...)
	}
	sharded, err := db.ShardedTables(ctx)
	if err != nil {
		return err
	}
	if sharded[table] {
		return db.alterShards(ctx, table, clause, args...)
	}
	return db.Exec(ctx, "ALTER TABLE "+db.Database+"."+quoteIdent(table)+" "+clause, args...)
}

// ErrNodeDown is a cluster node that does not answer (IsUnavailable).
var ErrNodeDown = errors.New("the node does not answer")

// alterShards runs ALTER TABLE table <clause> on the shard table of one
// replica of every shard: the first that answers and takes it. Not ON
// CLUSTER: the DDL queue waits for every node, so with one replica down
// each statement would hang for distributed_ddl_task_timeout (180 s by
// default; an erasure sends one per table) and then fail, though the
// shard's other replica had made the mutation and replication would have
// carried it over. A shard none of whose replicas takes it fails the
// call, naming the shard; the shards done by then keep their change
// (a DELETE or DROP PARTITION is safe to send again).
func (db *DB) alterShards(ctx context.Context, table, clause string, args ...any) error {
	nodes, err := db.Nodes(ctx)
	if err != nil {
		return err
	}
	q := "ALTER TABLE " + db.Cluster.Local + "." + quoteIdent(table) + " " + clause
	var errs []error
	for _, replicas := range ShardReplicas(nodes) {
		// A replica that answers may still fail for a node that does not:
		// 18.16 sends DROP PARTITION to the shard's leader, and a killed
		// leader stays leader until its ZooKeeper session ends (30 s by
		// default). Such a shard is tried again for a while.
		deadline := time.Now().Add(leaderWait)
		for {
			failed, err := alterShard(ctx, replicas, q, args)
			if err != nil {
				return err
			}
			if failed == nil {
				break
			}
			if up := slices.ContainsFunc(failed, func(e error) bool { return !errors.Is(e, ErrNodeDown) }); up && IsUnavailable(errors.Join(failed...)) && time.Now().Before(deadline) {
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(time.Second):
				}
				continue
			}
			errs = append(errs, fmt.Errorf("no replica of shard %d took ALTER TABLE %s: %w", replicas[0].Shard, table, errors.Join(failed...)))
			break
		}
	}
	return errors.Join(errs...)
}

// leaderWait bounds how long alterShards tries a shard again whose
// answering replicas fail for want of a node that is down.
const leaderWait = time.Minute

// alterShard runs q on the first replica that answers and takes it; it
// returns each replica's failure when none does (err only when ctx ends).
func alterShard(ctx context.Context, replicas []*Node, q string, args []any) (failed []error, err error) {
	for _, n := range replicas {
		if !n.Up(ctx) {
			failed = append(failed, fmt.Errorf("%s: %w", n.Host, ErrNodeDown))
			continue
		}
		if err := n.Exec(ctx, q, args...); err != nil {
			if ctx.Err() != nil {
				return nil, err
			}
			failed = append(failed, fmt.Errorf("%s: %w", n.Host, err))
			continue
		}
		return nil, nil
	}
	return failed, nil
}

func quoteIdent(s string) string {
	return "`" + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), "`", "\\`") + "`"
}

// ShardReplicas groups nodes by shard, in shard order.
func ShardReplicas(nodes []*Node) [][]*Node {
	by := map[int][]*Node{}
	for _, n := range nodes {
		by[n.Shard] = append(by[n.Shard], n)
	}
	shards := make([]int, 0, len(by))
	for s := range by {
		shards = append(shards, s)
	}
	sort.Ints(shards)
	out := make([][]*Node, len(shards))
	for i, s := range shards {
		out[i] = by[s]
	}
	return out
}

// createClusterDatabases makes the database and its shard database on
// every node (ON CLUSTER), unless the node db connects to has both.
func createClusterDatabases(ctx context.Context, opts clickhouse.Options, cluster, database string) error {
	if !validIdent(database) || !validIdent(database+LocalSuffix) {
		return fmt.Errorf("clickhouse database name %q: use letters, digits and underscores", database)
	}
	conn, err := openDefaultDatabase(opts)
	if err != nil {
		return err
	}
	defer conn.Close()
	var members uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM system.clusters WHERE cluster = ?", cluster).Scan(&members); err != nil {
		return fmt.Errorf("cannot read system.clusters: %w", err)
	}
	if members == 0 {
		return fmt.Errorf("clickhouse_cluster %q is not in the server's remote_servers", cluster)
	}
	var have uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM system.databases WHERE name IN (?, ?)", database, database+LocalSuffix).Scan(&have); err != nil {
		return fmt.Errorf("cannot read system.databases: %w", err)
	}
	if have == 2 {
		return nil
	}
	// CREATE DATABASE … ON CLUSTER waits for every node: say which one
	// does not answer now, rather than after distributed_ddl_task_timeout.
	if down, err := silentMembers(ctx, conn, opts, cluster); err != nil || len(down) > 0 {
		if err != nil {
			return err
		}
		return fmt.Errorf("cannot create database %s on cluster %s: %s %s not answer; creating it needs every node", database, cluster, strings.Join(down, ", "), doesOrDo(len(down)))
	}
	for _, name := range []string{database, database + LocalSuffix} {
		// Names are identifiers (checked above), not values: they cannot be bound.
		if err := conn.Exec(ctx, "CREATE DATABASE IF NOT EXISTS "+name+" ON CLUSTER '"+cluster+"'"); err != nil {
			return fmt.Errorf("cannot create database %s on cluster %s: %w", name, cluster, err)
		}
	}
	return nil
}

func validClusterName(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	return strings.IndexFunc(s, func(r rune) bool {
		return !(r == '_' || r == '-' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9'))
	}) < 0
}

// silentMembers lists the members of cluster (host:port as
// remote_servers names them) that do not answer a ping within a second.
func silentMembers(ctx context.Context, conn driver.Conn, opts clickhouse.Options, cluster string) ([]string, error) {
	rows, err := conn.Query(ctx, "SELECT host_name, port FROM system.clusters WHERE cluster = ? ORDER BY shard_num, replica_num", cluster)
	if err != nil {
		return nil, fmt.Errorf("cannot read system.clusters: %w", err)
	}
	var hosts []string
	for rows.Next() {
		var host string
		var port uint16
		if err := rows.Scan(&host, &port); err != nil {
			rows.Close()
			return nil, err
		}
		hosts = append(hosts, host+":"+strconv.Itoa(int(port)))
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var down []string
	for _, h := range hosts {
		o := opts
		o.Addr = []string{h}
		o.Auth.Database = "default" // (remarket's may not exist yet)
		o.MaxOpenConns = 1
		o.DialTimeout = time.Second
		c, err := clickhouse.Open(&o)
		if err == nil {
			pctx, cancel := context.WithTimeout(ctx, time.Second)
			err = c.Ping(pctx)
			cancel()
			c.Close()
		}
		if err != nil {
			down = append(down, h)
		}
	}
	return down, nil
}

func doesOrDo(n int) string {
	if n == 1 {
		return "does"
	}
	return "do"
}

// Silent lists the cluster's nodes (host:port, shard and replica) that do
// not answer within a second: an ON CLUSTER statement waits for every
// node, distributed_ddl_task_timeout (180 s by default) per statement.
func (db *DB) Silent(ctx context.Context) ([]string, error) {
	nodes, err := db.Nodes(ctx)
	if err != nil {
		return nil, err
	}
	var down []string
	for _, n := range nodes {
		if !n.Up(ctx) {
			down = append(down, fmt.Sprintf("%s (shard %d, replica %d)", n.Host, n.Shard, n.Replica))
		}
	}
	return down, nil
}
