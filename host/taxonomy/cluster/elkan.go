package cluster

import (
	"math"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"
)

// maxBounds caps Elkan's n·k lower bounds (8 bytes each, 256 MiB); above it
// Lloyd's iterations compute every distance, as scikit-learn's "lloyd" does.
// A variable so that the test of the fallback can lower it.
var maxBounds = 1 << 25

// elkan holds Elkan's (2003) bounds between Lloyd iterations, so that an
// iteration computes only the distances that can change a label: after the
// first iteration (every distance, by blocked gemm) most points are settled
// by the triangle inequality alone. The labels are Lloyd's: the bounds only
// skip distances that cannot win (ties apart, which keep the current label).
type elkan struct {
	k, workers int
	xn         []float64 // squared row norms of x
	u          []float64 // u[i] >= distance of point i to its centre
	lb         []float64 // lb[i*k+j] <= distance of point i to centre j; nil: no bounds
	cn         []float64 // squared norms of the current centres
	half       []float64 // k×k: half the distance between two centres
	near       []float64 // half the distance of each centre to its nearest other
	dots       []float64 // k×k scratch for the centres' Gram matrix
}

func newElkan(n, k int, xn []float64, workers int) *elkan {
	e := &elkan{k: k, workers: workers, xn: xn, u: make([]float64, n)}
	if n*k <= maxBounds && k > 1 {
		e.lb = make([]float64, n*k)
		e.half = make([]float64, k*k)
		e.near = make([]float64, k)
		e.dots = make([]float64, k*k)
	}
	return e
}

// first labels every point from scratch (all distances, blocked gemm) and
// sets the bounds tight.
func (e *elkan) first(x, centers *mat.Dense, labels []int) {
	dist := e.u
	assign(x, centers, labels, dist, e.lb, e.workers)
	for i, v := range dist {
		dist[i] = math.Sqrt(v)
	}
}

// step labels the points for centers, which moved by shift (per centre,
// Euclidean) since the last call.
func (e *elkan) step(x, centers *mat.Dense, labels []int, shift []float64) {
	if e.lb == nil {
		e.first(x, centers, labels)
		return
	}
	n, d := x.Dims()
	k := e.k
	e.cn = rowNorms(centers)
	cr := centers.RawMatrix()
	blas64.Implementation().Dgemm(blas.NoTrans, blas.Trans, k, k, d, 1, cr.Data, cr.Stride, cr.Data, cr.Stride, 0, e.dots, k)
	for a := 0; a < k; a++ {
		e.near[a] = math.Inf(1)
	}
	for a := 0; a < k; a++ {
		for j := a + 1; j < k; j++ {
			h := 0.5 * math.Sqrt(max(e.cn[a]+e.cn[j]-2*e.dots[a*k+j], 0))
			e.half[a*k+j], e.half[j*k+a] = h, h
			e.near[a] = min(e.near[a], h)
			e.near[j] = min(e.near[j], h)
		}
	}
	xr := x.RawMatrix()
	dist := func(i, j int) float64 {
		dot := floats.Dot(xr.Data[i*xr.Stride:i*xr.Stride+d], cr.Data[j*cr.Stride:j*cr.Stride+d])
		return math.Sqrt(max(e.xn[i]+e.cn[j]-2*dot, 0))
	}
	ChunksN(n, chunkRows, e.workers, func() struct{} { return struct{}{} }, func(_ struct{}, lo, hi int) {
		for i := lo; i < hi; i++ {
			lb := e.lb[i*k : (i+1)*k]
			a := labels[i]
			ub := e.u[i] + shift[a]
			if ub <= e.near[a] {
				// settled: only the bounds move (a bound under 0 stays a bound)
				for j, p := range shift {
					lb[j] -= p
				}
				e.u[i] = ub
				continue
			}
			// one pass: move each bound, then test it
			half := e.half[a*k : (a+1)*k]
			tight := false
			for j, p := range shift {
				l := lb[j] - p
				lb[j] = l
				if j == a || ub <= l || ub <= half[j] {
					continue
				}
				if !tight {
					ub = dist(i, a)
					lb[a] = ub
					tight = true
					if ub <= l || ub <= half[j] {
						continue
					}
				}
				dj := dist(i, j)
				lb[j] = dj
				if dj < ub {
					a, ub = j, dj
					half = e.half[a*k : (a+1)*k]
				}
			}
			labels[i], e.u[i] = a, ub
		}
	})
}
