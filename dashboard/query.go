package dashboard

import (
	"context"
	"fmt"
	"reflect"
)

// rows runs a query and returns each row as a column → value map, ready
// to be sent as JSON. Every query here is read-only and bound by "?".
func (u *UI) rows(ctx context.Context, query string, args ...any) ([]map[string]any, error) {
	rs, err := u.db.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	types := rs.ColumnTypes()
	out := []map[string]any{}
	for rs.Next() {
		dest := make([]any, len(types))
		for i, t := range types {
			dest[i] = reflect.New(t.ScanType()).Interface()
		}
		if err := rs.Scan(dest...); err != nil {
			return nil, fmt.Errorf("scan: %w", err)
		}
		row := make(map[string]any, len(types))
		for i, t := range types {
			row[t.Name()] = reflect.ValueOf(dest[i]).Elem().Interface()
		}
		out = append(out, row)
	}
	return out, rs.Err()
}
