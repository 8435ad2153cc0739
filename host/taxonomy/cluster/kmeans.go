// Package cluster holds the clustering algorithms of the taxonomy: k-means
// (Lloyd, with greedy k-means++ seeding and restarts), mini-batch k-means for
// large inputs, Ward's agglomerative clustering (nearest-neighbour chain), and
// the agreement measures between two labellings (AMI, ARI, NMI).
//
// Every algorithm is deterministic: the same data, options and seed give the
// same result, whatever the number of cores. Lloyd's k-means follows
// scikit-learn's KMeans(algorithm="lloyd") step for step, so that from the same
// initial centres both reach the same labels and inertia; Ward gives the same
// merge heights as scipy.cluster.hierarchy.linkage(method="ward").
package cluster

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/mat"
)

// KMeansOptions configure KMeans.
type KMeansOptions struct {
	K int
	// Init, when set, are the K initial centres (one row each); Restarts is then 1.
	Init *mat.Dense
	// Restarts is the number of k-means++ initialisations tried; the run with
	// the lowest inertia wins (default 4).
	Restarts int
	// MaxIter bounds Lloyd iterations per restart (default 300).
	MaxIter int
	// Tol is scikit-learn's tol: iterations stop when the squared shift of the
	// centres falls under Tol times the mean variance of the features (default 1e-4;
	// a negative value means 0).
	Tol float64
	// Seed seeds the k-means++ initialisations.
	Seed uint64
	// Weights are sample weights (nil: all 1).
	Weights []float64
	// SeedTrials is the number of candidates greedy k-means++ tries for each
	// centre (0: 2+ln K, as scikit-learn).
	SeedTrials int
}

// Result is a clustering of n points into K clusters.
type Result struct {
	Labels  []int
	Centers *mat.Dense
	// Inertia is the weighted sum of squared distances of the points to their centres.
	Inertia float64
	Iter    int
}

func checkData(x *mat.Dense, k int, w []float64) (n, d int, err error) {
	if x == nil {
		return 0, 0, errors.New("no data")
	}
	n, d = x.Dims()
	if k < 1 {
		return n, d, fmt.Errorf("k = %d: need at least one cluster", k)
	}
	if k > n {
		return n, d, fmt.Errorf("k = %d clusters but only %d points", k, n)
	}
	if w != nil && len(w) != n {
		return n, d, fmt.Errorf("%d weights for %d points", len(w), n)
	}
	for i, v := range w {
		if !(v >= 0) || math.IsInf(v, 0) {
			return n, d, fmt.Errorf("weight %d is %v: weights must be finite and non-negative", i, v)
		}
	}
	return n, d, nil
}

func weightsOrOnes(w []float64, n int) []float64 {
	if w != nil {
		return w
	}
	w = make([]float64, n)
	for i := range w {
		w[i] = 1
	}
	return w
}

// KMeans clusters the rows of x into K clusters with Lloyd's algorithm.
func KMeans(x *mat.Dense, o KMeansOptions) (Result, error) {
	n, d, err := checkData(x, o.K, o.Weights)
	if err != nil {
		return Result{}, err
	}
	w := weightsOrOnes(o.Weights, n)
	if o.MaxIter <= 0 {
		o.MaxIter = 300
	}
	if o.Tol == 0 {
		o.Tol = 1e-4
	}
	tol := max(o.Tol, 0) * meanVariance(x)
	norms := rowNorms(x)
	if o.Init != nil {
		if r, c := o.Init.Dims(); r != o.K || c != d {
			return Result{}, fmt.Errorf("initial centres are %dx%d, want %dx%d", r, c, o.K, d)
		}
		c := mat.DenseCopyOf(o.Init)
		return lloyd(x, w, norms, c, o.MaxIter, tol, runtime.GOMAXPROCS(0)), nil
	}
	if o.Restarts <= 0 {
		o.Restarts = 4
	}
	rng := rand.New(rand.NewPCG(o.Seed, 0x76616c7565736370))
	seeds := make([][2]uint64, o.Restarts)
	for r := range seeds {
		seeds[r] = [2]uint64{rng.Uint64(), rng.Uint64()}
	}
	// Restarts run side by side, one goroutine each (the cores are better
	// used whole than inside each restart's small steps); which restart wins
	// depends only on their order, never on scheduling.
	procs := runtime.GOMAXPROCS(0)
	inner := 1
	if o.Restarts == 1 {
		inner = procs
	}
	results := make([]Result, o.Restarts)
	ChunksN(o.Restarts, 1, procs, func() struct{} { return struct{}{} }, func(_ struct{}, r, _ int) {
		c := KMeansPlusPlus(x, o.K, w, norms, rand.New(rand.NewPCG(seeds[r][0], seeds[r][1])), o.SeedTrials)
		results[r] = lloyd(x, w, norms, c, o.MaxIter, tol, inner)
	})
	best := results[0]
	for _, res := range results[1:] {
		if res.Inertia < best.Inertia {
			best = res
		}
	}
	return best, nil
}

// lloyd runs Lloyd's iterations from centers, as scikit-learn's
// _kmeans_single_lloyd: stop when no label changes, or when the centres'
// total squared shift is at most tol, or after maxIter iterations; then
// label the points once more for the final centres unless no label changed.
// Elkan's bounds spare the distances that cannot change a label.
func lloyd(x *mat.Dense, w, norms []float64, centers *mat.Dense, maxIter int, tol float64, workers int) Result {
	n, _ := x.Dims()
	k, _ := centers.Dims()
	labels := make([]int, n)
	old := make([]int, n)
	for i := range old {
		old[i] = -1
	}
	e := newElkan(n, k, norms, workers)
	shift := make([]float64, k)
	strict := false
	it := 0
	for it = 1; it <= maxIter; it++ {
		if it == 1 {
			e.first(x, centers, labels)
		} else {
			e.step(x, centers, labels, shift)
		}
		next := means(x, w, labels, k)
		if hasEmpty(w, labels, k) {
			relocateEmpty(x, w, next, labels, sqDists(x, centers, labels))
		}
		total := 0.0
		for j := 0; j < k; j++ {
			c, nj := centers.RawRowView(j), next.RawRowView(j)
			s := 0.0
			for f := range nj {
				v := nj[f] - c[f]
				s += v * v
			}
			shift[j] = math.Sqrt(s)
			total += s
		}
		centers = next
		if equalInts(labels, old) {
			strict = true
			break
		}
		if total <= tol {
			break
		}
		copy(old, labels)
	}
	it = min(it, maxIter)
	if !strict {
		e.step(x, centers, labels, shift)
	}
	return Result{Labels: labels, Centers: centers, Inertia: Inertia(x, w, centers, labels), Iter: it}
}

// hasEmpty reports whether a cluster has no weight.
func hasEmpty(w []float64, labels []int, k int) bool {
	sw := make([]float64, k)
	for i, l := range labels {
		sw[l] += w[i]
	}
	for _, v := range sw {
		if v == 0 {
			return true
		}
	}
	return false
}

// sqDists is each row's squared distance to its labelled centre.
func sqDists(x, centers *mat.Dense, labels []int) []float64 {
	out := make([]float64, len(labels))
	for i, l := range labels {
		xi, c := x.RawRowView(i), centers.RawRowView(l)
		s := 0.0
		for j := range xi {
			t := xi[j] - c[j]
			s += t * t
		}
		out[i] = s
	}
	return out
}

// Inertia is the weighted sum of squared distances of the rows of x to their
// labelled centres, computed from the differences (not the expansion).
func Inertia(x *mat.Dense, w []float64, centers *mat.Dense, labels []int) float64 {
	s := 0.0
	for i, l := range labels {
		xi, c := x.RawRowView(i), centers.RawRowView(l)
		d := 0.0
		for j := range xi {
			v := xi[j] - c[j]
			d += v * v
		}
		if w != nil {
			d *= w[i]
		}
		s += d
	}
	return s
}

func equalInts(a, b []int) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func means(x *mat.Dense, w []float64, labels []int, k int) *mat.Dense {
	_, d := x.Dims()
	c := mat.NewDense(k, d, nil)
	sw := make([]float64, k)
	for i, l := range labels {
		row := c.RawRowView(l)
		xi := x.RawRowView(i)
		for j := range row {
			row[j] += w[i] * xi[j]
		}
		sw[l] += w[i]
	}
	for l := 0; l < k; l++ {
		if sw[l] > 0 {
			row := c.RawRowView(l)
			for j := range row {
				row[j] /= sw[l]
			}
		}
	}
	return c
}

// relocateEmpty gives each empty cluster (no weight) of next the point that is
// farthest from its centre, as scikit-learn does, and moves that point's
// weight out of its old cluster.
func relocateEmpty(x *mat.Dense, w []float64, next *mat.Dense, labels []int, dist []float64) {
	k, d := next.Dims()
	sw := make([]float64, k)
	for i, l := range labels {
		sw[l] += w[i]
	}
	var empty []int
	for l := 0; l < k; l++ {
		if sw[l] == 0 {
			empty = append(empty, l)
		}
	}
	if len(empty) == 0 {
		return
	}
	far := topK(dist, len(empty))
	for e, i := range far {
		to, from := empty[e], labels[i]
		xi := x.RawRowView(i)
		copy(next.RawRowView(to), xi)
		if sw[from] > w[i] {
			row := next.RawRowView(from)
			for j := 0; j < d; j++ {
				row[j] = (row[j]*sw[from] - w[i]*xi[j]) / (sw[from] - w[i])
			}
			sw[from] -= w[i]
		}
		sw[to] = w[i]
	}
}

// topK returns the indices of the m largest values (ties: lower index first).
func topK(v []float64, m int) []int {
	idx := make([]int, 0, m)
	used := make([]bool, len(v))
	for len(idx) < m && len(idx) < len(v) {
		b := -1
		for i, x := range v {
			if !used[i] && (b < 0 || x > v[b]) {
				b = i
			}
		}
		used[b] = true
		idx = append(idx, b)
	}
	return idx
}

func meanVariance(x *mat.Dense) float64 {
	n, d := x.Dims()
	if n == 0 || d == 0 {
		return 0
	}
	total := 0.0
	for j := 0; j < d; j++ {
		m := 0.0
		for i := 0; i < n; i++ {
			m += x.At(i, j)
		}
		m /= float64(n)
		v := 0.0
		for i := 0; i < n; i++ {
			t := x.At(i, j) - m
			v += t * t
		}
		total += v / float64(n)
	}
	return total / float64(d)
}

func rowNorms(x *mat.Dense) []float64 {
	n, _ := x.Dims()
	out := make([]float64, n)
	for i := range out {
		r := x.RawRowView(i)
		out[i] = blas64.Implementation().Ddot(len(r), r, 1, r, 1)
	}
	return out
}

const chunkRows = 256

// assign labels every row of x with its nearest centre (ties: the lowest
// index) and stores the squared distance; when lb is not nil it also stores
// every row's distance (not squared) to every centre, lb[i*k+j]. Rows are
// processed in fixed chunks, on up to workers goroutines; the result does
// not depend on their number.
func assign(x, centers *mat.Dense, labels []int, dist, lb []float64, workers int) {
	n, d := x.Dims()
	k, _ := centers.Dims()
	cn := rowNorms(centers)
	var xn []float64
	if lb != nil {
		xn = rowNorms(x)
	}
	xr, cr := x.RawMatrix(), centers.RawMatrix()
	ChunksN(n, chunkRows, workers, func() []float64 { return make([]float64, chunkRows*k) }, func(buf []float64, lo, hi int) {
		m := hi - lo
		blas64.Implementation().Dgemm(blas.NoTrans, blas.Trans, m, k, d, 1,
			xr.Data[lo*xr.Stride:], xr.Stride, cr.Data, cr.Stride, 0, buf, k)
		for r := 0; r < m; r++ {
			row := buf[r*k : (r+1)*k]
			bi, bv := 0, math.Inf(1)
			for j, dot := range row {
				if v := cn[j] - 2*dot; v < bv {
					bi, bv = j, v
				}
			}
			i := lo + r
			if lb != nil {
				bounds := lb[i*k : (i+1)*k]
				for j, dot := range row {
					bounds[j] = math.Sqrt(max(xn[i]+cn[j]-2*dot, 0))
				}
			}
			labels[i] = bi
			xi, ci := x.RawRowView(i), centers.RawRowView(bi)
			s := 0.0
			for j := range xi {
				t := xi[j] - ci[j]
				s += t * t
			}
			dist[i] = s
		}
	})
}

// KMeansPlusPlus picks k initial centres from the rows of x with greedy
// k-means++ (scikit-learn's variant): each new centre is the best, by the
// resulting potential, of trials candidates drawn with probability
// proportional to weight times squared distance to the nearest centre so far.
// trials <= 0 means 2 + ln k; 1 is plain k-means++. norms are the squared row
// norms of x (nil: computed).
func KMeansPlusPlus(x *mat.Dense, k int, w, norms []float64, rng *rand.Rand, trials int) *mat.Dense {
	n, d := x.Dims()
	w = weightsOrOnes(w, n)
	if norms == nil {
		norms = rowNorms(x)
	}
	if trials <= 0 {
		trials = 2 + int(math.Log(float64(k)))
	}
	centers := mat.NewDense(k, d, nil)
	first := sampleWeighted(w, rng.Float64()*sum(w))
	copy(centers.RawRowView(0), x.RawRowView(first))
	closest := make([]float64, n)
	sqDistTo(x, norms, first, closest)
	pot := dot(closest, w)
	cand := make([][]float64, trials)
	for t := range cand {
		cand[t] = make([]float64, n)
	}
	cum := make([]float64, n)
	ids := make([]int, trials)
	cx := make([]float64, trials*d) // the candidates' rows
	dots := make([]float64, n*trials)
	xr := x.RawMatrix()
	for c := 1; c < k; c++ {
		acc := 0.0
		for i := range cum {
			acc += w[i] * closest[i]
			cum[i] = acc
		}
		for t := 0; t < trials; t++ {
			ids[t] = searchSorted(cum, rng.Float64()*pot)
			copy(cx[t*d:(t+1)*d], x.RawRowView(ids[t]))
		}
		// one pass over x for all candidates: dots = x · candidatesᵀ
		blas64.Implementation().Dgemm(blas.NoTrans, blas.Trans, n, trials, d, 1, xr.Data, xr.Stride, cx, d, 0, dots, trials)
		bestT, bestPot := -1, math.Inf(1)
		for t := 0; t < trials; t++ {
			ct, nc := cand[t], norms[ids[t]]
			p := 0.0
			for i := range ct {
				v := max(norms[i]+nc-2*dots[i*trials+t], 0)
				if i == ids[t] {
					v = 0
				}
				v = min(v, closest[i])
				ct[i] = v
				p += w[i] * v
			}
			if p < bestPot {
				bestT, bestPot = t, p
			}
		}
		copy(closest, cand[bestT])
		pot = bestPot
		copy(centers.RawRowView(c), x.RawRowView(ids[bestT]))
	}
	return centers
}

func sqDistTo(x *mat.Dense, norms []float64, c int, out []float64) {
	n, d := x.Dims()
	xr := x.RawMatrix()
	blas64.Implementation().Dgemv(blas.NoTrans, n, d, 1, xr.Data, xr.Stride, x.RawRowView(c), 1, 0, out, 1)
	for i := range out {
		v := norms[i] + norms[c] - 2*out[i]
		if v < 0 {
			v = 0
		}
		out[i] = v
	}
	out[c] = 0
}

func sampleWeighted(w []float64, r float64) int {
	acc := 0.0
	for i, v := range w {
		acc += v
		if r < acc {
			return i
		}
	}
	return len(w) - 1
}

// searchSorted is numpy.searchsorted(cum, v) (side left), clipped to the last index.
func searchSorted(cum []float64, v float64) int {
	lo, hi := 0, len(cum)
	for lo < hi {
		m := (lo + hi) / 2
		if cum[m] < v {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return min(lo, len(cum)-1)
}

func sum(v []float64) float64 {
	s := 0.0
	for _, x := range v {
		s += x
	}
	return s
}

func dot(a, b []float64) float64 {
	s := 0.0
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}
