package chserver

import (
	"encoding/xml"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// docker-compose.cluster.yml cannot run here (no Docker): its files parse,
// and its servers' remote_servers and macros have the shape the tests'
// clusters have (RemoteServersXML, MacrosXML), with the hosts and names
// of the compose file: every server a replica of the cluster remarket's
// config names, each with its own macros, Keeper where the servers look
// for it, the DSN listing every server.
func TestDockerComposeCluster(t *testing.T) {
	root := filepath.Join("..", "..")
	var compose struct {
		Services map[string]struct {
			Image       string            `yaml:"image"`
			Hostname    string            `yaml:"hostname"`
			Volumes     []string          `yaml:"volumes"`
			Environment map[string]string `yaml:"environment"`
		} `yaml:"services"`
	}
	readYAML(t, filepath.Join(root, "docker-compose.cluster.yml"), &compose)
	var single struct {
		Services map[string]struct {
			Image string `yaml:"image"`
		} `yaml:"services"`
	}
	readYAML(t, filepath.Join(root, "docker-compose.yml"), &single)

	env := compose.Services["remarket"].Environment
	name := env["REMARKET_CLICKHOUSE_CLUSTER"]
	if name == "" {
		t.Fatal("remarket has no REMARKET_CLICKHOUSE_CLUSTER")
	}
	const shards, replicas = 2, 2
	var hosts [][]string
	var dsnHosts []string
	for s := 1; s <= shards; s++ {
		hosts = append(hosts, nil)
		for r := 1; r <= replicas; r++ {
			svc := fmt.Sprintf("ch-s%dr%d", s, r)
			c, ok := compose.Services[svc]
			if !ok {
				t.Fatalf("no service %s", svc)
			}
			hosts[s-1] = append(hosts[s-1], svc+":9000")
			dsnHosts = append(dsnHosts, svc+":9000")
			if c.Hostname != svc {
				t.Errorf("%s: hostname %q", svc, c.Hostname)
			}
			if want := single.Services["clickhouse"].Image; c.Image != want {
				t.Errorf("%s runs %s, docker-compose.yml %s", svc, c.Image, want)
			}
			mounts := map[string]string{}
			for _, v := range c.Volumes {
				parts := strings.Split(v, ":")
				if len(parts) >= 2 {
					mounts[parts[1]] = parts[0]
				}
			}
			if got := mounts["/etc/clickhouse-server/config.d/cluster.xml"]; got != "./docker/cluster/cluster.xml" {
				t.Errorf("%s mounts %q as cluster.xml", svc, got)
			}
			macros := mounts["/etc/clickhouse-server/config.d/macros.xml"]
			if macros != fmt.Sprintf("./docker/cluster/macros-s%dr%d.xml", s, r) {
				t.Errorf("%s mounts %q as macros.xml", svc, macros)
				continue
			}
			var got, want struct {
				Macros         macrosXML `xml:"macros"`
				InterserverURL string    `xml:"interserver_http_host"`
			}
			readXML(t, filepath.Join(root, macros), &got)
			parseXML(t, "MacrosXML", "<clickhouse>"+MacrosXML(name, s, r)+"</clickhouse>", &want)
			want.InterserverURL = svc
			if got != want {
				t.Errorf("%s: %+v, want %+v", macros, got, want)
			}
		}
	}
	dsn := env["CLICKHOUSE_DSN"]
	rest, ok := strings.CutPrefix(dsn, "clickhouse://")
	hostList, _, _ := strings.Cut(rest, "/")
	listed := strings.Split(hostList, ",")
	slices.Sort(listed)
	if !ok || !slices.Equal(listed, dsnHosts) {
		t.Errorf("remarket's DSN %q does not list every server", dsn)
	}

	type clusterXML struct {
		Remote struct {
			Clusters []struct {
				XMLName xml.Name
				Shards  []struct {
					Internal bool `xml:"internal_replication"`
					Replicas []struct {
						Host string `xml:"host"`
						Port string `xml:"port"`
					} `xml:"replica"`
				} `xml:"shard"`
			} `xml:",any"`
		} `xml:"remote_servers"`
		ZooKeeper []struct {
			Host string `xml:"host"`
			Port string `xml:"port"`
		} `xml:"zookeeper>node"`
		DDLPath string `xml:"distributed_ddl>path"`
	}
	var got, want clusterXML
	readXML(t, filepath.Join(root, "docker/cluster/cluster.xml"), &got)
	parseXML(t, "RemoteServersXML", "<clickhouse>"+RemoteServersXML(name, hosts)+"</clickhouse>", &want)
	if !reflect.DeepEqual(got.Remote, want.Remote) {
		t.Errorf("cluster.xml remote_servers:\n%+v\nwant\n%+v", got.Remote, want.Remote)
	}
	if got.DDLPath == "" {
		t.Error("cluster.xml has no distributed_ddl path: ON CLUSTER needs one")
	}
	var keeper struct {
		Port string `xml:"keeper_server>tcp_port"`
		Raft []struct {
			Host string `xml:"hostname"`
		} `xml:"keeper_server>raft_configuration>server"`
	}
	readXML(t, filepath.Join(root, "docker/cluster/keeper.xml"), &keeper)
	k, ok := compose.Services["keeper"]
	if !ok || !slices.Contains(k.Volumes, "./docker/cluster/keeper.xml:/etc/clickhouse-keeper/keeper_config.xml:ro") {
		t.Error("the keeper service does not mount docker/cluster/keeper.xml")
	}
	if len(got.ZooKeeper) != 1 || got.ZooKeeper[0].Host != k.Hostname || got.ZooKeeper[0].Port != keeper.Port ||
		len(keeper.Raft) != 1 || keeper.Raft[0].Host != k.Hostname {
		t.Errorf("servers look for Keeper at %+v; Keeper %s listens on %s, raft %+v", got.ZooKeeper, k.Hostname, keeper.Port, keeper.Raft)
	}
}

type macrosXML struct {
	Cluster string `xml:"cluster"`
	Shard   string `xml:"shard"`
	Replica string `xml:"replica"`
}

func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func readXML(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	parseXML(t, path, string(b), v)
}

func parseXML(t *testing.T, name, s string, v any) {
	t.Helper()
	if err := xml.Unmarshal([]byte(s), v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}
