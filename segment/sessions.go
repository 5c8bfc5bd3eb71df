package segment

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
)

// ReadSessions reads sessions to replay (remarket eval --next-item
// --sessions FILE) as tab-separated lines: session id, product id, time
// (Unix seconds, fractions allowed), the format of the public session
// datasets (YooChoose, session-rec). A first line whose time is not a
// number is a header. Each session's views are ordered by time (lines of
// the same time keep their order); sessions come in the order they first
// appear.
func ReadSessions(r io.Reader) ([]Session, error) {
	type view struct {
		t   float64
		pid string
	}
	var order []string
	views := map[string][]view{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(line) == "" {
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) != 3 {
			return nil, fmt.Errorf("sessions line %d: want 3 tab-separated fields (session, product, time), got %d", n, len(f))
		}
		t, err := strconv.ParseFloat(strings.TrimSpace(f[2]), 64)
		if err == nil && (math.IsNaN(t) || math.IsInf(t, 0)) {
			err = fmt.Errorf("not finite")
		}
		if err != nil {
			if n == 1 {
				continue // header
			}
			return nil, fmt.Errorf("sessions line %d: time %q is not a number of seconds", n, f[2])
		}
		sid, pid := strings.TrimSpace(f[0]), strings.TrimSpace(f[1])
		if sid == "" || pid == "" {
			return nil, fmt.Errorf("sessions line %d: empty session or product id", n)
		}
		if _, ok := views[sid]; !ok {
			order = append(order, sid)
		}
		views[sid] = append(views[sid], view{t, pid})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("cannot read sessions: %w", err)
	}
	out := make([]Session, 0, len(order))
	for _, sid := range order {
		vs := views[sid]
		sort.SliceStable(vs, func(i, j int) bool { return vs[i].t < vs[j].t })
		s := make(Session, len(vs))
		for i, v := range vs {
			s[i] = v.pid
		}
		out = append(out, s)
	}
	return out, nil
}
