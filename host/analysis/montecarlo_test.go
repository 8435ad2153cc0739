package analysis

import (
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/valuescope/valuescope/internal/oracle"
)

// The Monte Carlo p-value agrees with R's chisq.test(simulate.p.value =
// TRUE) within Monte Carlo error (4 standard errors of the two estimates'
// difference) on sparse null tables with Zipf values and on tables with an
// association; it is reproducible under a seed and changes with it.
func TestMonteCarloAgainstR(t *testing.T) {
	rng := rand.New(rand.NewPCG(14, 4))
	dir := t.TempDir()
	var tables [][][]float64
	for _, cfg := range []nullConfig{{Values: 200, Contexts: 8, Conversations: 1500, S: 1.1}, {Values: 60, Contexts: 5, Conversations: 400, S: 1}, {Values: 30, Contexts: 12, Conversations: 3000, S: 0.8}, {Values: 15, Contexts: 4, Conversations: 120, S: 0.5}} {
		tables = append(tables, denseRows(nullTable(t, rng, cfg)))
	}
	for _, s := range []shape{{10, 10, 0.5, true, false}, {12, 2, 0.6, true, false}, {6, 3, 1, false, false}} {
		tables = append(tables, randomTable(rng, s.r, s.c, s.density, s.empty, s.fractional))
	}
	// A weak association: one value leans to one context.
	lean := denseRows(nullTable(t, rng, nullConfig{Values: 40, Contexts: 4, Conversations: 600, S: 1}))
	lean[3][0] += 4
	tables = append(tables, lean)
	for k, x := range tables {
		writeCSV(t, filepath.Join(dir, fmt.Sprintf("t%d.csv", k)), x)
	}
	const B, BR = 2000, 20000
	script := fmt.Sprintf(`
set.seed(1)
for (k in 0:%d) {
  x <- as.matrix(read.csv(sprintf("%s/t%%d.csv", k), row.names = 1, check.names = FALSE))
  x <- x[rowSums(x) > 0, colSums(x) > 0, drop = FALSE]
  if (min(dim(x)) < 2) next
  ct <- chisq.test(x, simulate.p.value = TRUE, B = %d)
  cat(sprintf("t%%d %%.17g %%.17g\n", k, ct$p.value, ct$statistic))
}
`, len(tables)-1, dir, BR)
	want := rNumbers(t, oracle.R(t, script))
	for k := range tables {
		tab, err := ReadCSVFile(filepath.Join(dir, fmt.Sprintf("t%d.csv", k)))
		if err != nil {
			t.Fatal(err)
		}
		res, err := Analyze(tab, Options{MonteCarlo: B})
		if err != nil {
			t.Fatal(err)
		}
		w, ok := want[fmt.Sprintf("t%d", k)]
		if res.DF == 0 || !ok {
			continue // one non-empty row or column: no test here, a goodness-of-fit test in R
		}
		p, pR := float64(res.MonteCarloP), w[0]
		if res.MonteCarlo != B || !relClose(float64(res.ChiSquare), w[1], 1e-9) {
			t.Fatalf("table %d: B %d, statistic %v; R %v", k, res.MonteCarlo, res.ChiSquare, w[1])
		}
		// Standard error of the difference; p clamped off 0 and 1 so a
		// p-value of 1/(B+1) has an error too.
		q := math.Min(math.Max((p+pR)/2, 1.0/B), 1-1.0/B)
		se := math.Sqrt(q*(1-q)/B + q*(1-q)/BR)
		if math.Abs(p-pR) > 4*se {
			t.Errorf("table %d: Monte Carlo p %.4f, R %.4f (se %.4f)", k, p, pR, se)
		}
		// Each sampler, forced, agrees with R too.
		rows, cols := res.margins()
		for name, sim := range map[string]tableSampler{
			"patefield": newPatefield(rows, cols, rand.New(rand.NewPCG(uint64(k), 1))),
			"shuffle":   newMarginSampler(rows, cols, rand.New(rand.NewPCG(uint64(k), 2))),
		} {
			ps := res.simulate(sim, B)
			if math.Abs(ps-pR) > 4*se {
				t.Errorf("table %d, %s: Monte Carlo p %.4f, R %.4f (se %.4f)", k, name, ps, pR, se)
			}
		}
		again, _ := Analyze(tab, Options{MonteCarlo: B})
		if again.MonteCarloP != res.MonteCarloP {
			t.Fatalf("table %d: p %v then %v under one seed", k, res.MonteCarloP, again.MonteCarloP)
		}
		t.Logf("table %d: p %.4f, R %.4f", k, p, pR)
	}
	// Another seed draws other tables (on a table whose p is not 1/(B+1)).
	tab, _ := ReadCSVFile(filepath.Join(dir, "t0.csv"))
	a, _ := Analyze(tab, Options{MonteCarlo: B, Seed: 1})
	b, _ := Analyze(tab, Options{MonteCarlo: B, Seed: 2})
	if a.MonteCarloP == b.MonteCarloP {
		t.Errorf("seeds 1 and 2 gave the same p %v", a.MonteCarloP)
	}
	if none, _ := Analyze(tab, Options{}); !math.IsNaN(float64(none.MonteCarloP)) || none.MonteCarlo != 0 {
		t.Errorf("no Monte Carlo asked, p %v", none.MonteCarloP)
	}
}

// The sampler keeps the margins: every unit is dealt once, each column its
// sum, and the statistic of the observed table (the units dealt in order)
// is the table's.
func TestMarginSamplerMargins(t *testing.T) {
	rows, cols := []int64{5, 0, 3, 9, 1}, []int64{4, 0, 10, 4}
	m := newMarginSampler(rows, cols, rand.New(rand.NewPCG(1, 2)))
	for range 50 {
		m.chiSquare()
		seen := make([]int64, len(rows))
		for _, i := range m.units {
			seen[i]++
		}
		for i := range rows {
			if seen[i] != rows[i] || m.count[i] != 0 {
				t.Fatalf("row %d: %d units, want %d (count left %d)", i, seen[i], rows[i], m.count[i])
			}
		}
		if x := m.chiSquare(); !(x >= -1e-9) {
			t.Fatalf("statistic %v", x)
		}
	}
}

// On 2×2 tables the statistic is a function of one cell, whose law given
// the margins is hypergeometric: each sampler's Monte Carlo p-value is
// within 4 standard errors of the exact P(X² ≥ X²_obs).
func TestSamplersExact2x2(t *testing.T) {
	for _, c := range []struct{ o, r, c, n int64 }{{3, 10, 12, 40}, {9, 30, 20, 60}, {1, 5, 300, 1000}, {40, 120, 200, 500}} {
		tab, err := NewTable([]string{"a", "b"}, []string{"x", "y"}, []Cell{
			{0, 0, float64(c.o), -1}, {0, 1, float64(c.r - c.o), -1}, {1, 0, float64(c.c - c.o), -1}, {1, 1, float64(c.n - c.r - c.c + c.o), -1}})
		if err != nil {
			t.Fatal(err)
		}
		res, err := Analyze(tab, Options{})
		if err != nil {
			t.Fatal(err)
		}
		stat := func(x int64) float64 {
			cells := []float64{float64(x), float64(c.r - x), float64(c.c - x), float64(c.n - c.r - c.c + x)}
			rs := []float64{float64(c.r), float64(c.r), float64(c.n - c.r), float64(c.n - c.r)}
			cs := []float64{float64(c.c), float64(c.n - c.c), float64(c.c), float64(c.n - c.c)}
			v := 0.0
			for q, o := range cells {
				e := rs[q] * cs[q] / float64(c.n)
				v += (o - e) * (o - e) / e
			}
			return v
		}
		obs := stat(c.o)
		exact := 0.0
		for x := max(0, c.c-(c.n-c.r)); x <= min(c.r, c.c); x++ {
			if stat(x) >= obs*(1-1e-9) {
				lp := lchoose(c.r, x) + lchoose(c.n-c.r, c.c-x) - lchoose(c.n, c.c)
				exact += math.Exp(lp)
			}
		}
		const B = 20000
		rows, cols := res.margins()
		for name, sim := range map[string]tableSampler{
			"patefield": newPatefield(rows, cols, rand.New(rand.NewPCG(uint64(c.o), 1))),
			"shuffle":   newMarginSampler(rows, cols, rand.New(rand.NewPCG(uint64(c.o), 2))),
		} {
			// (1 + hits)/(B + 1) estimates the exact p with this error.
			p := res.simulate(sim, B)
			se := math.Sqrt(math.Max(exact*(1-exact), 1.0/B) / B)
			if math.Abs(p-exact) > 4*se+1.0/B {
				t.Errorf("%+v, %s: p %.5f, exact %.5f (se %.5f)", c, name, p, exact, se)
			}
		}
	}
}

func lchoose(n, k int64) float64 {
	a, _ := math.Lgamma(float64(n + 1))
	b, _ := math.Lgamma(float64(k + 1))
	d, _ := math.Lgamma(float64(n - k + 1))
	return a - b - d
}
