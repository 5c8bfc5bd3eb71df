package segment_test

import (
	"math"
	"strings"
	"testing"

	"github.com/remarket/remarket/segment"
)

func near(a, b float64) bool { return math.Abs(a-b) < 5e-5 }

// TestNewcombeMatchesThePublishedTable: the eight examples of Newcombe
// (1998), Statistics in Medicine 17:873-890, table II, method 10 — with
// zero successes, all successes and groups of seven.
func TestNewcombeMatchesThePublishedTable(t *testing.T) {
	cases := []struct {
		x1, n1, x2, n2 uint64
		d, lo, hi      float64
	}{
		{56, 70, 48, 80, 0.2, 0.0524, 0.3339},
		{9, 10, 3, 10, 0.6, 0.1705, 0.8090},
		{6, 7, 2, 7, 0.5714, 0.0582, 0.8062},
		{5, 56, 0, 29, 0.0893, -0.0381, 0.1926},
		{0, 10, 0, 20, 0, -0.1611, 0.2775},
		{0, 10, 0, 10, 0, -0.2775, 0.2775},
		{10, 10, 0, 20, 1, 0.6791, 1},
		{10, 10, 0, 10, 1, 0.6075, 1},
	}
	for _, c := range cases {
		d, lo, hi := segment.Newcombe(c.x1, c.n1, c.x2, c.n2)
		if !near(math.Round(d*1e4)/1e4, c.d) || !near(math.Round(lo*1e4)/1e4, c.lo) || !near(math.Round(hi*1e4)/1e4, c.hi) {
			t.Errorf("%d/%d − %d/%d = %.4f (%.4f, %.4f), want %.4f (%.4f, %.4f)", c.x1, c.n1, c.x2, c.n2, d, lo, hi, c.d, c.lo, c.hi)
		}
	}
	if lo, hi := segment.Wilson(0, 10); lo != 0 || !near(hi, 0.2775) {
		t.Errorf("Wilson 0/10 = (%g, %g), want (0, 0.2775)", lo, hi)
	}
}

// TestRelativeLiftLogInterval: the log (Katz) interval of the rate ratio,
// by hand: 56/70 ÷ 48/80 = 4/3, se = √(1/56 − 1/70 + 1/48 − 1/80).
func TestRelativeLiftLogInterval(t *testing.T) {
	cases := []struct {
		name           string
		x1, n1, x2, n2 uint64
		ok             bool
		r, lo, hi      float64
	}{
		{"both converted", 56, 70, 48, 80, true, 0.3333, 0.0766, 0.6512},
		{"small groups", 12, 100, 8, 100, true, 0.5, -0.3592, 2.5115},
		{"no treated converter: Haldane", 0, 40, 3, 40, true, -1, -0.9924, 1.6791},
		{"no holdout converter: undefined", 5, 56, 0, 29, false, 0, 0, 0},
		{"nobody converted", 0, 10, 0, 10, false, 0, 0, 0},
		{"empty group", 1, 10, 1, 0, false, 0, 0, 0},
	}
	for _, c := range cases {
		r, lo, hi, ok := segment.RelativeLift(c.x1, c.n1, c.x2, c.n2)
		if ok != c.ok || (ok && (!near(math.Round(r*1e4)/1e4, c.r) || !near(math.Round(lo*1e4)/1e4, c.lo) || !near(math.Round(hi*1e4)/1e4, c.hi))) {
			t.Errorf("%s: %.4f (%.4f, %.4f) %v, want %.4f (%.4f, %.4f) %v", c.name, r, lo, hi, ok, c.r, c.lo, c.hi, c.ok)
		}
	}
}

// TestCompareSaysWhatTheFiguresAllow: verdicts from no holdout to a clear
// lift, and incremental revenue with its interval.
func TestCompareSaysWhatTheFiguresAllow(t *testing.T) {
	g := func(members, converters uint64, revenue, revenueSq float64) segment.GroupOutcome {
		return segment.GroupOutcome{Members: members, Converters: converters, Revenue: revenue, RevenueSq: revenueSq}
	}
	cases := []struct {
		name    string
		t, h    segment.GroupOutcome
		verdict string
		says    string
	}{
		{"holdout disabled", g(500, 40, 0, 0), g(0, 0, 0, 0), segment.VerdictNoHoldout, "Nothing to compare"},
		{"tiny holdout", g(90, 20, 0, 0), g(9, 1, 0, 0), segment.VerdictTooSmall, "9 held-out members"},
		{"too few conversions", g(900, 5, 0, 0), g(100, 0, 0, 0), segment.VerdictTooSmall, "5 conversions"},
		{"zero converters, large groups", g(900, 0, 0, 0), g(100, 10, 0, 0), segment.VerdictNegative, "less often"},
		{"clear lift", g(900, 180, 0, 0), g(100, 8, 0, 0), segment.VerdictPositive, "+12.0 pp"},
		{"no difference", g(900, 90, 0, 0), g(100, 10, 0, 0), segment.VerdictInconclusive, "includes zero"},
	}
	for _, c := range cases {
		l := segment.Compare(c.t, c.h)
		if l.Verdict != c.verdict || !strings.Contains(l.Message, c.says) {
			t.Errorf("%s: %s %q, want %s saying %q", c.name, l.Verdict, l.Message, c.verdict, c.says)
		}
	}

	// Revenue: treatment 4 members spending 10, 20, 0, 30 (mean 15,
	// variance 166.67); holdout 3 spending 0, 10, 5 (mean 5, variance
	// 25). Incremental = (15 − 5) × 4 = 40; se = √(166.67/4 + 25/3) × 4.
	l := segment.Compare(g(4, 3, 60, 100+400+900), g(3, 2, 15, 100+25))
	se := math.Sqrt(500.0/3/4+25.0/3) * 4
	r := l.IncrementalRevenue
	if !near(r.Value, 40) || r.Low == nil || !near(*r.Low, 40-1.959963984540054*se) || !near(*r.High, 40+1.959963984540054*se) {
		t.Errorf("incremental revenue %+v, want 40 ± %.4f", r, 1.96*se)
	}
	if !near(l.Treatment.RevenuePerMember, 15) || !near(l.IncrementalConversions, (0.75-2.0/3)*4) {
		t.Errorf("revenue per member %g, incremental conversions %g", l.Treatment.RevenuePerMember, l.IncrementalConversions)
	}
	if one := segment.Compare(g(1, 1, 5, 25), g(1, 0, 0, 0)); one.IncrementalRevenue.Low != nil {
		t.Error("one member per group has no revenue interval")
	}
}
