package analysis

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/valuescope/valuescope/internal/oracle"
)

// randomTable makes an r x c table of counts: sparse small counts, some
// large, optionally with empty rows and columns and non-integer counts.
func randomTable(rng *rand.Rand, r, c int, density float64, empty, fractional bool) [][]float64 {
	x := make([][]float64, r)
	for i := range x {
		x[i] = make([]float64, c)
		for j := range x[i] {
			if rng.Float64() >= density {
				continue
			}
			v := float64(rng.IntN(6))
			if rng.IntN(10) == 0 {
				v = float64(rng.IntN(500))
			}
			if fractional {
				v += math.Round(rng.Float64()*1000) / 1000
			}
			x[i][j] = v
		}
	}
	if empty {
		for k := 0; k < 1+r/5; k++ {
			i := rng.IntN(r)
			for j := range x[i] {
				x[i][j] = 0
			}
		}
		for k := 0; k < 1+c/5; k++ {
			j := rng.IntN(c)
			for i := range x {
				x[i][j] = 0
			}
		}
	}
	return x
}

func writeCSV(t *testing.T, path string, x [][]float64) {
	t.Helper()
	var b strings.Builder
	b.WriteString(`""`)
	for j := range x[0] {
		fmt.Fprintf(&b, ",c%d", j)
	}
	b.WriteByte('\n')
	for i, row := range x {
		fmt.Fprintf(&b, "r%d", i)
		for _, v := range row {
			fmt.Fprintf(&b, ",%.17g", v)
		}
		b.WriteByte('\n')
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

type shape struct {
	r, c              int
	density           float64
	empty, fractional bool
}

var oracleShapes = []shape{
	{2, 2, 1, false, false},
	{2, 3, 1, false, true},
	{3, 5, 0.9, false, false},
	{5, 3, 0.7, true, false},
	{7, 4, 0.8, false, true},
	{10, 10, 0.5, true, false},
	{12, 2, 0.6, true, false},
	{1, 4, 1, false, false}, // one row: no test, NaN residuals
	{4, 1, 1, false, false}, // one column
	{30, 20, 0.3, true, false},
	{60, 8, 0.15, true, false},
	{40, 40, 0.9, false, true},
}

// The adjusted residuals equal R's chisq.test(x)$stdres to 1e-9, empty rows
// and columns included (NaN in both); the statistic, df, p-value and
// Cramér's V equal chisq.test on the table without its empty rows and
// columns; adjusted p-values equal p.adjust over each family, for every
// correction, with and without a stated number of tests.
func TestResidualsAgainstR(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	dir := t.TempDir()
	var tables [][][]float64
	for k, s := range oracleShapes {
		x := randomTable(rng, s.r, s.c, s.density, s.empty, s.fractional)
		tables = append(tables, x)
		writeCSV(t, filepath.Join(dir, fmt.Sprintf("t%d.csv", k)), x)
	}
	const extra = 7 // stated tests = family size + extra
	script := fmt.Sprintf(`
options(warn = -1)
p17 <- function(key, v) cat(key, sprintf("%%.17g", as.vector(v)), "\n")
for (k in 0:%d) {
  x <- as.matrix(read.csv(sprintf("%s/t%%d.csv", k), row.names = 1, check.names = FALSE))
  if (min(dim(x)) == 1) {
    # chisq.test runs a goodness-of-fit test on one row or column; as a
    # contingency table it has no residuals (1 - p_i. or 1 - p_.j is 0).
    ct <- list(stdres = x * NaN, expected = outer(rowSums(x), colSums(x)) / sum(x))
  } else ct <- chisq.test(x)
  p17(sprintf("stdres.%%d", k), ct$stdres)
  p17(sprintf("expected.%%d", k), ct$expected)
  keep_r <- rowSums(x) > 0; keep_c <- colSums(x) > 0
  xr <- x[keep_r, keep_c, drop = FALSE]
  if (nrow(xr) >= 2 && ncol(xr) >= 2) {
    cr <- chisq.test(xr, correct = FALSE)
    p17(sprintf("test.%%d", k), c(cr$statistic, cr$parameter, cr$p.value,
      sqrt(cr$statistic / (sum(xr) * (min(dim(xr)) - 1)))))
  }
  p <- 2 * pnorm(-abs(ct$stdres))
  for (m in c("bonferroni", "holm", "BH")) {
    pc <- p; ps <- p
    for (j in seq_len(ncol(p))) {
      pc[, j] <- p.adjust(p[, j], m)
      ps[, j] <- p.adjust(p[, j], m, n = sum(!is.na(p[, j])) + %d)
    }
    p17(sprintf("col.%%s.%%d", m, k), pc)
    p17(sprintf("colstated.%%s.%%d", m, k), ps)
    p17(sprintf("table.%%s.%%d", m, k), p.adjust(as.vector(p), m))
  }
}
`, len(tables)-1, dir, extra)
	want := rNumbers(t, oracle.R(t, script))

	const tol = 1e-9
	for k, x := range tables {
		tab, err := ReadCSVFile(filepath.Join(dir, fmt.Sprintf("t%d.csv", k)))
		if err != nil {
			t.Fatal(err)
		}
		R, C := len(x), len(x[0])
		// R's vectors are column-major.
		at := func(v []float64, i, j int) float64 { return v[j*R+i] }
		for _, corr := range []Correction{Bonferroni, Holm, BH} {
			for _, variant := range []string{"col", "colstated", "table"} {
				// R's side is 2 pnorm(−|stdres|): the normal method, named
				// since the default became Exact.
				o := Options{Correction: corr, Family: PerContext, Method: Normal}
				if variant == "table" {
					o.Family = WholeTable
				}
				res, err := Analyze(tab, o)
				if err != nil {
					t.Fatal(err)
				}
				if variant == "colstated" {
					if res.Families == 0 {
						continue
					}
					o.Tests = res.Tests + extra
					if res, err = Analyze(tab, o); err != nil {
						t.Fatal(err)
					}
				}
				padj := want[fmt.Sprintf("%s.%s.%d", variant, corr, k)]
				stdres, expected := want[fmt.Sprintf("stdres.%d", k)], want[fmt.Sprintf("expected.%d", k)]
				if len(stdres) != R*C || len(padj) != R*C {
					t.Fatalf("table %d: R gave %d residuals for %d x %d", k, len(stdres), R, C)
				}
				dense := res.Residuals()
				for i := 0; i < R; i++ {
					for j := 0; j < C; j++ {
						a := res.Cell(i, j)
						if !closeTo(float64(a.Residual), at(stdres, i, j), tol) || !closeTo(dense.At(i, j), at(stdres, i, j), tol) {
							t.Fatalf("table %d (%dx%d) cell (%d,%d): residual %v (dense %v), R %v", k, R, C, i, j, a.Residual, dense.At(i, j), at(stdres, i, j))
						}
						if !closeTo(float64(a.Expected), at(expected, i, j), tol) && !math.IsNaN(at(expected, i, j)) {
							t.Fatalf("table %d cell (%d,%d): expected %v, R %v", k, i, j, a.Expected, at(expected, i, j))
						}
						if !closeTo(float64(a.PAdjusted), at(padj, i, j), tol) {
							t.Fatalf("table %d (%dx%d) %s %s cell (%d,%d): adjusted p %v, R %v", k, R, C, corr, variant, i, j, a.PAdjusted, at(padj, i, j))
						}
					}
				}
				if test, ok := want[fmt.Sprintf("test.%d", k)]; ok {
					got := []float64{float64(res.ChiSquare), float64(res.DF), float64(res.P), float64(res.CramersV)}
					for q := range got {
						if !closeTo(got[q], test[q], tol) {
							t.Fatalf("table %d: chi-square/df/p/V %v, R %v", k, got, test)
						}
					}
				} else if !math.IsNaN(float64(res.ChiSquare)) || res.DF != 0 {
					t.Fatalf("table %d: degenerate table gave chi-square %v df %d", k, res.ChiSquare, res.DF)
				}
			}
		}
	}
}

// Adjust equals R's p.adjust on a vector with ties, NaN and a stated n.
func TestAdjustAgainstR(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 5))
	p := make([]float64, 60)
	for i := range p {
		p[i] = rng.Float64() * rng.Float64() * rng.Float64()
		if i%7 == 0 && i > 0 {
			p[i] = p[i-1] // ties
		}
	}
	p[5] = math.NaN()
	p[9] = 0
	p[10] = 1
	script := "options(warn = -1)\np <- " + rVector(p) + `
p17 <- function(key, v) cat(key, sprintf("%.17g", v), "\n")
for (m in c("bonferroni", "holm", "BH", "none")) {
  p17(m, p.adjust(p, m))
  p17(paste0(m, ".n"), p.adjust(p, m, n = 3307))
}
`
	want := rNumbers(t, oracle.R(t, script))
	for _, c := range []Correction{Bonferroni, Holm, BH, NoCorrection} {
		for _, n := range []int{0, 3307} {
			got, err := Adjust(p, c, n)
			if err != nil {
				t.Fatal(err)
			}
			key := string(c)
			if n > 0 {
				key += ".n"
			}
			for i := range got {
				if !closeTo(got[i], want[key][i], 1e-12) {
					t.Fatalf("%s n=%d p[%d]=%v: %v, R %v", c, n, i, p[i], got[i], want[key][i])
				}
			}
		}
	}
	if _, err := Adjust(p, Holm, 10); err == nil {
		t.Fatal("fewer tests stated than p-values: no error")
	}
}

// The paper's threshold: qnorm(1 − 0.05/(2·3307)) = 4.33.
func TestBonferroniThresholdPaper(t *testing.T) {
	got := BonferroniThreshold(0.05, 3307)
	if math.Abs(got-4.326941) > 1e-6 || fmt.Sprintf("%.2f", got) != "4.33" {
		t.Fatalf("threshold %v", got)
	}
	want := rNumbers(t, oracle.R(t, `cat("q", sprintf("%.17g", qnorm(1 - 0.05/(2*3307))), "\n")`))
	if !closeTo(got, want["q"][0], 1e-12) {
		t.Fatalf("threshold %v, R %v", got, want["q"][0])
	}
}
