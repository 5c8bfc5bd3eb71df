package chserver

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// StartOrAttach reuses a managed server already running on dir (another
// remarket process started it) or starts one there. attached reports that
// the server belongs to another process and must not be stopped.
func StartOrAttach(ctx context.Context, dir string) (s *Server, attached bool, err error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, false, err
	}
	portFile := filepath.Join(abs, "ports")
	if raw, err := os.ReadFile(portFile); err == nil {
		f := strings.Fields(string(raw))
		if len(f) == 2 {
			tcp, _ := strconv.Atoi(f[0])
			http, _ := strconv.Atoi(f[1])
			if tcp > 0 && pingHTTP(http) {
				return &Server{Dir: abs, TCPPort: tcp, HTTPPort: http, keep: true}, true, nil
			}
		}
	}
	s, err = Start(ctx, Options{Dir: abs})
	if err != nil {
		return nil, false, err
	}
	ports := strconv.Itoa(s.TCPPort) + " " + strconv.Itoa(s.HTTPPort) + "\n"
	if err := os.WriteFile(portFile, []byte(ports), 0o644); err != nil {
		s.Stop()
		return nil, false, err
	}
	return s, false, nil
}
