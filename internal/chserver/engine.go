package chserver

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

// Engine is the ClickHouse build a Server runs.
type Engine string

const (
	// EngineServer is clickhouse-server from PATH: Debian's 18.16 on our
	// machines, whatever the user installed elsewhere.
	EngineServer Engine = ""
	// EngineChDB is a current ClickHouse (26.x) from the chDB library,
	// served by internal/tools/chdbserver. Tests only: it needs the Go
	// toolchain and the library from npm.
	EngineChDB Engine = "chdb"
)

// ParseEngine reads an engine name as tests take it from the environment.
func ParseEngine(s string) (Engine, error) {
	switch s {
	case "", "server", "clickhouse-server":
		return EngineServer, nil
	case "chdb":
		return EngineChDB, nil
	}
	return "", fmt.Errorf("unknown ClickHouse engine %q: use server (clickhouse-server from PATH) or chdb (ClickHouse 26 from the chDB library)", s)
}

func (e Engine) String() string {
	if e == EngineChDB {
		return "chdb"
	}
	return "clickhouse-server"
}

func (e Engine) binary(ctx context.Context) (string, error) {
	if e == EngineChDB {
		return chdbServerBinary(ctx)
	}
	return lookBinary()
}

// errorLog is where the engine says why it did not start, under Dir.
func (e Engine) errorLog() string {
	if e == EngineChDB {
		return "stdout.log"
	}
	return filepath.Join("log", "err.log")
}

func (s *Server) chdbArgs() ([]string, error) {
	lib, err := chdbLibrary()
	if err != nil {
		return nil, err
	}
	data := filepath.Join(s.Dir, "data")
	if err := os.MkdirAll(data, 0o755); err != nil {
		return nil, fmt.Errorf("cannot create chdb dir: %w", err)
	}
	return []string{
		"--lib=" + lib,
		"--path=" + data + "/",
		"--tcp-port=" + strconv.Itoa(s.TCPPort),
		"--http-port=" + strconv.Itoa(s.HTTPPort),
		// The memory limit of clickhouse-server's generated users.xml.
		"--", "--max_memory_usage=" + strconv.Itoa(memoryLimit),
		// Warnings and worse, with a crash's stack trace (see Output).
		"--logger.log=" + filepath.Join(s.Dir, chdbLog), "--log-level=warning",
	}, nil
}

// chdbLog is chDB's log file, under Dir.
const chdbLog = "chdb.log"

// chdbLibrary is libchdb.so: CHDB_LIB_PATH (chDB's own variable), else
// what `npm ci` in e2e/ installed (the version e2e/package.json pins).
func chdbLibrary() (string, error) {
	if p := os.Getenv("CHDB_LIB_PATH"); p != "" {
		return p, nil
	}
	root, err := ModuleRoot()
	if err != nil {
		return "", err
	}
	p := filepath.Join(root, "e2e", "node_modules", "@chdb", "lib-linux-x64-gnu", "libchdb.so")
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("%w at %s: run `make deps` (npm ci in e2e/) or set CHDB_LIB_PATH", ErrNoChDB, p)
	}
	return p, nil
}

// ErrNoChDB means the chDB library is not installed.
var ErrNoChDB = errors.New("libchdb.so not found")

// ChDBServerEnv names a prebuilt internal/tools/chdbserver; without it the
// tool is built from the source tree the tests run in, once per process.
const ChDBServerEnv = "REMARKET_CHDBSERVER"

var chdbBuild struct {
	once sync.Once
	path string
	err  error
}

func chdbServerBinary(ctx context.Context) (string, error) {
	if p := os.Getenv(ChDBServerEnv); p != "" {
		return p, nil
	}
	chdbBuild.once.Do(func() {
		chdbBuild.path, chdbBuild.err = buildChDBServer(ctx)
	})
	return chdbBuild.path, chdbBuild.err
}

func buildChDBServer(ctx context.Context) (string, error) {
	root, err := ModuleRoot()
	if err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp("", "remarket-chdbserver-")
	if err != nil {
		return "", err
	}
	out := filepath.Join(dir, "chdbserver")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "./internal/tools/chdbserver")
	cmd.Dir = root
	if msg, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("cannot build chdbserver (set %s to a built one): %v: %s", ChDBServerEnv, err, msg)
	}
	return out, nil
}

// ModuleRoot is the remarket source tree around the working directory
// (the chDB engine builds its server there; the benchmark tools build
// remarket).
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if mod, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && strings.HasPrefix(string(mod), "module github.com/remarket/remarket\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("run from remarket's source tree: no go.mod of github.com/remarket/remarket above the working directory")
		}
		dir = parent
	}
}
