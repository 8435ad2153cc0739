package compare

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/valuescope/valuescope/internal/oracle"

	"github.com/valuescope/valuescope/host/analysis"
)

// rLines parses R's output: one line per case, numbers separated by spaces
// ("NA" and "NaN" read as NaN).
func rLines(t *testing.T, out string, want int) [][]float64 {
	t.Helper()
	var rows [][]float64
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var row []float64
		for _, f := range strings.Fields(l) {
			x, err := strconv.ParseFloat(f, 64)
			if f == "NA" || f == "NaN" {
				x, err = math.NaN(), nil
			}
			if err != nil {
				t.Fatalf("R output %q: %v", l, err)
			}
			row = append(row, x)
		}
		rows = append(rows, row)
	}
	if len(rows) != want {
		t.Fatalf("R gave %d lines, want %d:\n%s", len(rows), want, out)
	}
	return rows
}

// near: equal to 1e-9 relative to |want|, so that p-values far in the tail
// are compared on their own scale, not absolutely; NaN equals NaN.
func near(got, want float64) bool {
	if math.IsNaN(got) || math.IsNaN(want) {
		return math.IsNaN(got) && math.IsNaN(want)
	}
	if want == 0 {
		return got == 0
	}
	return math.Abs(got-want) <= 1e-9*math.Abs(want)
}

// McNemar equals R's mcnemar.test on 2×2 tables, with and without
// continuity correction, including b = c (where R drops the correction)
// and one empty discordant cell; the exact version equals binom.test from
// 1 to 3,000 discordant pairs.
func TestMcNemarAgainstR(t *testing.T) {
	rng := rand.New(rand.NewPCG(14, 5))
	type tc struct{ both, b, c, neither int }
	cases := []tc{{10, 5, 5, 10}, {3, 0, 7, 1}, {0, 1, 0, 0}, {20, 30, 31, 4}, {100, 400, 2, 50}, {5, 3000, 2800, 6}}
	for len(cases) < 40 {
		cases = append(cases, tc{rng.IntN(50), rng.IntN(60), rng.IntN(60), rng.IntN(50)})
	}
	cases = slices.DeleteFunc(cases, func(c tc) bool { return c.b+c.c == 0 })
	var sc strings.Builder
	for _, c := range cases {
		// matrix(c(a, c, b, d), 2): column-major, so x[1,2] = b (A only).
		fmt.Fprintf(&sc, "x <- matrix(c(%d, %d, %d, %d), 2); t1 <- mcnemar.test(x); t0 <- mcnemar.test(x, correct = FALSE); "+
			"e <- binom.test(%d, %d, 0.5)$p.value; cat(sprintf('%%.17g', c(t1$statistic, t1$p.value, t0$statistic, t0$p.value, e)), '\\n')\n",
			c.both, c.c, c.b, c.neither, c.b, c.b+c.c)
	}
	rows := rLines(t, oracle.R(t, sc.String()), len(cases))
	for k, c := range cases {
		w := rows[k]
		s1, p1 := McNemar(float64(c.b), float64(c.c), true)
		s0, p0 := McNemar(float64(c.b), float64(c.c), false)
		e := ExactMcNemar(c.b, c.c)
		if !near(s1, w[0]) || !near(p1, w[1]) || !near(s0, w[2]) || !near(p0, w[3]) || !near(e, w[4]) {
			t.Errorf("b=%d c=%d: corrected %v %v, R %v %v; plain %v %v, R %v %v; exact %v, R %v",
				c.b, c.c, s1, p1, w[0], w[1], s0, p0, w[2], w[3], e, w[4])
		}
	}
	if s, p := McNemar(0, 0, true); !math.IsNaN(s) || !math.IsNaN(p) {
		t.Errorf("no discordant pairs: %v %v, R's 0/0 is NaN", s, p)
	}
	if ExactMcNemar(0, 0) != 1 {
		t.Error("exact with no discordant pairs")
	}
}

// Bowker equals R's mcnemar.test on k×k tables (k = 3..6) where every pair
// of labels has a conversation moved between them; where some pair has
// none, R's statistic is NaN (0/0), and Bowker equals R's own sum over
// the other pairs with their number as the degrees of freedom. On 2×2
// tables it is McNemar's, corrected or not as R.
func TestBowkerAgainstR(t *testing.T) {
	rng := rand.New(rand.NewPCG(14, 6))
	var tables [][][]int
	for k := 2; k <= 6; k++ {
		for rep := 0; rep < 4; rep++ {
			x := make([][]int, k)
			for i := range x {
				x[i] = make([]int, k)
				for j := range x[i] {
					x[i][j] = rng.IntN(12)
					if i == j {
						x[i][j] += 30
					}
				}
			}
			if rep >= 2 && k > 2 { // sparse: some pairs with no move either way
				for z := 0; z < rep; z++ {
					i, j := rng.IntN(k), rng.IntN(k)
					if i != j {
						x[i][j], x[j][i] = 0, 0
					}
				}
			}
			tables = append(tables, x)
		}
	}
	var sc strings.Builder
	for _, x := range tables {
		var cells []string
		for j := range x { // column-major for R
			for i := range x {
				cells = append(cells, strconv.Itoa(x[i][j]))
			}
		}
		fmt.Fprintf(&sc, "x <- matrix(c(%s), %d); m <- suppressWarnings(mcnemar.test(x)); m0 <- mcnemar.test(x, correct = FALSE); "+
			"s <- x + t(x); d <- x - t(x); keep <- upper.tri(x) & s > 0; st <- sum(d[keep]^2 / s[keep]); "+
			"cat(sprintf('%%.17g', c(m$statistic, m$parameter, m$p.value, m0$statistic, m0$p.value, st, sum(keep), pchisq(st, sum(keep), lower.tail = FALSE))), '\\n')\n",
			strings.Join(cells, ", "), len(x))
	}
	rows := rLines(t, oracle.R(t, sc.String()), len(tables))
	sparse := 0
	for k, x := range tables {
		w := rows[k]
		stat, df, p, dropped := Bowker(x, true)
		stat0, _, p0, _ := Bowker(x, false)
		if dropped == 0 {
			if !near(stat, w[0]) || float64(df) != w[1] || !near(p, w[2]) || !near(stat0, w[3]) || !near(p0, w[4]) {
				t.Errorf("table %v: %v df %d p %v (plain %v %v); R %v", x, stat, df, p, stat0, p0, w[:5])
			}
			continue
		}
		sparse++
		if !math.IsNaN(w[0]) {
			t.Errorf("table %v: R's statistic %v, expected NaN with a pair of zeros", x, w[0])
		}
		if !near(stat, w[5]) || float64(df) != w[6] || !near(p, w[7]) || df+dropped != len(x)*(len(x)-1)/2 {
			t.Errorf("sparse table %v: %v df %d (dropped %d) p %v; R over the pairs moved: %v", x, stat, df, dropped, p, w[5:])
		}
	}
	if sparse == 0 {
		t.Fatal("no sparse table tested")
	}
	if s, df, p, _ := Bowker([][]int{{5, 0, 0}, {0, 3, 0}, {0, 0, 9}}, true); s != 0 || df != 0 || p != 1 {
		t.Errorf("diagonal table: %v %d %v", s, df, p)
	}
}

// Newcombe's paired interval contains the difference, stays in [−1, 1],
// is no wider than the independent-samples interval when the runs agree on
// most conversations (positive correlation), and shrinks with n.
func TestPairedDiffInterval(t *testing.T) {
	for _, c := range [][4]float64{{40, 5, 15, 40}, {0, 0, 10, 90}, {50, 0, 0, 50}, {1, 30, 0, 1}, {100, 0, 0, 0}} {
		both, b, cc, n := c[0], c[1], c[2], c[0]+c[1]+c[2]+c[3]
		ci := PairedDiffInterval(both, b, cc, n, 0.95)
		d := (cc - b) / n
		if !(float64(ci.Low) <= d && d <= float64(ci.High)) || ci.Low < -1 || ci.High > 1 {
			t.Errorf("%v: diff %v outside %+v", c, d, ci)
		}
		ind := analysis.DiffInterval(both+b, n, both+cc, n, 0.95)
		if both*c[3] > b*cc+n/2 && float64(ci.High-ci.Low) > float64(ind.High-ind.Low)+1e-12 {
			t.Errorf("%v: paired %+v wider than independent %+v", c, ci, ind)
		}
		big := PairedDiffInterval(10*both, 10*b, 10*cc, 10*n, 0.95)
		if big.High-big.Low >= ci.High-ci.Low && ci.High-ci.Low > 0 {
			t.Errorf("%v: ten times the pairs, interval %+v not narrower than %+v", c, big, ci)
		}
	}
	if ci := PairedDiffInterval(0, 0, 0, 0, 0.95); !math.IsNaN(float64(ci.Low)) {
		t.Errorf("no pairs: %+v", ci)
	}
}

// The published figure: Fagerland, Lydersen and Laake, Statistical Analysis
// of Contingency Tables (CRC 2017), ch. 8, the Newcombe square-and-add
// interval for the paired table of Cavo et al. (2012), [[59, 6], [16, 80]]:
// estimate −0.0621, 95% CI −0.1186 to −0.0046 for p1+ − p+1. Here the
// difference is B's share less A's (A's row, B's column), the same interval
// negated.
func TestPairedDiffIntervalPublished(t *testing.T) {
	ci := PairedDiffInterval(59, 6, 16, 161, 0.95)
	if math.Abs(float64(ci.Low)-0.0046) > 5e-5 || math.Abs(float64(ci.High)-0.1186) > 5e-5 {
		t.Fatalf("interval %+v, published (0.0046, 0.1186)", ci)
	}
}

// size is the exact rejection rate at level alpha of a paired test under
// the null: with d discordant conversations, b is Binomial(d, 1/2).
func size(d int, alpha float64, p func(b, c int) float64) float64 {
	s := 0.0
	for b := 0; b <= d; b++ {
		if p(b, d-b) <= alpha {
			lg := func(x int) float64 { v, _ := math.Lgamma(float64(x) + 1); return v }
			s += math.Exp(lg(d) - lg(b) - lg(d-b) - float64(d)*math.Ln2)
		}
	}
	return s
}

// The rule compare applies to a paired value — exact binomial under 25
// discordant conversations, McNemar with continuity correction from 25 —
// holds its level: computed exactly (no simulation), its rejection rate
// under the null is at most alpha for every discordant count from 1 to
// 400, at alpha 0.05 and at a Bonferroni-sized 0.001. McNemar without
// correction does not (it rejects too often at some counts under 25: the
// reason for the exact test there).
func TestPairedTestSize(t *testing.T) {
	rule := func(b, c int) float64 {
		_, _, p := pairedTest(PairCounts{AOnly: b, BOnly: c}, Options{ExactBelow: defaultExactBelow})
		return p
	}
	plain := func(b, c int) float64 { _, p := McNemar(float64(b), float64(c), false); return p }
	for _, alpha := range []float64{0.05, 0.001} {
		worst, at := 0.0, 0
		for d := 1; d <= 400; d++ {
			if s := size(d, alpha, rule); s > worst {
				worst, at = s, d
			}
		}
		if worst > alpha {
			t.Errorf("alpha %g: the rule rejects %.4f of null tables at %d discordant", alpha, worst, at)
		}
		t.Logf("alpha %g: largest null rejection rate %.4f (at %d discordant)", alpha, worst, at)
	}
	over := 0
	for d := 1; d < defaultExactBelow; d++ {
		if size(d, 0.05, plain) > 0.05 {
			over++
		}
	}
	if over == 0 {
		t.Error("uncorrected McNemar holds its level under 25 discordant: the exact rule would not be needed")
	}
	t.Logf("uncorrected McNemar over 0.05 at %d of the counts 1..24", over)
}
