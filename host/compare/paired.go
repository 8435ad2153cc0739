package compare

import (
	"math"

	"gonum.org/v1/gonum/stat/distuv"

	"github.com/valuescope/valuescope/host/analysis"
)

// Paired tests: the statistics compare uses when two runs annotate the same
// conversations, so each conversation is a pair of observations and the two
// runs are not independent samples.

// Names of the tests a comparison reports (ValueDiff.Test, Symmetry.Test),
// and of how a field was tested (Fields.Test).
const (
	TestTwoProportion = "two_proportion_z"    // independent samples
	TestMcNemar       = "mcnemar"             // with continuity correction
	TestMcNemarPlain  = "mcnemar_uncorrected" // without
	TestExactBinomial = "exact_binomial"      // McNemar's exact version
	TestBowker        = "bowker_symmetry"     // k×k labels
	// TestNoDiscordant: no shared conversation differs, nothing to test (p = 1).
	TestNoDiscordant = "no_discordant_pairs"

	// Fields.Test: how a field's values were tested.
	Independent = "independent"
	Paired      = "paired"

	defaultExactBelow = 25 // Options.ExactBelow
)

// McNemar is McNemar's test of a paired 2×2 table from its discordant
// counts: b pairs with the value in A only, c in B only. It equals R's
// mcnemar.test(matrix(c(a, c, b, d), 2), correct = correct): with correct,
// the statistic is (|b − c| − 1)² / (b + c), except that R drops the
// correction when b = c (the statistic is then 0); without, (b − c)² /
// (b + c). The p-value is the upper tail of χ² with one degree of freedom.
// With no discordant pairs R's statistic is 0/0; here it is NaN too, and
// callers report p = 1 (nothing disagrees, so nothing is evidence of a
// difference).
func McNemar(b, c float64, correct bool) (stat, p float64) {
	if b+c == 0 {
		return math.NaN(), math.NaN()
	}
	d := math.Abs(b - c)
	if correct && d != 0 {
		d--
	}
	stat = d * d / (b + c)
	return stat, distuv.ChiSquared{K: 1}.Survival(stat)
}

// ExactMcNemar is the exact version of McNemar's test: given n = b + c
// discordant pairs, b is Binomial(n, 1/2) under the null, and the two-sided
// p-value is that of R's binom.test(b, b + c, 0.5): twice the smaller tail,
// at most 1 (for p = 1/2 the distribution is symmetric, so R's rule of
// summing the outcomes no more likely than b gives the same). 1 for n = 0.
func ExactMcNemar(b, c int) float64 {
	n := b + c
	if n == 0 {
		return 1
	}
	k := min(b, c)
	if 2*k == n {
		return 1
	}
	// P(X ≤ k) for X ~ Binomial(n, 1/2), summed in logs from the largest
	// term down (the terms rise with i up to k < n/2), so that n in the
	// thousands neither overflows nor loses the small tail.
	lg := func(x int) float64 { v, _ := math.Lgamma(float64(x) + 1); return v }
	logTerm := func(i int) float64 { return lg(n) - lg(i) - lg(n-i) - float64(n)*math.Ln2 }
	top := logTerm(k)
	sum := 0.0
	for i := k; i >= 0; i-- {
		t := math.Exp(logTerm(i) - top)
		sum += t
		if t < 1e-17*sum {
			break
		}
	}
	return math.Min(1, 2*math.Exp(top)*sum)
}

// Symmetry is Bowker's test of symmetry of a paired k×k table of labels
// (rows: run A's label, columns: run B's): whether conversations move from
// label i to j as often as from j to i. On a 2×2 table it is McNemar's.
type Symmetry struct {
	Test string `json:"test"`
	// Conversations is the number of pairs tabulated, Labels the number k
	// of labels (A's and B's together; not named here, where one under the
	// privacy floor would be).
	Conversations int `json:"conversations"`
	Labels        int `json:"labels"`
	// Statistic is Σ over pairs i<j of (n_ij − n_ji)² / (n_ij + n_ji),
	// over the pairs with n_ij + n_ji > 0, and DF their number.
	Statistic analysis.Number `json:"statistic"`
	DF        int             `json:"df"`
	P         analysis.Number `json:"p"`
	// Dropped is the number of label pairs no conversation moved between
	// (left out of the statistic and its degrees of freedom).
	Dropped int `json:"pairs_without_discordance"`
}

// Bowker is Bowker's symmetry test of the square table x (x[i][j]:
// conversations labelled i by A and j by B). It equals R's
// mcnemar.test(x) when every pair i<j has x[i][j] + x[j][i] > 0, for k > 2
// or for k = 2 with correct false (R corrects only 2×2 tables, as McNemar
// does here). Where R's statistic is NaN — some pair i<j with no
// conversation moved either way makes its term 0/0 — such pairs carry no
// information about asymmetry, and are dropped from both the sum and the
// degrees of freedom, k(k−1)/2 less their number (the usual convention,
// e.g. Agresti, Categorical Data Analysis, §11.4, for sparse tables). With
// no discordant pair at all the statistic and DF are 0 and p = 1.
func Bowker(x [][]int, correct bool) (stat float64, df int, p float64, dropped int) {
	k := len(x)
	if k == 2 {
		s, pv := McNemar(float64(x[0][1]), float64(x[1][0]), correct)
		if math.IsNaN(s) {
			return 0, 0, 1, 1
		}
		return s, 1, pv, 0
	}
	for i := 0; i < k; i++ {
		for j := i + 1; j < k; j++ {
			s := float64(x[i][j] + x[j][i])
			if s == 0 {
				dropped++
				continue
			}
			d := float64(x[i][j] - x[j][i])
			stat += d * d / s
			df++
		}
	}
	if df == 0 {
		return 0, 0, 1, dropped
	}
	return stat, df, distuv.ChiSquared{K: float64(df)}.Survival(stat), dropped
}

// PairedDiffInterval is Newcombe's hybrid score interval (method 10 of
// Newcombe, "Improved confidence intervals for the difference between
// binomial proportions based on paired data", Statistics in Medicine 17,
// 1998) for p_B − p_A from a paired 2×2 table of n pairs: both with the
// value in both runs, b in A only, c in B only (the rest in neither). It
// joins the Wilson intervals of the two shares, as DiffInterval does for
// independent samples, with the correlation of the pairs.
func PairedDiffInterval(both, b, c, n, level float64) analysis.Interval {
	if n <= 0 {
		return analysis.Interval{Low: analysis.Number(math.NaN()), High: analysis.Number(math.NaN())}
	}
	neither := n - both - b - c
	pa, pb := (both+b)/n, (both+c)/n
	wa, wb := analysis.Wilson(both+b, n, level), analysis.Wilson(both+c, n, level)
	la, ua := float64(wa.Low), float64(wa.High)
	lb, ub := float64(wb.Low), float64(wb.High)
	// The correlation phi of the table with Newcombe's continuity
	// correction: the numerator AD − BC is reduced by n/2 when above it,
	// taken as 0 between 0 and n/2, and kept when negative (as in Altman et
	// al., Statistics with Confidence, 2000, p. 52); 0 when a margin is
	// empty.
	phi := 0.0
	if den := (both + b) * (c + neither) * (both + c) * (b + neither); den > 0 {
		num := both*neither - b*c
		switch {
		case num > n/2:
			num -= n / 2
		case num >= 0:
			num = 0
		}
		phi = num / math.Sqrt(den)
	}
	d := pb - pa
	lo := d - math.Sqrt(sq(pb-lb)-2*phi*(pb-lb)*(ua-pa)+sq(ua-pa))
	hi := d + math.Sqrt(sq(ub-pb)-2*phi*(ub-pb)*(pa-la)+sq(pa-la))
	return analysis.Interval{Low: analysis.Number(math.Max(-1, lo)), High: analysis.Number(math.Min(1, hi))}
}

func sq(x float64) float64 { return x * x }

var nan = math.NaN()
