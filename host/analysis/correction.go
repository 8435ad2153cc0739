package analysis

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"

	"gonum.org/v1/gonum/stat/distuv"
)

// Correction is a multiple-testing correction.
type Correction string

// The corrections, named as R's p.adjust names them (case-insensitive when
// parsed).
const (
	Bonferroni   Correction = "bonferroni"
	Holm         Correction = "holm"
	BH           Correction = "BH" // Benjamini–Hochberg false discovery rate
	NoCorrection Correction = "none"
)

// ParseCorrection reads a correction's name: bonferroni, holm, bh (also
// "fdr", "benjamini-hochberg") or none.
func ParseCorrection(s string) (Correction, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "bonferroni":
		return Bonferroni, nil
	case "holm":
		return Holm, nil
	case "bh", "fdr", "benjamini-hochberg", "benjamini–hochberg":
		return BH, nil
	case "none":
		return NoCorrection, nil
	}
	return "", fmt.Errorf("unknown correction %q (bonferroni, holm, bh or none)", s)
}

// BonferroniThreshold is the |residual| a cell must reach to be significant
// at level alpha, two-sided, Bonferroni-corrected over m tests:
// qnorm(1 − alpha/(2m)). The paper's 4.33 is BonferroniThreshold(0.05, 3307).
func BonferroniThreshold(alpha float64, m int) float64 {
	if m < 1 || !(alpha > 0 && alpha < 1) {
		return math.NaN()
	}
	// −qnorm(a) rather than qnorm(1 − a): no loss of precision for tiny a.
	return -distuv.UnitNormal.Quantile(alpha / (2 * float64(m)))
}

// ZPValue is the two-sided p-value of a standard normal statistic,
// 2 Φ(−|z|) (NaN for NaN).
func ZPValue(z float64) float64 {
	return math.Erfc(math.Abs(z) / math.Sqrt2)
}

// Adjust adjusts p-values for multiple testing exactly as R's
// p.adjust(p, method, n) does: NaN entries stay NaN and are not counted; n
// is the number of tests (0: the number of non-NaN p-values; otherwise at
// least that many, the tests not given counting as p = 1).
func Adjust(p []float64, c Correction, n int) ([]float64, error) {
	es := make([]entry, 0, len(p))
	for i, v := range p {
		if !math.IsNaN(v) {
			es = append(es, entry{p: v, w: 1, ref: int64(i)})
		}
	}
	m := int64(n)
	if n == 0 {
		m = int64(len(es))
	}
	if m < int64(len(es)) {
		return nil, fmt.Errorf("%d tests stated for %d p-values", n, len(es))
	}
	out := make([]float64, len(p))
	for i := range out {
		out[i] = math.NaN()
	}
	adjustEntries(es, m, c, func(e entry, adj float64) { out[e.ref] = adj })
	return out, nil
}

// entry is one p-value of a family, standing for w tests with that p-value
// (zero cells of one column that share a row sum share one p-value).
type entry struct {
	p   float64
	w   int64
	ref int64
}

// adjustEntries adjusts a family of tests (m tests in all, at least the
// total weight of es) and calls set for each entry with its adjusted
// p-value. It sorts es. Tied tests get equal adjusted p-values, as in R.
func adjustEntries(es []entry, m int64, c Correction, set func(entry, float64)) {
	if len(es) == 0 {
		return
	}
	if m <= 1 && c != NoCorrection {
		// p.adjust returns p unchanged for n <= 1.
		for _, e := range es {
			set(e, e.p)
		}
		return
	}
	fm := float64(m)
	switch c {
	case NoCorrection:
		for _, e := range es {
			set(e, e.p)
		}
	case Bonferroni:
		for _, e := range es {
			set(e, math.Min(1, fm*e.p))
		}
	case Holm:
		slices.SortFunc(es, func(a, b entry) int { return cmp.Compare(a.p, b.p) })
		// adj_(k) = min(1, max_{i≤k} (m − i + 1) p_(i)); within a group of
		// ties the first rank gives the largest factor.
		run := 0.0
		var rank int64 = 1
		for _, e := range es {
			run = math.Max(run, float64(m-rank+1)*e.p)
			set(e, math.Min(1, run))
			rank += e.w
		}
	case BH:
		slices.SortFunc(es, func(a, b entry) int { return cmp.Compare(a.p, b.p) })
		var total int64
		for _, e := range es {
			total += e.w
		}
		// adj_(k) = min(1, min_{i≥k} m p_(i) / i); within a group of ties
		// the last rank gives the smallest value.
		run := math.Inf(1)
		last := total
		for k := len(es) - 1; k >= 0; k-- {
			e := es[k]
			run = math.Min(run, fm/float64(last)*e.p)
			set(e, math.Min(1, run))
			last -= e.w
		}
	default:
		panic("analysis: unknown correction " + string(c))
	}
}
