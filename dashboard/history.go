package dashboard

import (
	"context"
	"time"
)

// An audience's size history covers the last historyWindow and has at most
// historyPoints points, each the size found by the last run (recorded ok)
// of a step of time. The dashboard draws it as a sparkline and a chart; a
// year of quarter-hour runs is 35,000 sizes per audience.
const (
	historyWindow = 90 * 24 * time.Hour
	historyPoints = 200
)

// historySteps are the steps a size history may take, shortest first.
var historySteps = []time.Duration{time.Minute, 5 * time.Minute, 15 * time.Minute, time.Hour,
	3 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour}

// historyStep is the shortest step that keeps a span of runs within
// historyPoints points.
func historyStep(span time.Duration) time.Duration {
	for _, s := range historySteps {
		if span/s < historyPoints {
			return s
		}
	}
	return historySteps[len(historySteps)-1]
}

type sizePoint struct {
	RunTime time.Time `json:"run_time"`
	Size    uint64    `json:"size"`
}

// sizeHistory reads the site's audience sizes by audience, oldest first;
// audience "" reads every audience. It reads seg_audience_sizes and
// seg_runs by their keys (site, audience, time): v_audience_sizes groups
// every run of every site on ClickHouse 18.16.
func (u *UI) sizeHistory(ctx context.Context, site, audience string, now time.Time) (map[string][]sizePoint, error) {
	from := now.Add(-historyWindow).UTC().Truncate(time.Second)
	var first, last time.Time
	err := u.db.QueryRow(ctx, `SELECT min(run_time), max(run_time) FROM seg_audience_sizes
		WHERE site = ? AND (? = '' OR audience = ?) AND run_time >= ?`, site, audience, audience, from).Scan(&first, &last)
	if err != nil {
		return nil, err
	}
	out := map[string][]sizePoint{}
	if last.Before(from) { // no size in the window (min and max of nothing are 0)
		return out, nil
	}
	step := historyStep(last.Sub(first))
	rows, err := u.db.Query(ctx, `SELECT audience, max(run_time) AS point_time, argMax(size, run_time) AS point_size
		FROM seg_audience_sizes
		WHERE site = ? AND (? = '' OR audience = ?) AND run_time >= ?
			AND run_id IN (SELECT run_id FROM seg_runs WHERE site = ? AND started_at >= ?
				GROUP BY run_id HAVING argMax(status, updated) = 'ok')
		GROUP BY audience, intDiv(toUInt32(run_time), ?)
		ORDER BY audience, point_time`,
		site, audience, audience, from, site, from, uint32(step/time.Second))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		var p sizePoint
		if err := rows.Scan(&name, &p.RunTime, &p.Size); err != nil {
			return nil, err
		}
		p.RunTime = p.RunTime.UTC()
		out[name] = append(out[name], p)
	}
	return out, rows.Err()
}
