package analysis

import (
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/valuescope/valuescope/internal/oracle"
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
	out := strings.Split(strings.TrimSpace(oracle.R(t, b.String())), "\n")
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

// Under the exact method a non-zero cell's p-value is R's fisher.test of
// its 2×2 table and its adjusted p-value is p.adjust over its family's
// non-zero cells with n = every cell of the family (the zero cells count as
// p = 1); a zero cell has neither and is never significant.
func TestExactMethodAgainstR(t *testing.T) {
	rng := rand.New(rand.NewPCG(14, 5))
	dir := t.TempDir()
	var tables [][][]float64
	for _, cfg := range []nullConfig{{Values: 80, Contexts: 6, Conversations: 600, S: 1.1}, {Values: 25, Contexts: 4, Conversations: 3000, S: 0.7}} {
		tables = append(tables, denseRows(nullTable(t, rng, cfg)))
	}
	tables = append(tables, randomTable(rng, 10, 10, 0.5, true, false))
	for k, x := range tables {
		writeCSV(t, filepath.Join(dir, fmt.Sprintf("t%d.csv", k)), x)
	}
	script := fmt.Sprintf(`
p17 <- function(key, v) cat(key, sprintf("%%.17g", as.vector(v)), "\n")
for (k in 0:%d) {
  x <- as.matrix(read.csv(sprintf("%s/t%%d.csv", k), row.names = 1, check.names = FALSE))
  n <- sum(x); r <- rowSums(x); cs <- colSums(x)
  p <- x * NA
  for (i in seq_len(nrow(x))) for (j in seq_len(ncol(x))) if (x[i, j] > 0)
    p[i, j] <- fisher.test(matrix(c(x[i, j], cs[j] - x[i, j], r[i] - x[i, j], n - r[i] - cs[j] + x[i, j]), 2))$p.value
  p17(sprintf("p.%%d", k), p)
  for (m in c("bonferroni", "holm", "BH")) {
    a <- p
    for (j in seq_len(ncol(x))) if (cs[j] > 0) {
      nz <- !is.na(p[, j])
      a[nz, j] <- p.adjust(p[nz, j], m, n = sum(r > 0))
    }
    p17(sprintf("%%s.%%d", m, k), a)
  }
}
`, len(tables)-1, dir)
	want := rNumbers(t, oracle.R(t, script))
	for k, x := range tables {
		tab, err := ReadCSVFile(filepath.Join(dir, fmt.Sprintf("t%d.csv", k)))
		if err != nil {
			t.Fatal(err)
		}
		R := len(x)
		for _, corr := range []Correction{Bonferroni, Holm, BH} {
			res, err := Analyze(tab, Options{Method: Exact, Correction: corr})
			if err != nil {
				t.Fatal(err)
			}
			if res.Method != Exact {
				t.Fatalf("table %d ran %s", k, res.Method)
			}
			p, padj := want[fmt.Sprintf("p.%d", k)], want[fmt.Sprintf("%s.%d", corr, k)]
			for i := range x {
				for j := range x[i] {
					a := res.Cell(i, j)
					wp, wa := p[j*R+i], padj[j*R+i]
					if x[i][j] == 0 {
						if !math.IsNaN(float64(a.P)) || !math.IsNaN(float64(a.PAdjusted)) || a.Significant {
							t.Fatalf("table %d zero cell (%d,%d): %+v", k, i, j, a)
						}
						continue
					}
					if math.IsNaN(wp) != math.IsNaN(float64(a.P)) || !math.IsNaN(wp) && !relClose(float64(a.P), wp, 1e-9) {
						t.Fatalf("table %d cell (%d,%d): p %v, R %v", k, i, j, a.P, wp)
					}
					if !math.IsNaN(wa) && !relClose(float64(a.PAdjusted), wa, 1e-9) {
						t.Fatalf("table %d %s cell (%d,%d): adjusted %v, R %v", k, corr, i, j, a.PAdjusted, wa)
					}
				}
			}
		}
	}
	// A fractional count: no exact test, the normal one instead, said.
	frac, _ := NewTable([]string{"a", "b"}, []string{"x", "y"}, []Cell{{0, 0, 1.5, -1}, {1, 1, 2, -1}, {0, 1, 1, -1}})
	if res, err := Analyze(frac, Options{Method: Exact}); err != nil || res.Method != Normal {
		t.Fatalf("fractional table: %v, method %v", err, res.Method)
	}
}
