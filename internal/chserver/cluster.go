package chserver

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// Cluster is a ClickHouse cluster of private processes for tests and
// benchmarks: one ZooKeeper and Shards × Replicas clickhouse-server
// processes on loopback, each with a generated remote_servers, macros
// ({cluster}, {shard} = 01, 02…, {replica} = r1, r2…), zookeeper and
// distributed_ddl config: what an operator writes for a real cluster.
type Cluster struct {
	Name      string
	Shards    int
	Replicas  int
	ZooKeeper *ZooKeeper
	Nodes     []*Server // shard by shard: shard 1's replicas first

	dir string
}

// ClusterOptions shape StartCluster's cluster; zero values give 2 shards
// × 2 replicas named remarket_test.
type ClusterOptions struct {
	Name     string
	Shards   int
	Replicas int
}

// StartCluster starts ZooKeeper and every server, and waits until all
// serve. Servers are clickhouse-server from PATH (the chDB engine has no
// replication).
func StartCluster(ctx context.Context, opts ClusterOptions) (*Cluster, error) {
	c := &Cluster{Name: opts.Name, Shards: opts.Shards, Replicas: opts.Replicas}
	if c.Name == "" {
		c.Name = "remarket_test"
	}
	if c.Shards == 0 {
		c.Shards = 2
	}
	if c.Replicas == 0 {
		c.Replicas = 2
	}
	bin, err := lookBinary()
	if err != nil {
		return nil, err
	}
	if c.dir, err = os.MkdirTemp("", "remarket-cluster-"); err != nil {
		return nil, err
	}
	if c.ZooKeeper, err = StartZooKeeper(ctx, filepath.Join(c.dir, "zookeeper")); err != nil {
		os.RemoveAll(c.dir)
		return nil, err
	}
	n := c.Shards * c.Replicas
	type ports struct{ tcp, http, interserver int }
	all := make([]ports, n)
	for i := range all {
		p := []*int{&all[i].tcp, &all[i].http, &all[i].interserver}
		for _, x := range p {
			if *x, err = freePort(); err != nil {
				c.Close()
				return nil, err
			}
		}
	}
	hosts := make([][]string, c.Shards)
	for s := range hosts {
		for r := 0; r < c.Replicas; r++ {
			hosts[s] = append(hosts[s], fmt.Sprintf("127.0.0.1:%d", all[s*c.Replicas+r].tcp))
		}
	}
	remote := RemoteServersXML(c.Name, hosts)
	c.Nodes = make([]*Server, n)
	for i := range c.Nodes {
		shard, replica := i/c.Replicas+1, i%c.Replicas+1
		extra := remote + fmt.Sprintf(clusterMemberXML, all[i].interserver, c.ZooKeeper.Port) + MacrosXML(c.Name, shard, replica)
		c.Nodes[i] = &Server{
			Dir:         filepath.Join(c.dir, fmt.Sprintf("s%dr%d", shard, replica)),
			TCPPort:     all[i].tcp,
			HTTPPort:    all[i].http,
			Binary:      bin,
			ExtraConfig: extra,
			keep:        true, // under c.dir, which Close removes
		}
		if err := os.MkdirAll(c.Nodes[i].Dir, 0o755); err != nil {
			c.Close()
			return nil, err
		}
	}
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i, s := range c.Nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.Restart(ctx); err != nil {
				errs[i] = fmt.Errorf("cluster node %s: %w", filepath.Base(s.Dir), err)
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// clusterMemberXML is the part of a node's config that makes it a member:
// the port replicas fetch parts from, ZooKeeper (5 s sessions, so a
// killed replica's session ends soon), and the DDL queue (MacrosXML adds its macros).
const clusterMemberXML = `  <interserver_http_port>%d</interserver_http_port>
  <interserver_http_host>127.0.0.1</interserver_http_host>
  <zookeeper><node><host>127.0.0.1</host><port>%d</port></node><session_timeout_ms>5000</session_timeout_ms></zookeeper>
  <distributed_ddl><path>/clickhouse/task_queue/ddl</path></distributed_ddl>
`

// RemoteServersXML is the remote_servers section of a cluster's servers:
// one shard per element of hosts, its replicas (host:port of the native
// protocol) replicating among themselves (internal_replication: a
// Distributed insert writes one replica, ReplicatedMergeTree copies it).
// docker/cluster/cluster.xml has the same shape.
func RemoteServersXML(name string, hosts [][]string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "  <remote_servers><%s>\n", name)
	for _, replicas := range hosts {
		b.WriteString("    <shard><internal_replication>true</internal_replication>\n")
		for _, h := range replicas {
			host, port, _ := strings.Cut(h, ":")
			fmt.Fprintf(&b, "      <replica><host>%s</host><port>%s</port></replica>\n", host, port)
		}
		b.WriteString("    </shard>\n")
	}
	fmt.Fprintf(&b, "  </%s></remote_servers>\n", name)
	return b.String()
}

// MacrosXML is the macros section of the server that is replica of shard
// (both from 1): remarket's ReplicatedMergeTree paths use {shard} (01,
// 02, ...) and {replica} (r1, r2, ...). docker/cluster/macros-sNrM.xml
// have the same shape.
func MacrosXML(cluster string, shard, replica int) string {
	return fmt.Sprintf("  <macros><cluster>%s</cluster><shard>%02d</shard><replica>r%d</replica></macros>\n", cluster, shard, replica)
}

// Recover starts a node again after Kill, as an operator does after a
// crash: with the force_restore_data flag, which lets it set aside
// (detach) the parts an interrupted insert left on its disk but never
// committed in ZooKeeper. Without the flag ClickHouse 18.16 refuses to
// start when such parts are over half of a table's rows, which in a test
// cluster's small tables they easily are.
func (c *Cluster) Recover(ctx context.Context, s *Server) error {
	flags := filepath.Join(s.Dir, "data", "flags")
	if err := os.MkdirAll(flags, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(flags, "force_restore_data"), nil, 0o644); err != nil {
		return err
	}
	return s.Restart(ctx)
}

// Node is the server of shard s and replica r, both from 1.
func (c *Cluster) Node(s, r int) *Server { return c.Nodes[(s-1)*c.Replicas+r-1] }

// DSN is the native-protocol address of database db on the given nodes
// (every node when none is given): clickhouse://h1:p1,h2:p2/db.
func (c *Cluster) DSN(db string, nodes ...*Server) string {
	if len(nodes) == 0 {
		nodes = c.Nodes
	}
	hosts := make([]string, len(nodes))
	for i, s := range nodes {
		hosts[i] = fmt.Sprintf("127.0.0.1:%d", s.TCPPort)
	}
	return "clickhouse://" + strings.Join(hosts, ",") + "/" + db
}

// Close stops every process and removes the cluster's directory.
func (c *Cluster) Close() error {
	var wg sync.WaitGroup
	for _, s := range c.Nodes {
		if s == nil {
			continue
		}
		wg.Add(1)
		go func() { defer wg.Done(); s.Kill() }()
	}
	wg.Wait()
	if c.ZooKeeper != nil {
		c.ZooKeeper.Close()
	}
	return os.RemoveAll(c.dir)
}
