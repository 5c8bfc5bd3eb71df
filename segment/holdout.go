package segment

import (
	"crypto/sha256"
	"encoding/binary"
	"math"
	"sync"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/remarket/remarket/internal/config"
)

// Groups of an audience's members: the holdout is computed like everyone
// else but never exported nor targeted; outcomes compare the two.
const (
	Treatment = "treatment"
	Holdout   = "holdout"
)

// A person is their user id when they have one, else their visitor id, so
// a user's devices share one group and an anonymous visitor keeps theirs
// from run to run. Their bucket is the first 8 bytes (big-endian) of
// SHA-256(holdout_key | site | audience | person) modulo 10,000; the
// holdout is the buckets below holdout_percent × 100. The key makes the
// groups unpredictable to anyone without the config; the audience in the
// hash makes a person's groups in different audiences independent.

// PersonKey is how a person is named in the hash and in outcome records:
// "u:" + user id, else "v:" + visitor id.
func PersonKey(userID, visitorID string) string {
	if userID != "" {
		return "u:" + userID
	}
	return "v:" + visitorID
}

// HoldoutGroup is the group of a person of an audience; groupSQL computes
// the same in ClickHouse.
func HoldoutGroup(key, site, audience, person string, percent float64) string {
	sum := sha256.Sum256([]byte(key + "|" + site + "|" + audience + "|" + person))
	if binary.BigEndian.Uint64(sum[:8])%10000 < holdoutBasisPoints(percent) {
		return Holdout
	}
	return Treatment
}

func holdoutBasisPoints(percent float64) uint64 {
	return uint64(math.Round(percent * 100))
}

// personSQL is PersonKey over a row's user_id and visitor_id.
const personSQL = `if(user_id != '', concat('u:', user_id), concat('v:', visitor_id))`

// groupSQL is HoldoutGroup of a row with user_id and visitor_id, for
// @site and @audience, with @holdout_key and @holdout_bp (holdoutParams).
const groupSQL = `if(reinterpretAsUInt64(reverse(substring(SHA256(concat(@holdout_key, '|', @site, '|', @audience, '|', ` + personSQL + `)), 1, 8))) % 10000 < @holdout_bp, '` + Holdout + `', '` + Treatment + `')`

// holdoutParams bind groupSQL's values for audience a.
func (e *Engine) holdoutParams(a config.Audience) []any {
	if e.cfg.HoldoutKey == "" && a.Holdout() > 0 {
		warnNoHoldoutKey.Do(func() {
			e.log.Warn("holdout_key is not set: holdout groups are deterministic but predictable; set it (remarket init writes one) or REMARKET_HOLDOUT_KEY")
		})
	}
	return []any{clickhouse.Named("holdout_key", e.cfg.HoldoutKey), clickhouse.Named("holdout_bp", holdoutBasisPoints(a.Holdout()))}
}

var warnNoHoldoutKey sync.Once
