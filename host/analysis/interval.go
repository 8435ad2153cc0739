package analysis

import (
	"math"

	"gonum.org/v1/gonum/stat/distuv"
)

// Interval is a confidence interval.
type Interval struct {
	Low  Number `json:"low"`
	High Number `json:"high"`
}

// zFor is the two-sided normal quantile of a confidence level.
func zFor(level float64) float64 {
	return -distuv.UnitNormal.Quantile((1 - level) / 2)
}

// Wilson is the Wilson score interval of a proportion of x successes in n
// trials at the given confidence level (0.95 for 95%), without continuity
// correction — the interval R's prop.test(x, n, correct = FALSE) reports.
// NaN bounds when n is 0.
func Wilson(x, n, level float64) Interval {
	if n <= 0 {
		return Interval{Number(math.NaN()), Number(math.NaN())}
	}
	z := zFor(level)
	p := x / n
	z22n := z * z / (2 * n)
	half := z * math.Sqrt(p*(1-p)/n+z22n/(2*n))
	return Interval{
		Low:  Number(math.Max(0, (p+z22n-half)/(1+2*z22n))),
		High: Number(math.Min(1, (p+z22n+half)/(1+2*z22n))),
	}
}

// DiffInterval is Newcombe's hybrid score interval (method 10, from two
// Wilson intervals) for the difference of proportions x2/n2 − x1/n1. It
// behaves well at counts of zero, where the Wald interval collapses.
func DiffInterval(x1, n1, x2, n2, level float64) Interval {
	if n1 <= 0 || n2 <= 0 {
		return Interval{Number(math.NaN()), Number(math.NaN())}
	}
	p1, p2 := x1/n1, x2/n2
	w1, w2 := Wilson(x1, n1, level), Wilson(x2, n2, level)
	d := p2 - p1
	l1, u1 := float64(w1.Low), float64(w1.High)
	l2, u2 := float64(w2.Low), float64(w2.High)
	return Interval{
		Low:  Number(d - math.Sqrt((p2-l2)*(p2-l2)+(u1-p1)*(u1-p1))),
		High: Number(d + math.Sqrt((u2-p2)*(u2-p2)+(p1-l1)*(p1-l1))),
	}
}

// TwoProportionTest is the pooled two-sided z-test of x1/n1 = x2/n2 (equal
// to R's prop.test(c(x1, x2), c(n1, n2), correct = FALSE)); it returns z
// (positive when the second proportion is larger) and the p-value. With no
// variance (both proportions 0, or both 1) there is no evidence of a
// difference: z = 0, p = 1.
func TwoProportionTest(x1, n1, x2, n2 float64) (z, p float64) {
	if n1 <= 0 || n2 <= 0 {
		return math.NaN(), math.NaN()
	}
	pool := (x1 + x2) / (n1 + n2)
	se := math.Sqrt(pool * (1 - pool) * (1/n1 + 1/n2))
	if se == 0 {
		return 0, 1
	}
	z = (x2/n2 - x1/n1) / se
	return z, ZPValue(z)
}
