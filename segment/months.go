package segment

import (
	"context"
	"errors"
	"fmt"
	"maps"
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
// made again by a later insert. Merges and mutations keep the block
// numbers of the parts they replace, and inserts add higher ones, so
// neither looks like a drop. Another shop's months are not the site's:
// their going (that shop's retention, or on 26.7 its erasures emptying a
// month, which 26.7 then removes) changes nothing here.

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

// droppedFrom names a month of m dropped since m was recorded, judged by
// ps, the partitions now.
func (m months) droppedFrom(ps partitions) (string, bool) {
	present := map[string]bool{}
	for k := range ps {
		present[k.partition] = true
	}
	for _, k := range slices.SortedFunc(maps.Keys(m), func(a, b shardMonth) int { return strings.Compare(a.partition, b.partition) }) {
		if k.shard < 0 {
			if !present[k.partition] {
				return k.partition, true
			}
			continue
		}
		now, ok := ps[k]
		if !ok || now.min > m[k] {
			return k.partition, true
		}
	}
	return "", false
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
		in := make([]string, len(only))
		for i, m := range only {
			n, err := strconv.ParseUint(m, 10, 32)
			if err != nil {
				return nil, fmt.Errorf("events partition %q is not a month (toYYYYMM)", m)
			}
			in[i] = strconv.FormatUint(n, 10)
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
