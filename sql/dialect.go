package sql

import (
	"fmt"
	"strings"
	"text/template"

	"github.com/remarket/remarket/internal/chdb"
)

// render fills a statement template for the server's version: current
// servers get LowCardinality strings and compression codecs, ClickHouse
// 18.16 (chdb.Version.Legacy) plain strings and its default LZ4.
func render(stmt string, v chdb.Version) (string, error) {
	if !strings.Contains(stmt, "{{") {
		return stmt, nil
	}
	legacy := v.Legacy()
	funcs := template.FuncMap{
		// lowCardinality wraps a column type of few distinct values
		// (event types, sites, currencies): dictionary-encoded, it is
		// smaller and groups faster. Experimental in 18.16.
		"lowCardinality": func(typ string) string {
			if legacy {
				return typ
			}
			return "LowCardinality(" + typ + ")"
		},
		// codec sets a column's compression; 18.16 has no per-column
		// codecs (a syntax error) and compresses everything with LZ4.
		"codec": func(codecs string) string {
			if legacy {
				return ""
			}
			return " CODEC(" + codecs + ")"
		},
	}
	t, err := template.New("statement").Funcs(funcs).Option("missingkey=error").Parse(stmt)
	if err != nil {
		return "", fmt.Errorf("cannot parse statement template: %w", err)
	}
	var b strings.Builder
	if err := t.Execute(&b, nil); err != nil {
		return "", fmt.Errorf("cannot fill statement template: %w", err)
	}
	return b.String(), nil
}
