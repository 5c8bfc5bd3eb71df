// Package chserver runs a private clickhouse-server process: for tests, and
// for users who start remarket locally without a ClickHouse of their own.
// The server gets its own directory, free loopback ports and a generated
// config, so it never touches a system installation.
package chserver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// Server is one clickhouse-server process and the directory it owns.
type Server struct {
	Dir      string // data, logs and config live here
	TCPPort  int    // native protocol
	HTTPPort int
	Binary   string
	Engine   Engine
	// ExtraConfig is XML added inside the generated config's root
	// element (a cluster member's remote_servers, macros, zookeeper).
	ExtraConfig string

	cmd    *exec.Cmd
	exited chan struct{}
	keep   bool // Dir was given by the caller: never remove it
	// stopping is set by Stop and Kill before they end the process, so
	// their doing is never taken for a crash (Crashed).
	stopping atomic.Bool
	// CoreDumps lets the process write a core file into Dir when it
	// crashes, which Output reads the crashed thread's stack from.
	CoreDumps bool
	started   time.Time // when Restart last started the process
}

// Options configure Start. Zero values pick a temp dir, free ports and
// clickhouse-server from PATH.
type Options struct {
	Dir      string
	TCPPort  int
	HTTPPort int
	Binary   string
	Engine   Engine
	// ExtraConfig is XML for the config's root element (clickhouse-server
	// only): what makes a server a member of a cluster (see StartCluster).
	ExtraConfig string
	// CoreDumps: see Server.CoreDumps. For tests: a core file is as large
	// as the server's memory.
	CoreDumps bool
}

// ErrNoBinary means clickhouse-server is not installed.
var ErrNoBinary = errors.New("clickhouse-server not found in PATH (install it with: make clickhouse, or apt-get install -y clickhouse-server clickhouse-client)")

// Start launches a server and waits until it answers on its native port.
func Start(ctx context.Context, opts Options) (*Server, error) {
	s := &Server{Dir: opts.Dir, TCPPort: opts.TCPPort, HTTPPort: opts.HTTPPort, Binary: opts.Binary, Engine: opts.Engine, ExtraConfig: opts.ExtraConfig, CoreDumps: opts.CoreDumps}
	if s.Binary == "" {
		p, err := s.Engine.binary(ctx)
		if err != nil {
			return nil, err
		}
		s.Binary = p
	}
	if s.Dir == "" {
		d, err := os.MkdirTemp("", "remarket-clickhouse-")
		if err != nil {
			return nil, fmt.Errorf("cannot create clickhouse dir: %w", err)
		}
		s.Dir = d
	} else {
		s.keep = true
		if err := os.MkdirAll(s.Dir, 0o755); err != nil {
			return nil, fmt.Errorf("cannot create clickhouse dir %q: %w", s.Dir, err)
		}
		abs, err := filepath.Abs(s.Dir)
		if err != nil {
			return nil, err
		}
		s.Dir = abs
	}
	var err error
	if s.TCPPort == 0 {
		if s.TCPPort, err = freePort(); err != nil {
			return nil, err
		}
	}
	if s.HTTPPort == 0 {
		if s.HTTPPort, err = freePort(); err != nil {
			return nil, err
		}
	}
	if err := s.Restart(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func lookBinary() (string, error) {
	for _, name := range []string{"clickhouse-server", "/usr/sbin/clickhouse-server", "/usr/bin/clickhouse-server"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", ErrNoBinary
}

// Crashed reports whether the process ended without Stop or Kill, and
// returns the end of its output and where its directory is kept.
func (s *Server) Crashed() (bool, string) {
	if !s.crashed() {
		return false, ""
	}
	msg := s.Output()
	if !s.keep {
		msg += "its directory (logs, data, any core file): " + s.Dir + "\n"
	}
	return true, msg
}

// Running says whether the process was started and has not ended (it
// may be dying, or stopped by a signal).
func (s *Server) Running() bool { return s.cmd != nil && !s.exitedNow() }

func (s *Server) crashed() bool { return s.cmd != nil && !s.stopping.Load() && s.exitedNow() }

// exitedNow says whether the started process has ended.
func (s *Server) exitedNow() bool {
	select {
	case <-s.exited:
		return true
	default:
		return false
	}
}

// Output is the end of the process's output (its last 3,000 bytes),
// then the end of the engine's crash report: chDB's fatal lines without
// their stack frames (they would crowd out the reason), clickhouse-server's
// BaseDaemon lines (18.16 names the signal there, and its frames carry
// function names).
func (s *Server) Output() string {
	out, _ := os.ReadFile(filepath.Join(s.Dir, "stdout.log"))
	text := string(lastBytes(out, 3000))
	logName, marker, frames := chdbLog, []byte("<Fatal>"), false
	if s.Engine != EngineChDB {
		logName, marker, frames = filepath.Join("log", "err.log"), []byte("BaseDaemon"), true
	}
	logged, _ := os.ReadFile(filepath.Join(s.Dir, logName))
	var report []byte
	for _, line := range bytes.SplitAfter(logged, []byte("\n")) {
		if bytes.Contains(line, marker) && (frames || !bytes.Contains(line, []byte(" @ 0x"))) {
			report = append(report, line...)
		}
	}
	if len(report) > 0 {
		text += "crash report in " + logName + ":\n" + string(lastBytes(report, 3000))
	}
	if stack := s.crashStack(); stack != "" {
		text += "stack of the crashed thread (gdb, from the core file):\n" + stack
	}
	return text
}

// crashStack is the stack of the thread that crashed clickhouse-server,
// read by gdb from the core file in Dir, or "" without one (or without
// gdb). 18.16's own handler logs one frame and then hangs for the ten
// seconds it waits before dying, so its report never names the function
// that crashed.
func (s *Server) crashStack() string {
	if s.Engine == EngineChDB || !s.crashed() {
		return ""
	}
	gdb, err := exec.LookPath("gdb")
	if err != nil {
		return ""
	}
	// The kernel names it core, or core.<pid> with core_uses_pid set.
	for _, name := range []string{fmt.Sprintf("core.%d", s.cmd.Process.Pid), "core"} {
		core := filepath.Join(s.Dir, name)
		// A core from before a restart is another crash's.
		if fi, err := os.Stat(core); err != nil || fi.ModTime().Before(s.started) {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		out, _ := exec.CommandContext(ctx, gdb, "-q", "-batch", "-nx", "-ex", "bt 40", s.Binary, core).Output()
		var frames []byte
		for _, line := range bytes.Split(out, []byte("\n")) {
			if bytes.HasPrefix(line, []byte("#")) && len(frames) < 8000 {
				frames = append(append(frames, line[:min(len(line), 400)]...), '\n')
			}
		}
		return string(frames)
	}
	return ""
}

// Restart starts the process again after Stop, Kill or a crash, on the
// same ports and data.
func (s *Server) Restart(ctx context.Context) error {
	if s.crashed() {
		s.cmd = nil
	}
	if s.cmd != nil {
		return errors.New("clickhouse server already running")
	}
	s.stopping.Store(false)
	args, err := s.command()
	if err != nil {
		return err
	}
	logf, err := os.OpenFile(filepath.Join(s.Dir, "stdout.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("cannot open clickhouse log: %w", err)
	}
	cmd := exec.Command(s.Binary, args...)
	cmd.Dir = s.Dir
	cmd.Stdout, cmd.Stderr = logf, logf
	if s.Engine == EngineChDB {
		// clickhouse-server gets UTC from its config; chDB's server from TZ.
		cmd.Env = append(os.Environ(), "TZ=UTC")
	}
	// Own process group and a parent-death signal: a killed test binary
	// must not leave a server behind.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if s.CoreDumps {
		// The child inherits the limit; Go itself writes no core unless
		// GOTRACEBACK=crash.
		var core syscall.Rlimit
		if syscall.Getrlimit(syscall.RLIMIT_CORE, &core) == nil && core.Cur < core.Max {
			core.Cur = core.Max
			_ = syscall.Setrlimit(syscall.RLIMIT_CORE, &core)
		}
	}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("cannot start %s: %w", s.Binary, err)
	}
	s.cmd = cmd
	s.started = time.Now()
	s.exited = make(chan struct{})
	go func() {
		cmd.Wait()
		// How it ended (a signal's name says more than a silent log).
		fmt.Fprintf(logf, "chserver: %s ended: %v\n", s.Engine, cmd.ProcessState)
		logf.Close()
		close(s.exited)
	}()
	return s.waitReady(ctx)
}

// command writes what the engine reads at start and returns its arguments.
func (s *Server) command() ([]string, error) {
	if s.Engine == EngineChDB {
		return s.chdbArgs()
	}
	if err := s.writeConfig(); err != nil {
		return nil, err
	}
	return []string{"--config-file=" + filepath.Join(s.Dir, "config.xml")}, nil
}

func (s *Server) waitReady(ctx context.Context) error {
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-s.exited:
			tail, _ := os.ReadFile(filepath.Join(s.Dir, s.Engine.errorLog()))
			s.cmd = nil
			return fmt.Errorf("%s exited during start-up; its error log:\n%s", s.Engine, lastError(tail))
		case <-ctx.Done():
			s.Kill()
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if pingHTTP(s.HTTPPort) {
			return nil
		}
	}
	// Killed, so that Restart can try again.
	s.Kill()
	return fmt.Errorf("%s did not answer on 127.0.0.1:%d within 60s", s.Engine, s.HTTPPort)
}

// pingHTTP asks the built-in /ping endpoint; the native port opens at the
// same time.
func pingHTTP(port int) bool {
	c := http.Client{Timeout: time.Second}
	resp, err := c.Get("http://127.0.0.1:" + strconv.Itoa(port) + "/ping")
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
	return resp.StatusCode == http.StatusOK && strings.HasPrefix(string(body), "Ok.")
}

// lastError is the end of an error log from its last exception message
// on (a stack trace follows it), or its last 2,000 bytes.
func lastError(log []byte) []byte {
	if i := bytes.LastIndex(log, []byte("Exception: ")); i >= 0 {
		if j := bytes.LastIndexByte(log[:i], '\n'); j >= 0 {
			i = j + 1
		}
		return log[i:min(len(log), i+2000)]
	}
	return lastBytes(log, 2000)
}

func lastBytes(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// Stop terminates the process and keeps its data, so Restart can resume.
func (s *Server) Stop() error {
	if s.cmd == nil {
		return nil
	}
	s.stopping.Store(true)
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(20 * time.Second):
		_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-s.exited
	}
	s.cmd = nil
	return nil
}

// Kill ends the process with SIGKILL, as a crash would, and keeps its
// data, so Restart can resume.
func (s *Server) Kill() {
	if s.cmd == nil {
		return
	}
	s.stopping.Store(true)
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
	<-s.exited
	s.cmd = nil
}

// Signal sends sig to the server's process, as a crash would (SIGSEGV)
// or the kernel's OOM killer (SIGKILL): unlike Stop and Kill, the end it
// causes counts as a crash.
func (s *Server) Signal(sig syscall.Signal) error {
	if s.cmd == nil {
		return errors.New("clickhouse server not running")
	}
	return syscall.Kill(s.cmd.Process.Pid, sig)
}

// Close stops the server and removes a directory it created itself,
// unless the server crashed: its logs (18.16 writes the crash's stack to
// err.log) and a core file are what a post-mortem needs.
func (s *Server) Close() error {
	crashed := s.crashed()
	err := s.Stop()
	if !crashed && !s.keep && s.Dir != "" {
		os.RemoveAll(s.Dir)
	}
	return err
}

// DSN is the native-protocol address of database db on this server.
func (s *Server) DSN(db string) string {
	return fmt.Sprintf("clickhouse://127.0.0.1:%d/%s", s.TCPPort, db)
}

// freePort finds a loopback port nothing listens on, below Linux's
// ephemeral range (32768 and up): a port the kernel handed out and took
// back can be given to any outgoing connection (another test's client)
// before the server binds it, which made servers fail to start with
// "Address already in use". Ports are drawn at random, so test processes
// running side by side rarely draw the same one.
func freePort() (int, error) {
	for range 200 {
		port := 20000 + rand.IntN(12000)
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue
		}
		l.Close()
		return port, nil
	}
	return 0, errors.New("cannot find a free port between 20000 and 32000")
}
