package analysis

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// relClose reports whether got equals want to tol relative to |want|; a
// want of exactly 0 takes got below 1e-300.
func relClose(got, want, tol float64) bool {
	if want == 0 {
		return got < 1e-300
	}
	return math.Abs(got-want) <= tol*math.Abs(want)
}

// fisherCase is one cell: count o, row sum r, column sum c, total n.
type fisherCase struct{ o, r, c, n float64 }

func fisherCases(rng *rand.Rand) []fisherCase {
	cs := []fisherCase{
		{0, 1, 1, 2}, {1, 1, 1, 2}, {3, 6, 6, 12}, // symmetric: ties at the tolerance
		{5, 10, 10, 20}, {0, 10, 10, 20}, {2, 2, 3, 100000},
		{1, 1, 1, 100000}, {1, 3307, 2, 100000}, {40, 50, 60, 100},
		{100000, 200000, 300000, 1000000}, {60100, 200000, 300000, 1000000},
		{1, 23000, 2000, 100000}, {900, 23000, 2000, 100000}, {12, 23000, 2000, 100000},
		{3, 5, 7, 2000000}, {0, 4000, 4000, 10000}, {4000, 4000, 4000, 10000},
	}
	for range 160 {
		var n, r, c float64
		switch rng.IntN(4) {
		case 0: // small tables
			n = float64(2 + rng.IntN(60))
		case 1: // a run's: 100k conversations
			n = 100000
		case 2: // large
			n = float64(1 + rng.IntN(1000000))
		default:
			n = float64(1000 + rng.IntN(20000))
		}
		// Row and column sums spread over orders of magnitude.
		r = math.Max(1, math.Floor(n*math.Pow(rng.Float64(), 1+4*rng.Float64())))
		c = math.Max(1, math.Floor(n*math.Pow(rng.Float64(), 1+2*rng.Float64())))
		lo, hi := math.Max(0, c-(n-r)), math.Min(r, c)
		e := r * c / n
		var o float64
		switch rng.IntN(3) {
		case 0:
			o = lo + math.Floor(rng.Float64()*(hi-lo+1))
		case 1: // near the expected count: p-values near 1
			o = math.Round(e + rng.NormFloat64()*math.Sqrt(e+1))
		default: // a few standard deviations out
			o = math.Round(e + (2+4*rng.Float64())*math.Sqrt(e+1)*float64(1-2*rng.IntN(2)))
		}
		o = math.Min(math.Max(o, lo), hi)
		cs = append(cs, fisherCase{o, r, c, n})
	}
	return cs
}

// FisherCell equals R's fisher.test on the cell's 2×2 table to 1e-9
// relative, over small and large tables, tiny and huge counts, ties at R's
// tolerance, and p-values from 1 down to 1e-300; and, where the observed
// cell is the support's end, the one tail R's phyper gives.
func TestFisherCellAgainstR(t *testing.T) {
	cs := fisherCases(rand.New(rand.NewPCG(14, 2)))
	var b strings.Builder
	b.WriteString("f <- function(o, r, c, n) { x <- matrix(c(o, c - o, r - o, n - r - c + o), 2)\n")
	b.WriteString("  lo <- max(0, c - (n - r)); hi <- min(r, c)\n")
	b.WriteString("  t <- if (o == lo) phyper(o, r, n - r, c) else if (o == hi) phyper(o - 1, r, n - r, c, lower.tail = FALSE) else NA\n")
	b.WriteString("  cat(sprintf('%.17g %.17g\\n', fisher.test(x)$p.value, t)) }\n")
	for _, c := range cs {
		fmt.Fprintf(&b, "f(%.0f, %.0f, %.0f, %.0f)\n", c.o, c.r, c.c, c.n)
	}
	out := strings.Split(strings.TrimSpace(rscript(t, b.String())), "\n")
	if len(out) != len(cs) {
		t.Fatalf("R gave %d lines for %d cases", len(out), len(cs))
	}
	tails, small := 0, 0
	for k, c := range cs {
		var want, tail float64
		var ts string
		if _, err := fmt.Sscanf(out[k], "%g %s", &want, &ts); err != nil {
			t.Fatalf("R line %q: %v", out[k], err)
		}
		got := FisherCell(c.o, c.r, c.c, c.n)
		if !relClose(got, want, 1e-9) {
			t.Fatalf("cell %+v: p %.17g, R fisher.test %.17g", c, got, want)
		}
		if want < 1e-6 {
			small++
		}
		if _, err := fmt.Sscanf(ts, "%g", &tail); err == nil && ts != "NA" {
			// At an end of the support the two-sided p-value is that tail
			// plus the other tail's tables no more probable: at least it.
			if got < tail*(1-1e-9) {
				t.Fatalf("cell %+v: p %.17g below its one tail %.17g (phyper)", c, got, tail)
			}
			tails++
		}
	}
	if small < 20 || tails < 10 {
		t.Fatalf("only %d tiny p-values and %d support ends: the cases do not cover them", small, tails)
	}
}

// FisherCell rejects what is not a 2×2 table's cell.
func TestFisherCellDomain(t *testing.T) {
	for _, c := range []fisherCase{{-1, 2, 2, 4}, {1.5, 2, 2, 4}, {3, 2, 2, 4}, {1, 5, 2, 4}, {0, 3, 3, 4}} {
		if p := FisherCell(c.o, c.r, c.c, c.n); !math.IsNaN(p) {
			t.Errorf("%+v: p %v, want NaN", c, p)
		}
	}
	if p := FisherCell(2, 3, 3, 4); p != 1 {
		t.Errorf("a one-table support: p %v, want 1", p)
	}
}
