package analysis

import (
	"math"
	"math/rand/v2"
)

// tableSampler draws random tables with fixed margins and returns each
// one's chi-square statistic, Σ O²/E − n.
type tableSampler interface{ chiSquare() float64 }

// newTableSampler chooses the cheaper of the two samplers of the same law:
// Patefield's algorithm costs about one step per cell of the table without
// its empty rows and columns, the shuffle one per unit (conversation).
func newTableSampler(rows, cols []int64, rng *rand.Rand) tableSampler {
	var n int64
	r, c := 0, 0
	for _, v := range rows {
		n += v
		if v > 0 {
			r++
		}
	}
	for _, v := range cols {
		if v > 0 {
			c++
		}
	}
	if int64(r)*int64(c) < n {
		return newPatefield(rows, cols, rng)
	}
	return newMarginSampler(rows, cols, rng)
}

// patefield draws tables with fixed margins by Patefield's algorithm
// (Applied Statistics AS 159, 1981; R's r2dtable and chisq.test's
// simulate.p.value use it): row by row, each cell is drawn from its
// hypergeometric law given the row's and the columns' remaining sums, by
// inversion walked out from the law's mean; the last column and the last
// row take what is left. Empty rows and columns are left out.
type patefield struct {
	rows, cols []int64   // non-empty margins
	inv        []float64 // n / r_i per row, as sumO2E
	n          int64
	jwork      []int64
	rng        *rand.Rand
}

func newPatefield(rows, cols []int64, rng *rand.Rand) *patefield {
	p := &patefield{rng: rng}
	for _, v := range rows {
		p.n += v
	}
	for _, v := range rows {
		if v > 0 {
			p.rows = append(p.rows, v)
			p.inv = append(p.inv, float64(p.n)/float64(v))
		}
	}
	for _, v := range cols {
		if v > 0 {
			p.cols = append(p.cols, v)
		}
	}
	p.jwork = make([]int64, len(p.cols))
	return p
}

func (p *patefield) chiSquare() float64 {
	R, C := len(p.rows), len(p.cols)
	copy(p.jwork, p.cols)
	x := 0.0
	// Σ_i O_ij² n/r_i, per column, divided by c_j at the end.
	col := make([]float64, C)
	add := func(i, j int, o int64) {
		if o > 0 {
			f := float64(o)
			col[j] += f * f * p.inv[i]
		}
	}
	left := p.n // units not yet placed in rows before i
	for i := 0; i < R-1; i++ {
		ia := p.rows[i] // the row's units not yet placed
		ic := left      // units of the columns from j on, in rows from i on
		left -= ia
		for j := 0; j < C-1 && ia > 0; j++ {
			id := p.jwork[j]
			ie := ic
			ic -= id
			o := p.hyper(ia, id, ie)
			add(i, j, o)
			ia -= o
			p.jwork[j] -= o
		}
		add(i, C-1, ia)
		p.jwork[C-1] -= ia
	}
	for j := 0; j < C; j++ {
		add(R-1, j, p.jwork[j])
		x += col[j] / float64(p.cols[j])
	}
	return x - float64(p.n)
}

// hyper draws the number of successes in k draws without replacement from
// a population of n with s successes, by inversion: the probabilities are
// summed from the mean's outward, one step up and one down in turn, until
// they pass a uniform number (drawn again, scaled by the sum, should
// rounding leave the sum under it at the support's ends, as AS 159 does).
func (p *patefield) hyper(k, s, n int64) int64 {
	lo, hi := max(0, k+s-n), min(k, s)
	if lo == hi {
		return lo
	}
	m := int64(float64(k)*(float64(s)/float64(n)) + 0.5)
	m = min(max(m, lo), hi)
	lf := func(v int64) float64 { r, _ := math.Lgamma(float64(v) + 1); return r }
	p0 := math.Exp(lf(s) - lf(m) - lf(s-m) + lf(n-s) - lf(k-m) - lf(n-s-k+m) - lf(n) + lf(k) + lf(n-k))
	// up(x) = P(x+1)/P(x)
	up := func(x int64) float64 {
		return float64(s-x) * float64(k-x) / (float64(x+1) * float64(n-s-k+x+1))
	}
	u := p.rng.Float64()
	for {
		sum := p0
		if sum >= u {
			return m
		}
		a, pa, b, pb := m, p0, m, p0
		for a < hi || b > lo {
			if a < hi {
				pa *= up(a)
				a++
				if sum += pa; sum >= u {
					return a
				}
			}
			if b > lo {
				pb /= up(b - 1)
				b--
				if sum += pb; sum >= u {
					return b
				}
			}
		}
		u = sum * p.rng.Float64()
	}
}
