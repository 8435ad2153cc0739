package analysis

import (
	"fmt"
	"math"
	"strings"
)

// Method is the per-cell test behind a cell's p-value and significance.
type Method string

// The methods.
const (
	// Normal: the adjusted residual's normal approximation, 2 Φ(−|r|).
	// Every cell of a non-empty row and column is a test, zero cells
	// included.
	Normal Method = "normal"
	// Exact: Fisher's exact test of the cell against the rest of its row
	// and column (the 2×2 table [[O, r−O], [c−O, n−r−c+O]]), two-sided as
	// R's fisher.test. Only non-zero cells are tested: a zero cell has no
	// p-value, is never significant and is listed in no context's
	// associations. It still counts in its family's size, as a test of
	// p = 1 (p.adjust(p, n = m)), so a family's m is the same under both
	// methods: every cell of a non-empty row and column, or the stated
	// number. Counting only the non-zero cells would choose m from the
	// data, and it does not hold: on the null configuration (3,307
	// Zipf values × 50 contexts, 100k conversations) Bonferroni over the
	// non-zero cells gave a family-wise error of 6.7% ± 0.4%. Exact needs
	// integer counts; a table with a fractional count falls back to
	// Normal, as its Summary says.
	Exact Method = "exact"
)

// DefaultMethod is the method when none is chosen: Exact, by measurement
// (BenchmarkNullSimulation, nullsim_test.go). On tables independent by
// construction with a run's margins — 3,307 Zipf values × 50 contexts,
// 100k conversations, 50 tables — Bonferroni at α = 0.05 per context gave
// a family-wise error (share of contexts with a significant cell) of
// 100% under Normal, 1,175 false cells a table, and 0.96% ± 0.20% under
// Exact; with the paper's own value frequencies (values_frequencies.csv)
// 99.6% against 2.0% ± 0.3%. Counting only the cells a reader sees (over
// the default privacy floor), the paper's frequencies give 25.8 false
// cells in 40% ± 1% of the contexts under Normal — the issue's "30 cells
// in 23 of 50 families" — and 1.3% ± 0.2% under Exact. A residual of a cell of expected count
// under 1–3 is far from normal: one or two conversations in a small
// context make |r| > 4.33. Exact is conservative (a discrete test), and
// costs a walk over each non-zero cell's likely counts: it ran a 3,307 × 50
// table in the time Normal did, within a factor of two.
const DefaultMethod = Exact

// ParseMethod reads a method's name: normal (also "z") or exact (also
// "fisher"); "" is DefaultMethod.
func ParseMethod(s string) (Method, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "":
		return DefaultMethod, nil
	case "normal", "z":
		return Normal, nil
	case "exact", "fisher":
		return Exact, nil
	}
	return "", fmt.Errorf("unknown method %q (normal or exact)", s)
}

// fisherRelErr is R's fisher.test tolerance: a table is as extreme as the
// observed one when its probability is at most the observed one's times
// 1 + 1e-7.
const fisherRelErr = 1 + 1e-7

// FisherCell is the two-sided p-value of Fisher's exact test of cell count
// o in a table of row sum r, column sum c and total n: the 2×2 table
// [[o, r−o], [c−o, n−r−c+o]], as R's fisher.test(matrix(c(o, c−o, r−o,
// n−r−c+o), 2))$p.value computes it — the sum of the hypergeometric
// probabilities of the tables with the observed margins that are at most
// the observed one's (with R's relative tolerance 1e-7). NaN when the
// arguments are not such a table's (negative, non-integer, or o outside
// its support).
//
// The probabilities are taken relative to the mode's, by the ratio of
// consecutive hypergeometric probabilities walked out from the mode, so
// no log-gamma of a large n loses digits, and the walk stops where they
// underflow (they fall off faster than geometrically there): the cost is
// the support's width within about 38 standard deviations, not its size.
func FisherCell(o, r, c, n float64) float64 {
	for _, v := range []float64{o, r, c, n} {
		if !(v >= 0) || v != math.Trunc(v) || v > 1<<53 {
			return math.NaN()
		}
	}
	lo, hi := math.Max(0, c-(n-r)), math.Min(r, c)
	if r > n || c > n || o < lo || o > hi {
		return math.NaN()
	}
	if lo == hi {
		return 1
	}
	// Hypergeometric: r white balls, n−r black, c drawn; x white drawn.
	// d(x+1)/d(x) = (r−x)(c−x) / ((x+1)(n−r−c+x+1)).
	up := func(x float64) float64 { return (r - x) * (c - x) / ((x + 1) * (n - r - c + x + 1)) }
	mode := math.Floor((c + 1) * (r + 1) / (n + 2))
	mode = math.Min(math.Max(mode, lo), hi)
	// The observed probability relative to the mode's.
	dobs := 1.0
	if o > mode {
		for x := mode; x < o && dobs > 0; x++ {
			dobs *= up(x)
		}
	} else {
		for x := mode; x > o && dobs > 0; x-- {
			dobs /= up(x - 1)
		}
	}
	if dobs == 0 {
		// Under 1e-308 of the mode's probability: R's fisher.test, which
		// scales by the largest probability the same way, gives 0.
		return 0
	}
	limit := dobs * fisherRelErr
	total, p := 0.0, 0.0
	add := func(d float64) {
		total += d
		if d <= limit {
			p += d
		}
	}
	add(1)
	d := 1.0
	for x := mode; x < hi; x++ {
		if d *= up(x); d == 0 {
			break
		}
		add(d)
	}
	d = 1.0
	for x := mode; x > lo; x-- {
		if d /= up(x - 1); d == 0 {
			break
		}
		add(d)
	}
	return math.Min(1, p/total)
}

// integral reports whether every count of t is an integer (Exact's
// hypergeometric needs them).
func (t *Table) integral() bool {
	for _, c := range t.cells {
		if c.Count != math.Trunc(c.Count) || c.Count > 1<<53 {
			return false
		}
	}
	return true
}

// exactP computes and keeps the exact p-value of non-zero cell k, NaN where
// the normal one (pNormal) is NaN: in a row or column that is the whole
// table, the cell is no test under either method.
func (r *Result) exactP(k int, pNormal float64) float64 {
	c := r.t.cells[k]
	p := math.NaN()
	if !math.IsNaN(pNormal) {
		p = FisherCell(c.Count, r.rowSum[c.Row], r.colSum[c.Col], r.n)
	}
	r.pexact[k] = p
	return p
}

// cellP is the p-value of non-zero cell k under the result's method, given
// its normal one.
func (r *Result) cellP(k int, pNormal float64) float64 {
	if r.opts.Method == Exact {
		return r.pexact[k]
	}
	return pNormal
}
