package chdb

// Where ClickHouse 18.16 needs another form of a statement than a current
// server, the choice is made here, by the server's version, and nowhere
// else: the migration templates (sql/) and the query variants (segment's
// *.legacy.sql) ask Legacy. Dropping 18.16 means deleting the legacy
// branches and files this points to.
//
// Forms that differ (both are tested: the suite runs on 18.16 and on 26.7,
// and internal/crosscheck requires the same results from both):
//   - column types: LowCardinality(String) on current servers (experimental
//     in 18.16); per-column compression codecs (CODEC(...) is a syntax error
//     in 18.16);
//   - ranking: window functions (row_number() OVER ...) on current servers,
//     arraySort/arrayEnumerate over grouped arrays on 18.16;
//   - settings: min_insert_block_size_rows on 18.16 only (see
//     defaultSettings);
//   - ALTER TABLE … ADD COLUMN IF NOT EXISTS, which 18.16 cannot parse:
//     the migration runner checks system.columns itself (sql.apply).
//
// Everything else is one statement for both: aliases on joined subqueries,
// ALL INNER JOIN where 18.16 said ANY INNER JOIN, no PREWHERE on
// array-joined columns.

// currentSince is the oldest release given the current forms: 23.8, the
// oldest long-term-support release with all of them (and with the analyzer
// that 26.9 makes mandatory). Servers between 18.16 and it get the 18.16
// forms, which every later release still accepts.
var currentSince = Version{Major: 23, Minor: 8}

// Legacy reports a server that gets the ClickHouse 18.16 forms.
func (v Version) Legacy() bool { return !v.AtLeast(currentSince.Major, currentSince.Minor) }
