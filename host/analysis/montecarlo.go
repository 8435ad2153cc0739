package analysis

import (
	"math"
	"math/rand/v2"
)

// DefaultSeed seeds the Monte Carlo tables when Options.Seed is 0, so that
// an analysis is reproducible unless asked otherwise.
const DefaultSeed = 14

// monteCarlo sets the Monte Carlo p-value of the table's chi-square
// statistic, as R's chisq.test(x, simulate.p.value = TRUE, B) computes it:
// B random tables with the observed margins (the table without its empty
// rows and columns), and
//
//	p = (1 + #{X²_sim ≥ (1 − 64 ε) X²_obs}) / (B + 1)
//
// with R's tolerance for ties. A table with fractional counts has none.
func (r *Result) monteCarlo() {
	s := &r.Summary
	s.MonteCarloP = Number(math.NaN())
	B := r.opts.MonteCarlo
	if B == 0 || s.DF == 0 || !r.t.integral() {
		return
	}
	seed := r.opts.Seed
	if seed == 0 {
		seed = DefaultSeed
	}
	rows, cols := r.margins()
	sim := newTableSampler(rows, cols, rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15)))
	s.MonteCarloP = Number(r.simulate(sim, B))
	s.MonteCarlo = B
}

// margins are the row and column sums as integers.
func (r *Result) margins() (rows, cols []int64) {
	rows = make([]int64, len(r.rowSum))
	for i, v := range r.rowSum {
		rows[i] = int64(v)
	}
	cols = make([]int64, len(r.colSum))
	for j, v := range r.colSum {
		cols[j] = int64(v)
	}
	return rows, cols
}

// simulate is the Monte Carlo p-value over B tables of sim.
func (r *Result) simulate(sim tableSampler, B int) float64 {
	obs := r.sumO2E()
	almost := 1 - 64*epsilon
	ge := 0
	for range B {
		if sim.chiSquare() >= almost*obs {
			ge++
		}
	}
	return float64(1+ge) / float64(B+1)
}

// epsilon is R's .Machine$double.eps.
const epsilon = 0x1p-52

// sumO2E is the chi-square statistic as the sampler computes it,
// Σ O²/E − n over the non-zero cells, so that the observed and the
// simulated statistics compare without a difference of rounding.
func (r *Result) sumO2E() float64 {
	x := 0.0
	for j, cj := range r.colSum {
		s := 0.0
		for _, c := range r.t.cells[r.colStart[j]:r.colStart[j+1]] {
			s += c.Count * c.Count * (r.n / r.rowSum[c.Row])
		}
		if cj > 0 {
			x += s / cj
		}
	}
	return x - r.n
}

// marginSampler draws tables uniformly from those with the given margins
// under the multiple hypergeometric law — the law of R's r2dtable
// (Patefield's algorithm) — as a random assignment of the n units: the n
// row labels (row i repeated r_i times) are shuffled and dealt to the
// columns, c_j each. That takes O(n) per table and memory for the units;
// Patefield's takes O(rows × columns) per table, which for a run's sparse
// table (3,307 values × 50 contexts, 100k conversations) is more.
type marginSampler struct {
	units  []int32   // row of each unit
	cols   []int64   // column sums
	inv    []float64 // n / (r_i) per row, for O²/E = O² n / (r_i c_j)
	n      float64
	count  []int64 // per row, within the column being dealt
	rng    *rand.Rand
	rowsIn []int32 // rows touched in the column being dealt
}

func newMarginSampler(rows, cols []int64, rng *rand.Rand) *marginSampler {
	var n int64
	for _, v := range rows {
		n += v
	}
	m := &marginSampler{units: make([]int32, 0, n), cols: cols, inv: make([]float64, len(rows)),
		n: float64(n), count: make([]int64, len(rows)), rng: rng}
	for i, v := range rows {
		for range v {
			m.units = append(m.units, int32(i))
		}
		if v > 0 {
			m.inv[i] = float64(n) / float64(v) // as sumO2E: n / r_i
		}
	}
	return m
}

// chiSquare draws one table and returns its statistic, Σ O²/E − n.
func (m *marginSampler) chiSquare() float64 {
	u := m.units
	m.rng.Shuffle(len(u), func(a, b int) { u[a], u[b] = u[b], u[a] })
	x := 0.0
	at := 0
	for _, cj := range m.cols {
		if cj == 0 {
			continue
		}
		m.rowsIn = m.rowsIn[:0]
		for _, i := range u[at : at+int(cj)] {
			if m.count[i] == 0 {
				m.rowsIn = append(m.rowsIn, i)
			}
			m.count[i]++
		}
		at += int(cj)
		s := 0.0
		for _, i := range m.rowsIn {
			o := float64(m.count[i])
			s += o * o * m.inv[i]
			m.count[i] = 0
		}
		x += s / float64(cj)
	}
	return x - m.n
}
