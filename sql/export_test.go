package sql

import (
	"context"
	"strings"

	"github.com/remarket/remarket/internal/chdb"
)

// ClusterStatements are the statements a cluster (c, database rm) gets
// from the migrations on a server of version v: a new cluster's plan,
// and every migration's statements rewritten one by one, as an existing
// cluster runs them (CREATE, ALTER, DROP of every kind).
func ClusterStatements(v chdb.Version) ([]string, error) {
	all, err := Migrations()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, planned := range []bool{true, false} {
		l := &layout{cluster: "c", db: "rm", local: "rm_shard", objects: map[string]object{}}
		if planned {
			l.plan = newPlan()
		}
		s := &Schema{DB: &chdb.DB{Version: v}, layout: l}
		for _, m := range all {
			s.version, s.n = m.Version, 0
			if m.Run != nil {
				if !planned {
					continue // reads the cluster; its statements are in the plan
				}
				if err := m.Run(context.Background(), s); err != nil {
					return nil, err
				}
			}
			for _, tmpl := range m.Statements {
				stmt, err := render(tmpl, v)
				if err != nil {
					return nil, err
				}
				s.n++
				l.tag = "t"
				rewritten, err := l.rewrite(SplitStatements(stmt)[0])
				if err != nil {
					return nil, err
				}
				if !planned {
					out = append(out, rewritten...)
				}
			}
		}
		if planned {
			out = append(out, l.plan.statements()...)
		}
	}
	for i, q := range out {
		out[i] = strings.TrimPrefix(q, EveryNode)
	}
	return out, nil
}
