package segment

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/remarket/remarket/internal/chdb"
)

// Retention drops whole months of events (events is partitioned by
// toYYYYMM(event_time)), and a run built on a previous run that read a
// month since dropped would keep what those events added. So each run
// records the months holding its site's events, with the highest block
// number of each one's parts on each shard when the run listed them. The
// next run is full when one is gone from a shard, or holds only parts
// made since (all its block numbers above the recorded one): dropped and
// made again by a later insert, and retention recorded dropping it.
// Merges and mutations keep the block numbers of the parts they replace,
// and inserts add higher ones, so neither looks like a drop. The record
// tells a drop from an erasure that deleted every event of a month, whose
// emptied parts 26.7 removes. Another shop's months are not the site's:
// their going changes nothing here. A month dropped by hand (ALTER TABLE
// events DROP PARTITION) is not seen until the next full run.

// shardMonth is an events partition (a month, as system.parts names it:
// "202402") on a shard (0 on a single server).
type shardMonth struct {
	shard     int
	partition string
}

// blocks are the lowest and highest block numbers of a partition's
// active parts on a shard.
type blocks struct{ min, max int64 }

// partitions are the events partitions holding rows, per shard.
type partitions map[shardMonth]blocks

// months are the site's months a run records: per shard the highest block
// number it listed (-1 for a month found only after the listing: its
// presence on some shard is checked, not its blocks).
type months map[shardMonth]int64

// eventsPartitions lists the partitions of events that hold rows: on a
// cluster on each shard (each executor's shard database).
func (e *Engine) eventsPartitions(ctx context.Context, res *RunResult) (partitions, error) {
	nodes := []*chdb.Node{{DB: e.db}}
	if res.cluster != nil {
		nodes = res.cluster.executors
	}
	all := partitions{}
	for _, n := range nodes {
		rows, err := n.DB.Query(ctx, `SELECT partition, min(min_block_number), max(max_block_number) FROM system.parts
			WHERE database = @db AND table = 'events' AND active GROUP BY partition`, clickhouse.Named("db", n.DB.Database))
		if err != nil {
			return nil, fmt.Errorf("cannot list the events partitions: %w", err)
		}
		for rows.Next() {
			var p string
			var b blocks
			if err := rows.Scan(&p, &b.min, &b.max); err != nil {
				rows.Close()
				return nil, err
			}
			all[shardMonth{n.Shard, p}] = b
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("cannot list the events partitions: %w", err)
		}
	}
	return all, nil
}

// names are the partitions' months, each once, sorted.
func (ps partitions) names() []string { return monthNames(ps) }

func monthNames[V any](m map[shardMonth]V) []string {
	var out []string
	for k := range m {
		out = append(out, k.partition)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// of are the months in held as recorded from ps.
func (ps partitions) of(held []string) months {
	m := months{}
	for _, h := range held {
		found := false
		for k, b := range ps {
			if k.partition == h {
				m[k], found = b.max, true
			}
		}
		if !found {
			m[shardMonth{-1, h}] = -1
		}
	}
	return m
}

// names are the months, each once, sorted.
func (m months) names() []string { return monthNames(m) }

// changedIn are the months of m gone since m was recorded, judged by ps,
// the partitions now: gone from a shard, or there with only parts made
// since (dropped and made again). Sorted, each once. Whether retention
// dropped them is for droppedMonths to say.
func (m months) changedIn(ps partitions) []string {
	present := map[string]bool{}
	for k := range ps {
		present[k.partition] = true
	}
	var out []string
	for k, b := range m {
		if k.shard < 0 {
			if !present[k.partition] {
				out = append(out, k.partition)
			}
			continue
		}
		if now, ok := ps[k]; !ok || now.min > b {
			out = append(out, k.partition)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// droppedMonths are the months of changed that retention dropped
// (events_dropped_months; privacy.DropEventsMonth), sorted. A month gone
// without that record went with the events an erasure deleted (26.7
// removes the parts an erasure empties), which the run recomputes
// anyway. Each node the run reads events on is asked: retention records
// a drop on every node before it drops, and a node that was down then
// may have the drop before the record.
func (e *Engine) droppedMonths(ctx context.Context, res *RunResult, changed []string) ([]string, error) {
	if len(changed) == 0 {
		return nil, nil
	}
	in, err := monthNumbers(changed)
	if err != nil {
		return nil, err
	}
	nodes := []*chdb.Node{{DB: e.db}}
	if res.cluster != nil {
		nodes = res.cluster.executors
	}
	var out []string
	for _, n := range nodes {
		var dropped []string
		if err := n.DB.QueryRow(ctx, "SELECT groupUniqArray(toString(month)) FROM events_dropped_months WHERE has(@months, month)",
			clickhouse.Named("months", in)).Scan(&dropped); err != nil {
			return nil, fmt.Errorf("cannot read the months retention dropped: %w", err)
		}
		out = append(out, dropped...)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// record is m as seg_run_state keeps it: "202402/0:17" (month/shard:block),
// sorted; a month without blocks is "202402".
func (m months) record() []string {
	out := make([]string, 0, len(m))
	for k, b := range m {
		if k.shard < 0 {
			out = append(out, k.partition)
			continue
		}
		out = append(out, fmt.Sprintf("%s/%d:%d", k.partition, k.shard, b))
	}
	slices.Sort(out)
	return out
}

// parseMonths reads seg_run_state's months; a month without blocks (found
// after the listing, or recorded before blocks were) is checked for
// presence only.
func parseMonths(recorded []string) (months, error) {
	m := months{}
	for _, r := range recorded {
		at, block, hasBlock := strings.Cut(r, ":")
		if !hasBlock {
			m[shardMonth{-1, r}] = -1
			continue
		}
		p, shard, _ := strings.Cut(at, "/")
		s, err1 := strconv.Atoi(shard)
		b, err2 := strconv.ParseInt(block, 10, 64)
		if err := errors.Join(err1, err2); err != nil {
			return nil, fmt.Errorf("the previous run's state names events month %q: %w", r, err)
		}
		m[shardMonth{s, p}] = b
	}
	return m, nil
}

// eventMonths are the months (events partitions) holding the site's
// events; of those in only when only is not nil. Each month is read by
// the partition and the site's key, so listing a few months costs what is
// in them, not the site's whole history.
func eventMonths(ctx context.Context, db *chdb.DB, site string, only []string) ([]string, error) {
	q := "SELECT groupUniqArray(toString(toYYYYMM(event_time))) FROM events WHERE site = @site"
	if only != nil {
		if len(only) == 0 {
			return nil, nil
		}
		// Partition names from system.parts, written back as numbers.
		ns, err := monthNumbers(only)
		if err != nil {
			return nil, err
		}
		in := make([]string, len(ns))
		for i, n := range ns {
			in[i] = strconv.FormatUint(uint64(n), 10)
		}
		q += " AND toYYYYMM(event_time) IN (" + strings.Join(in, ", ") + ")"
	}
	var held []string
	if err := db.QueryRow(ctx, q, clickhouse.Named("site", site)).Scan(&held); err != nil {
		return nil, fmt.Errorf("cannot list the months of the site's events: %w", err)
	}
	slices.Sort(held)
	return held, nil
}

// monthNumbers are events partition names (toYYYYMM, as system.parts
// names them) as numbers.
func monthNumbers(names []string) ([]uint32, error) {
	out := make([]uint32, len(names))
	for i, m := range names {
		n, err := strconv.ParseUint(m, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("events partition %q is not a month (toYYYYMM)", m)
		}
		out[i] = uint32(n)
	}
	return out, nil
}
