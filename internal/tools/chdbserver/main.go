// Command chdbserver serves a current ClickHouse (the chDB library,
// libchdb.so) on loopback ports, speaking ClickHouse's native and HTTP
// protocols, so the whole test suite can run unchanged against the
// ClickHouse users run in production as well as against the Debian
// clickhouse-server 18.16 the project installs.
//
// It is a test tool: it is not part of the remarket binary, and it needs
// the library from npm (@chdb/lib-linux-x64-gnu, see e2e/package.json);
// internal/chserver starts it with the library's path.
//
// chDB is clickhouse-local as a library. clickhouse-local (26.6 and newer)
// can open the server's listeners with SYSTEM START LISTEN, but only when it
// runs through its command-line entry point: a chDB session (chdb_connect,
// what chdb-go's Session uses) has no start_servers_callback and refuses.
// So this program calls that entry point, query_stable_v2, with a query
// that opens the listeners and then waits until the process is killed.
//
// Run that way, clickhouse-local 26.7 ends the whole process (SIGABRT)
// when a connection handler throws, for instance when a client's socket
// is reset: it installs Poco's KillingErrorHandler unless it is
// interactive (ClickHouse issue 115666, fixed after 26.7 by PR 115715).
// The tests kill clients mid-connection on purpose, so this program runs
// the engine interactive: standard input is a new pseudo-terminal and
// --interactive is passed. The query still runs first, and never ends.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"unsafe"

	"github.com/creack/pty"
	"github.com/ebitengine/purego"
	"golang.org/x/sys/unix"
)

// localResultV2 mirrors chDB's struct local_result_v2 (chdb.h); only the
// error message is read.
type localResultV2 struct {
	_        *byte          // buf
	_        uintptr        // len
	_        unsafe.Pointer // _vec
	_        float64        // elapsed
	_        uint64         // rows_read
	_        uint64         // bytes_read
	errorMsg *byte
}

func main() {
	path := flag.String("path", "", "data directory (kept across restarts)")
	tcpPort := flag.Int("tcp-port", 0, "native protocol port on 127.0.0.1")
	httpPort := flag.Int("http-port", 0, "HTTP port on 127.0.0.1")
	lib := flag.String("lib", "", "libchdb.so (default: $CHDB_LIB_PATH)")
	flag.Parse()
	if *path == "" || *tcpPort == 0 || *httpPort == 0 {
		fmt.Fprintln(os.Stderr, "chdbserver: --path, --tcp-port and --http-port are required")
		os.Exit(2)
	}
	libPath, err := findLibrary(*lib)
	if err != nil {
		fmt.Fprintln(os.Stderr, "chdbserver:", err)
		os.Exit(2)
	}
	if err := serve(libPath, *path, *tcpPort, *httpPort, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "chdbserver:", err)
		os.Exit(1)
	}
}

// findLibrary takes the flag, then CHDB_LIB_PATH (chDB's own variable).
func findLibrary(flagged string) (string, error) {
	if flagged != "" {
		return flagged, nil
	}
	if p := os.Getenv("CHDB_LIB_PATH"); p != "" {
		return p, nil
	}
	return "", errors.New("no libchdb.so: give --lib or set CHDB_LIB_PATH")
}

// serve runs the engine; extra are more clickhouse-local arguments
// (settings such as --max_memory_usage=N).
func serve(libPath, path string, tcpPort, httpPort int, extra []string) error {
	if err := os.MkdirAll(path, 0o755); err != nil {
		return fmt.Errorf("cannot create data directory %q: %w", path, err)
	}
	lib, err := purego.Dlopen(libPath, purego.RTLD_NOW|purego.RTLD_GLOBAL)
	if err != nil {
		return fmt.Errorf("cannot load %s: %w", libPath, err)
	}
	var queryStableV2 func(argc int, argv []*byte) *localResultV2
	purego.RegisterLibFunc(&queryStableV2, lib, "query_stable_v2")
	terminal, err := terminalOnStdin()
	if err != nil {
		return err
	}
	defer terminal.Close()

	// The query returns only when the process is killed: sleepEachRow
	// sleeps one second per row, one row per block.
	args := []string{
		"clickhouse",
		"--path=" + path,
		"--listen_host=127.0.0.1",
		"--tcp_port=" + strconv.Itoa(tcpPort),
		"--http_port=" + strconv.Itoa(httpPort),
		"--interactive", // see the package comment
	}
	args = append(args, extra...)
	args = append(args,
		"--multiquery",
		"--query=SYSTEM START LISTEN TCP; SYSTEM START LISTEN HTTP; "+
			"SELECT sleepEachRow(1) FROM system.numbers SETTINGS max_block_size = 1 FORMAT Null",
	)
	argv := make([]*byte, len(args))
	for i, a := range args {
		b := append([]byte(a), 0)
		argv[i] = &b[0]
	}
	res := queryStableV2(len(argv), argv)
	if res != nil && res.errorMsg != nil {
		return errors.New(cString(res.errorMsg))
	}
	return errors.New("the engine stopped serving")
}

// terminalOnStdin makes standard input a new pseudo-terminal, so
// clickhouse-local can be interactive (see the package comment). The
// returned controlling side must stay open while the engine runs: closing
// it hangs up the terminal.
func terminalOnStdin() (*os.File, error) {
	control, terminal, err := pty.Open()
	if err != nil {
		return nil, fmt.Errorf("cannot open a pseudo-terminal: %w", err)
	}
	defer terminal.Close()
	if err := unix.Dup3(int(terminal.Fd()), int(os.Stdin.Fd()), 0); err != nil {
		control.Close()
		return nil, fmt.Errorf("cannot make the pseudo-terminal standard input: %w", err)
	}
	return control, nil
}

func cString(p *byte) string {
	n := 0
	for *(*byte)(unsafe.Add(unsafe.Pointer(p), n)) != 0 {
		n++
	}
	return string(unsafe.Slice(p, n))
}
