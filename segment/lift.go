package segment

import (
	"math"
	"strconv"
)

// Lift compares an audience's treatment group with its holdout
// (docs/analytics.md, "Outcomes and lift"):
//
//   - conversion rate per group, x converters of n members, with its
//     Wilson score interval;
//   - absolute lift, the difference of the rates, with Newcombe's hybrid
//     score interval (his method 10: the two Wilson intervals combined),
//     which stays inside [-1, 1] and is sound for zero converters and
//     small groups, where the normal (Wald) interval is not;
//   - relative lift, the ratio of the rates minus one, with the log
//     (Katz) interval of a risk ratio; when a group has no converters 0.5
//     is added to each cell (Haldane), and with none in the holdout the
//     ratio is undefined (no estimate);
//   - incremental revenue, the difference of the revenue per member times
//     the treatment's members, with the normal interval of a difference
//     of means (Welch), from each group's sum of squared revenue per person.
//
// All intervals are 95%.

// z is the standard normal quantile of 97.5%.
const z = 1.959963984540054

// When is a sample too small to conclude anything: below these, an
// interval is so wide that its reading is noise.
const (
	MinGroupMembers = 50 // in each group
	MinConversions  = 10 // in both groups together
)

// Verdicts of a lift.
const (
	VerdictNoHoldout    = "no_holdout"
	VerdictTooSmall     = "too_small"
	VerdictPositive     = "positive"
	VerdictNegative     = "negative"
	VerdictInconclusive = "inconclusive"
)

// GroupOutcome is what one group of an audience did.
type GroupOutcome struct {
	Members      uint64  `json:"members"`
	Converters   uint64  `json:"converters"`
	Orders       uint64  `json:"orders"`
	Revenue      float64 `json:"revenue"`
	RevenueSq    float64 `json:"-"`
	Redemptions  uint64  `json:"redemptions"`
	DiscountCost float64 `json:"discount_cost"`
}

// Add sums o into g.
func (g *GroupOutcome) Add(o GroupOutcome) {
	g.Members += o.Members
	g.Converters += o.Converters
	g.Orders += o.Orders
	g.Revenue += o.Revenue
	g.RevenueSq += o.RevenueSq
	g.Redemptions += o.Redemptions
	g.DiscountCost += o.DiscountCost
}

// Estimate is a value with its 95% interval; a nil bound is unknown.
type Estimate struct {
	Value float64  `json:"value"`
	Low   *float64 `json:"low"`
	High  *float64 `json:"high"`
}

func estimate(v, lo, hi float64) *Estimate {
	return &Estimate{Value: v, Low: &lo, High: &hi}
}

// GroupStats is a group's outcome with its rates.
type GroupStats struct {
	GroupOutcome
	ConversionRate   *Estimate `json:"conversion_rate"`
	RevenuePerMember float64   `json:"revenue_per_member"`
}

// Lift is the comparison of the two groups.
type Lift struct {
	Treatment GroupStats `json:"treatment"`
	Holdout   GroupStats `json:"holdout"`
	// Absolute is treatment minus holdout conversion rate (0.02 = 2
	// percentage points); Relative the ratio minus one (0.25 = +25%).
	Absolute *Estimate `json:"absolute_lift"`
	Relative *Estimate `json:"relative_lift"`
	// IncrementalConversions is Absolute times the treatment's members;
	// IncrementalRevenue the revenue the treatment brought beyond what
	// its members would have spent at the holdout's rate.
	IncrementalConversions float64   `json:"incremental_conversions"`
	IncrementalRevenue     *Estimate `json:"incremental_revenue"`
	Verdict                string    `json:"verdict"`
	Message                string    `json:"message"`
}

// Wilson is the Wilson score interval of x successes in n trials.
func Wilson(x, n uint64) (lo, hi float64) {
	if n == 0 {
		return 0, 1
	}
	fx, fn := float64(x), float64(n)
	c := (fx + z*z/2) / (fn + z*z)
	h := z / (fn + z*z) * math.Sqrt(fx*(fn-fx)/fn+z*z/4)
	return math.Max(0, c-h), math.Min(1, c+h)
}

// Newcombe is the difference of two proportions x1/n1 − x2/n2 with
// Newcombe's hybrid score interval (method 10).
func Newcombe(x1, n1, x2, n2 uint64) (d, lo, hi float64) {
	p1, p2 := float64(x1)/float64(n1), float64(x2)/float64(n2)
	l1, u1 := Wilson(x1, n1)
	l2, u2 := Wilson(x2, n2)
	d = p1 - p2
	return d, d - math.Hypot(p1-l1, u2-p2), d + math.Hypot(u1-p1, p2-l2)
}

// RelativeLift is x1/n1 ÷ x2/n2 − 1 with the log interval of the ratio
// (Haldane's 0.5 added to each cell when a group has no successes). ok
// is false when it is undefined: no successes in the second group (or
// in both), or an empty group.
func RelativeLift(x1, n1, x2, n2 uint64) (r, lo, hi float64, ok bool) {
	if x2 == 0 || n1 == 0 || n2 == 0 {
		return 0, 0, 0, false
	}
	a, b, c, d := float64(x1), float64(n1), float64(x2), float64(n2)
	point := (a / b) / (c / d)
	if x1 == 0 {
		a, b, c, d = a+0.5, b+1, c+0.5, d+1
	}
	rr := (a / b) / (c / d)
	se := math.Sqrt(1/a - 1/b + 1/c - 1/d)
	return point - 1, rr*math.Exp(-z*se) - 1, rr*math.Exp(z*se) - 1, true
}

// stats adds the rates to a group's outcome.
func stats(g GroupOutcome) GroupStats {
	s := GroupStats{GroupOutcome: g}
	if g.Members > 0 {
		lo, hi := Wilson(g.Converters, g.Members)
		s.ConversionRate = estimate(float64(g.Converters)/float64(g.Members), lo, hi)
		s.RevenuePerMember = g.Revenue / float64(g.Members)
	}
	return s
}

// meanVar is the mean and sample variance of per-person revenue.
func meanVar(g GroupOutcome) (mean, variance float64) {
	n := float64(g.Members)
	mean = g.Revenue / n
	if g.Members > 1 {
		variance = math.Max(0, (g.RevenueSq-n*mean*mean)/(n-1))
	}
	return mean, variance
}

// Compare computes the lift of treatment over holdout.
func Compare(treatment, holdout GroupOutcome) Lift {
	l := Lift{Treatment: stats(treatment), Holdout: stats(holdout)}
	t, h := treatment, holdout
	if h.Members == 0 || t.Members == 0 {
		l.Verdict = VerdictNoHoldout
		l.Message = "Nothing to compare yet: one group has no members (a holdout_percent of 0 has no holdout)."
		return l
	}
	d, lo, hi := Newcombe(t.Converters, t.Members, h.Converters, h.Members)
	l.Absolute = estimate(d, lo, hi)
	if r, rlo, rhi, ok := RelativeLift(t.Converters, t.Members, h.Converters, h.Members); ok {
		l.Relative = estimate(r, rlo, rhi)
	}
	l.IncrementalConversions = d * float64(t.Members)
	mt, vt := meanVar(t)
	mh, vh := meanVar(h)
	inc := (mt - mh) * float64(t.Members)
	l.IncrementalRevenue = &Estimate{Value: inc}
	if t.Members > 1 && h.Members > 1 {
		se := math.Sqrt(vt/float64(t.Members)+vh/float64(h.Members)) * float64(t.Members)
		rlo, rhi := inc-z*se, inc+z*se
		l.IncrementalRevenue.Low, l.IncrementalRevenue.High = &rlo, &rhi
	}
	switch {
	case t.Members < MinGroupMembers || h.Members < MinGroupMembers || t.Converters+h.Converters < MinConversions:
		l.Verdict = VerdictTooSmall
		l.Message = tooSmall(t, h)
	case lo > 0:
		l.Verdict = VerdictPositive
		l.Message = "Treated members converted more often than the holdout: " + pp(d) + " (95% interval " + pp(lo) + " to " + pp(hi) + ")."
	case hi < 0:
		l.Verdict = VerdictNegative
		l.Message = "Treated members converted less often than the holdout: " + pp(d) + " (95% interval " + pp(lo) + " to " + pp(hi) + ")."
	default:
		l.Verdict = VerdictInconclusive
		l.Message = "No significant difference yet: the 95% interval of the lift, " + pp(lo) + " to " + pp(hi) + ", includes zero."
	}
	return l
}

func tooSmall(t, h GroupOutcome) string {
	return "Too few people to conclude anything: " + itoa(t.Members) + " treated and " + itoa(h.Members) +
		" held-out members, " + itoa(t.Converters+h.Converters) + " conversions; at least " + itoa(MinGroupMembers) +
		" members in each group and " + itoa(MinConversions) + " conversions are needed before the figures mean anything."
}

// pp writes a difference of rates in percentage points: "+2.4 pp".
func pp(d float64) string {
	s := strconv.FormatFloat(math.Round(d*1000)/10, 'f', 1, 64)
	if d >= 0 {
		s = "+" + s
	}
	return s + " pp"
}

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }
