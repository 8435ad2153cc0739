package analysis_test

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/valuescope/valuescope/internal/testruns"

	"github.com/valuescope/valuescope/internal/oracle"

	"github.com/valuescope/valuescope/host/analysis"
	"github.com/valuescope/valuescope/host/analysis/analysistest"
)

// hhTables runs the offline quickstart's stages over the hh-rlhf data and
// returns the run's default tables (no floor: the test's whole table).
func hhTables(t *testing.T) map[string]*analysis.Table {
	t.Helper()
	return analysistest.Tables(t, testruns.Offline(t, "hh-rlhf"))
}

// On the real tables of the offline hh-rlhf run, the small-expected warning
// and its counts are R's chisq.test's, and the exact method's per-cell
// p-values are R's fisher.test's to 1e-9 relative.
func TestRealTablesAgainstR(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the quickstart over hh-rlhf")
	}
	tables := hhTables(t)
	dir := t.TempDir()
	var names []string
	for name, tab := range tables {
		names = append(names, name)
		var b strings.Builder
		b.WriteString("row,col,count\n")
		for _, c := range tab.Cells() {
			fmt.Fprintf(&b, "%d,%d,%.17g\n", c.Row+1, c.Col+1, c.Count)
		}
		os.WriteFile(filepath.Join(dir, name+".csv"), []byte(b.String()), 0o644)
		os.WriteFile(filepath.Join(dir, name+".dim"), []byte(fmt.Sprintf("%d %d\n", len(tab.Rows), len(tab.Cols))), 0o644)
	}
	if len(names) == 0 {
		t.Fatal("the run has no tables")
	}
	script := fmt.Sprintf(`
for (name in c(%s)) {
  d <- scan(sprintf("%s/%%s.dim", name), quiet = TRUE)
  cs <- read.csv(sprintf("%s/%%s.csv", name))
  x <- matrix(0, d[1], d[2]); x[cbind(cs$row, cs$col)] <- cs$count
  xr <- x[rowSums(x) > 0, colSums(x) > 0, drop = FALSE]
  if (nrow(xr) < 2 || ncol(xr) < 2) next
  warned <- 0
  ct <- withCallingHandlers(chisq.test(xr, correct = FALSE), warning = function(w) {
    if (grepl("approximation may be incorrect", conditionMessage(w))) warned <<- 1
    invokeRestart("muffleWarning")
  })
  cat(sprintf("%%s.warn %%d %%d %%d\n", name, warned, sum(ct$expected < 5), sum(ct$expected < 1)))
  n <- sum(x); r <- rowSums(x); cc <- colSums(x)
  p <- sapply(seq_len(nrow(cs)), function(k) { o <- cs$count[k]; i <- cs$row[k]; j <- cs$col[k]
    fisher.test(matrix(c(o, cc[j] - o, r[i] - o, n - r[i] - cc[j] + o), 2))$p.value })
  cat(sprintf("%%s.fisher", name), sprintf("%%.17g", p), "\n")
}
`, `"`+strings.Join(names, `", "`)+`"`, dir, dir)
	out := oracle.R(t, script)
	want := map[string][]float64{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(line)
		var vs []float64
		for _, s := range f[1:] {
			v, err := strconv.ParseFloat(s, 64)
			if err != nil {
				t.Fatalf("R: %q: %v", line, err)
			}
			vs = append(vs, v)
		}
		want[f[0]] = vs
	}
	warned, cells := 0, 0
	for _, name := range names {
		res, err := analysis.Analyze(tables[name], analysis.Options{Method: analysis.Exact})
		if err != nil {
			t.Fatal(err)
		}
		w, ok := want[name+".warn"]
		if !ok {
			if res.SmallExpected.Warn() {
				t.Errorf("%s: no test in R, but a warning here", name)
			}
			continue
		}
		s := res.SmallExpected
		if s.Warn() != (w[0] == 1) || float64(s.Below5) != w[1] || float64(s.Below1) != w[2] {
			t.Errorf("%s: warn %v, %d < 5, %d < 1; R warn %v, %v, %v", name, s.Warn(), s.Below5, s.Below1, w[0] == 1, w[1], w[2])
		}
		if s.Warn() {
			warned++
		}
		p := want[name+".fisher"]
		tc := tables[name].Cells()
		if len(p) != len(tc) {
			t.Fatalf("%s: R gave %d p-values for %d cells", name, len(p), len(tc))
		}
		for k, c := range tc {
			got := float64(res.Cell(int(c.Row), int(c.Col)).P)
			if math.Abs(got-p[k]) > 1e-9*p[k] && !(p[k] == 0 && got < 1e-300) {
				t.Errorf("%s cell %q x %q (%v): p %.17g, R %.17g", name, tables[name].Rows[c.Row], tables[name].Cols[c.Col], c.Count, got, p[k])
			}
			cells++
		}
		normal, err := analysis.Analyze(tables[name], analysis.Options{Method: analysis.Normal})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %d x %d, significant cells (Bonferroni per context): normal %d, exact %d; %s", name, len(tables[name].Rows), len(tables[name].Cols),
			normal.SignificantPositive+normal.SignificantNegative, res.SignificantPositive+res.SignificantNegative, s)
	}
	if warned == 0 || cells == 0 {
		t.Fatalf("%d tables warned, %d cells checked: the run's tables do not exercise the test", warned, cells)
	}
}
