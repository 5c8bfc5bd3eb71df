package chserver

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ZooKeeper is a standalone ZooKeeper process (Debian's zookeeper package)
// for a test cluster: replicated tables and ON CLUSTER DDL need one.
type ZooKeeper struct {
	Dir  string
	Port int

	java, classPath string
	cmd             *exec.Cmd
	exited          chan struct{}
}

// ErrNoZooKeeper means ZooKeeper or a Java runtime is not installed.
var ErrNoZooKeeper = errors.New("zookeeper not found (install it with: make deps, or apt-get install -y zookeeper)")

// ZooKeeperClassPathEnv overrides the Java class path of ZooKeeper and
// its logger (default: Debian's jars under /usr/share/java).
const ZooKeeperClassPathEnv = "REMARKET_ZOOKEEPER_CLASSPATH"

// zooKeeperJars are what ZooKeeperServerMain needs from Debian's
// packages: the server, its wire format, and a logger that writes
// warnings to stderr.
var zooKeeperJars = []string{"zookeeper.jar", "zookeeper-jute.jar", "slf4j-api.jar", "slf4j-simple.jar"}

func zooKeeperClassPath() (string, error) {
	if cp := os.Getenv(ZooKeeperClassPathEnv); cp != "" {
		return cp, nil
	}
	var paths []string
	for _, jar := range zooKeeperJars {
		p := filepath.Join("/usr/share/java", jar)
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("%w: no %s", ErrNoZooKeeper, p)
		}
		paths = append(paths, p)
	}
	return strings.Join(paths, ":"), nil
}

// StartZooKeeper runs ZooKeeper in dir (a temp dir when empty) on a free
// loopback port and waits until it serves. Its tick is 500 ms, so
// sessions may be as short as 1 s: a killed ClickHouse's session ends
// soon and its restart is not refused as "already active" for long.
func StartZooKeeper(ctx context.Context, dir string) (*ZooKeeper, error) {
	java, err := exec.LookPath("java")
	if err != nil {
		return nil, fmt.Errorf("%w: no java in PATH", ErrNoZooKeeper)
	}
	cp, err := zooKeeperClassPath()
	if err != nil {
		return nil, err
	}
	if dir == "" {
		if dir, err = os.MkdirTemp("", "remarket-zookeeper-"); err != nil {
			return nil, err
		}
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("cannot create zookeeper dir: %w", err)
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	z := &ZooKeeper{Dir: dir, Port: port, java: java, classPath: cp}
	if err := z.start(ctx); err != nil {
		return nil, err
	}
	return z, nil
}

// start runs the process on z's port and directory and waits until it
// serves.
func (z *ZooKeeper) start(ctx context.Context) error {
	dir, port, java, cp := z.Dir, z.Port, z.java, z.classPath
	logf, err := os.OpenFile(filepath.Join(dir, "zookeeper.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("cannot open zookeeper log: %w", err)
	}
	// ZooKeeperServerMain PORT DATADIR TICKTIME; the admin HTTP server
	// would take port 8080.
	cmd := exec.Command(java, "-Xmx128m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
		"-cp", cp, "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn", "-Dzookeeper.admin.enableServer=false",
		"org.apache.zookeeper.server.ZooKeeperServerMain", strconv.Itoa(port), filepath.Join(dir, "data"), "500")
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("cannot start zookeeper: %w", err)
	}
	z.cmd = cmd
	z.exited = make(chan struct{})
	go func() { cmd.Wait(); logf.Close(); close(z.exited) }()
	deadline := time.Now().Add(60 * time.Second)
	for {
		if z.serving() {
			return nil
		}
		select {
		case <-z.exited:
			tail, _ := os.ReadFile(filepath.Join(dir, "zookeeper.log"))
			z.cmd = nil
			return fmt.Errorf("zookeeper exited during start-up:\n%s", lastBytes(tail, 2000))
		case <-ctx.Done():
			z.Kill()
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			z.Kill()
			return fmt.Errorf("zookeeper did not serve on 127.0.0.1:%d within 60s", port)
		}
	}
}

// serving asks the srvr four-letter command (allowed by default).
func (z *ZooKeeper) serving() bool {
	c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(z.Port), time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("srvr")); err != nil {
		return false
	}
	sc := bufio.NewScanner(c)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "Mode:") {
			return true
		}
	}
	return false
}

// Kill stops ZooKeeper at once (SIGKILL), keeping its data: Restart
// starts it again, as an outage that ends.
func (z *ZooKeeper) Kill() {
	if z.cmd != nil {
		_ = syscall.Kill(-z.cmd.Process.Pid, syscall.SIGKILL)
		<-z.exited
		z.cmd = nil
	}
}

// Restart starts ZooKeeper again after Kill, on the same port and data.
func (z *ZooKeeper) Restart(ctx context.Context) error {
	if z.cmd != nil {
		return errors.New("zookeeper already running")
	}
	return z.start(ctx)
}

// Close stops ZooKeeper and removes its directory.
func (z *ZooKeeper) Close() error {
	z.Kill()
	return os.RemoveAll(z.Dir)
}
