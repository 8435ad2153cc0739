package analysis

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/valuescope/valuescope/internal/oracle"
)

// denseRows is a table's counts as rows, for writeCSV.
func denseRows(t *Table) [][]float64 {
	d := t.Dense()
	R, C := d.Dims()
	x := make([][]float64, R)
	for i := range x {
		x[i] = make([]float64, C)
		for j := range x[i] {
			x[i][j] = d.At(i, j)
		}
	}
	return x
}

// The small-expected warning appears exactly where R's chisq.test warns
// "Chi-squared approximation may be incorrect" on the table without its
// empty rows and columns, and its counts of cells of expected < 5 and < 1
// are R's sum(E < 5) and sum(E < 1): on the oracle shapes, on sparse tables
// with Zipf value frequencies like a run's, and on tables of large counts
// where neither warns.
func TestSmallExpectedAgainstR(t *testing.T) {
	rng := rand.New(rand.NewPCG(14, 3))
	dir := t.TempDir()
	var tables [][][]float64
	for _, s := range oracleShapes {
		tables = append(tables, randomTable(rng, s.r, s.c, s.density, s.empty, s.fractional))
	}
	for _, cfg := range []nullConfig{{Values: 300, Contexts: 12, Conversations: 3000, S: 1.1}, {Values: 60, Contexts: 5, Conversations: 20000, S: 1}, {Values: 8, Contexts: 3, Conversations: 50000, S: 0.5}, {Values: 3, Contexts: 2, Conversations: 400, S: 0}} {
		tables = append(tables, denseRows(nullTable(t, rng, cfg)))
	}
	for k, x := range tables {
		writeCSV(t, filepath.Join(dir, fmt.Sprintf("t%d.csv", k)), x)
	}
	script := fmt.Sprintf(`
for (k in 0:%d) {
  x <- as.matrix(read.csv(sprintf("%s/t%%d.csv", k), row.names = 1, check.names = FALSE))
  x <- x[rowSums(x) > 0, colSums(x) > 0, drop = FALSE]
  if (nrow(x) < 2 || ncol(x) < 2) { cat(sprintf("t%%d NA NA NA\n", k)); next }
  warned <- 0
  ct <- withCallingHandlers(chisq.test(x, correct = FALSE), warning = function(w) {
    if (grepl("approximation may be incorrect", conditionMessage(w))) warned <<- 1
    invokeRestart("muffleWarning")
  })
  cat(sprintf("t%%d %%d %%d %%d\n", k, warned, sum(ct$expected < 5), sum(ct$expected < 1)))
}
`, len(tables)-1, dir)
	want := rNumbers(t, oracle.R(t, script))
	warnings := 0
	for k := range tables {
		tab, err := ReadCSVFile(filepath.Join(dir, fmt.Sprintf("t%d.csv", k)))
		if err != nil {
			t.Fatal(err)
		}
		res, err := Analyze(tab, Options{})
		if err != nil {
			t.Fatal(err)
		}
		w, s := want[fmt.Sprintf("t%d", k)], res.SmallExpected
		if w[0] != w[0] { // no test in R
			if s.Warn() || s.Cells != 0 {
				t.Fatalf("table %d: no test, but %+v", k, s)
			}
			continue
		}
		if s.Warn() != (w[0] == 1) || float64(s.Below5) != w[1] || float64(s.Below1) != w[2] {
			t.Fatalf("table %d: warn %v, %d < 5, %d < 1; R: warn %v, %v, %v", k, s.Warn(), s.Below5, s.Below1, w[0] == 1, w[1], w[2])
		}
		if s.Warn() {
			warnings++
		}
		if got := float64(s.Below5) / float64(s.Cells); s.Share5 != got {
			t.Fatalf("table %d: share %v, want %v", k, s.Share5, got)
		}
	}
	if warnings == 0 || warnings == len(tables) {
		t.Fatalf("%d of %d tables warned: the test needs both kinds", warnings, len(tables))
	}
}

// Under a privacy floor the counts are of the reported rows and columns
// only (they would otherwise count the suppressed rows of total 1), the
// warning is still the whole table's, and with the floor off they are the
// whole table's.
func TestSmallExpectedReportedOnly(t *testing.T) {
	tab := nullTable(t, rand.New(rand.NewPCG(14, 6)), nullConfig{Values: 300, Contexts: 8, Conversations: 4000, S: 1})
	whole, err := Analyze(tab, Options{})
	if err != nil {
		t.Fatal(err)
	}
	res, err := Analyze(tab, Options{Floor: Floor{MinConversations: 5}})
	if err != nil {
		t.Fatal(err)
	}
	s := res.SmallExpected
	if whole.SmallExpected.ReportedOnly || !s.ReportedOnly || s.Warning != whole.SmallExpected.Warning || res.Suppressed.Rows == 0 {
		t.Fatalf("whole %+v, floored %+v (%d rows suppressed)", whole.SmallExpected, s, res.Suppressed.Rows)
	}
	var cells, b5, b1 int64
	for i := range tab.Rows {
		for j := range tab.Cols {
			if !res.RowReported(i) || !res.ColReported(j) || res.rowSum[i] == 0 || res.colSum[j] == 0 {
				continue
			}
			cells++
			e := float64(res.Cell(i, j).Expected)
			if e < 5 {
				b5++
			}
			if e < 1 {
				b1++
			}
		}
	}
	if s.Cells != cells || s.Below5 != b5 || s.Below1 != b1 || s.Cells >= whole.SmallExpected.Cells {
		t.Fatalf("floored %+v; reported cells %d, %d < 5, %d < 1 (whole %+v)", s, cells, b5, b1, whole.SmallExpected)
	}
}
