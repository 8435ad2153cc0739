package cluster

import (
	"math"
	"math/rand/v2"
	"runtime"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
	"gonum.org/v1/gonum/mat"
)

// MiniBatchOptions configure MiniBatchKMeans.
type MiniBatchOptions struct {
	K int
	// BatchSize is the number of points per step (default 1024, as scikit-learn).
	BatchSize int
	// MaxEpochs bounds the steps to MaxEpochs passes' worth of points (default 20).
	MaxEpochs int
	// MaxNoImprovement stops after this many steps without improvement of the
	// smoothed batch inertia (default 10, as scikit-learn).
	MaxNoImprovement int
	// InitSize is the number of points k-means++ seeds from (default
	// max(3*BatchSize, 3*K), at most n).
	InitSize int
	// Refine is the number of full Lloyd passes after the mini-batches
	// (default 1; a negative value means none).
	Refine int
	// Restarts is the number of k-means++ initialisations tried; the one with
	// the lowest inertia on a validation sample is kept (default 3, as
	// scikit-learn's n_init).
	Restarts int
	Seed     uint64
	// Weights are sample weights (nil: all 1).
	Weights []float64
}

// MiniBatchKMeans clusters the rows of x with mini-batch k-means (Sculley
// 2010, as in scikit-learn's MiniBatchKMeans): centres seeded by k-means++ on
// a sample, then moved by batches of points with per-centre learning rates,
// centres that attract almost nothing reassigned, stopped when the smoothed
// batch inertia stops improving; then every point is labelled (and, with
// Refine, centres recomputed as exact means). Distances are computed in
// float32 with gonum's Sgemm; the inertia reported is float64.
func MiniBatchKMeans(x *mat.Dense, o MiniBatchOptions) (Result, error) {
	n, d, err := checkData(x, o.K, o.Weights)
	if err != nil {
		return Result{}, err
	}
	w := weightsOrOnes(o.Weights, n)
	k := o.K
	if o.BatchSize <= 0 {
		o.BatchSize = 1024
	}
	o.BatchSize = min(o.BatchSize, n)
	if o.MaxEpochs <= 0 {
		o.MaxEpochs = 20
	}
	if o.MaxNoImprovement <= 0 {
		o.MaxNoImprovement = 10
	}
	if o.InitSize <= 0 {
		o.InitSize = max(3*o.BatchSize, 3*k)
	}
	o.InitSize = min(max(o.InitSize, k), n)
	if o.Refine == 0 {
		o.Refine = 1
	}
	rng := rand.New(rand.NewPCG(o.Seed, 0x6d696e6962617463))

	// Seed on a sample (plain k-means++ when K is large: the greedy trials
	// cost 2+ln K times more for little gain at this stage).
	sample := rng.Perm(n)[:o.InitSize]
	sortInts(sample)
	xs := mat.NewDense(o.InitSize, d, nil)
	ws := make([]float64, o.InitSize)
	for r, i := range sample {
		copy(xs.RawRowView(r), x.RawRowView(i))
		ws[r] = w[i]
	}
	trials := 0
	if k > 256 {
		trials = 1
	}
	if o.Restarts <= 0 {
		o.Restarts = 3
	}
	var init *mat.Dense
	if o.Restarts == 1 {
		init = KMeansPlusPlus(xs, k, ws, nil, rand.New(rand.NewPCG(rng.Uint64(), rng.Uint64())), trials)
	} else {
		valid := mat.NewDense(o.InitSize, d, nil)
		wv := make([]float64, o.InitSize)
		for r := 0; r < o.InitSize; r++ {
			i := rng.IntN(n)
			copy(valid.RawRowView(r), x.RawRowView(i))
			wv[r] = w[i]
		}
		// the restarts side by side, one goroutine each, as KMeans'
		seeds := make([][2]uint64, o.Restarts)
		for r := range seeds {
			seeds[r] = [2]uint64{rng.Uint64(), rng.Uint64()}
		}
		inits := make([]*mat.Dense, o.Restarts)
		scores := make([]float64, o.Restarts)
		ChunksN(o.Restarts, 1, runtime.GOMAXPROCS(0), func() struct{} { return struct{}{} }, func(_ struct{}, r, _ int) {
			inits[r] = KMeansPlusPlus(xs, k, ws, nil, rand.New(rand.NewPCG(seeds[r][0], seeds[r][1])), trials)
			lab := make([]int, o.InitSize)
			dist := make([]float64, o.InitSize)
			assign(valid, inits[r], lab, dist, nil, 1)
			scores[r] = dot(dist, wv)
		})
		best := math.Inf(1)
		for r, in := range scores {
			if in < best {
				best, init = in, inits[r]
			}
		}
	}

	x32 := toF32(x)
	c32 := toF32(init)
	counts := make([]float64, k)
	steps := o.MaxEpochs * ((n + o.BatchSize - 1) / o.BatchSize)
	alpha := float64(o.BatchSize) * 2 / float64(n+1)
	ewa, best := math.NaN(), math.Inf(1)
	noImprove := 0
	batch := make([]int, o.BatchSize)
	xb := make([]float32, o.BatchSize*d)
	lab := make([]int, o.BatchSize)
	dst := make([]float32, o.BatchSize)
	sums := make([]float64, k*d)
	bw := make([]float64, k)
	cnorm := make([]float32, k)
	a := newAssigner32(k, d)
	for step := 0; step < steps; step++ {
		for b := range batch {
			batch[b] = rng.IntN(n)
			copy(xb[b*d:(b+1)*d], x32[batch[b]*d:(batch[b]+1)*d])
		}
		norms32(c32, d, cnorm)
		a.assign(xb, o.BatchSize, c32, cnorm, lab, dst)
		inertia := 0.0
		clear(sums)
		clear(bw)
		for b, i := range batch {
			inertia += w[i] * float64(dst[b])
			l := lab[b]
			bw[l] += w[i]
			row := sums[l*d : (l+1)*d]
			xi := xb[b*d : (b+1)*d]
			for j := range row {
				row[j] += w[i] * float64(xi[j])
			}
		}
		for l := 0; l < k; l++ {
			if bw[l] == 0 {
				continue
			}
			tot := counts[l] + bw[l]
			c := c32[l*d : (l+1)*d]
			s := sums[l*d : (l+1)*d]
			for j := range c {
				c[j] = float32((float64(c[j])*counts[l] + s[j]) / tot)
			}
			counts[l] = tot
		}
		// Reassign centres that attract almost nothing (scikit-learn's
		// reassignment_ratio 0.01), every 10 steps once every centre has had a chance.
		if step%10 == 9 && (step+1)*o.BatchSize >= 2*k {
			maxc := 0.0
			for _, c := range counts {
				maxc = max(maxc, c)
			}
			moved := 0
			minNZ := math.Inf(1)
			for _, c := range counts {
				if c > 0 && c < minNZ {
					minNZ = c
				}
			}
			for l := 0; l < k && moved < o.BatchSize/2; l++ {
				if counts[l] < 0.01*maxc {
					b := rng.IntN(o.BatchSize)
					copy(c32[l*d:(l+1)*d], xb[b*d:(b+1)*d])
					counts[l] = minNZ
					moved++
				}
			}
		}
		inertia /= float64(o.BatchSize)
		if math.IsNaN(ewa) {
			ewa = inertia
		} else {
			ewa = ewa*(1-alpha) + inertia*alpha
		}
		if ewa < best {
			best, noImprove = ewa, 0
		} else if noImprove++; noImprove >= o.MaxNoImprovement {
			break
		}
	}

	labels := make([]int, n)
	dist := make([]float64, n)
	passes := max(o.Refine, 0)
	for p := 0; ; p++ {
		assignAll32(x32, n, d, c32, labels, dist)
		if p >= passes {
			break
		}
		// a Lloyd step: exact means, empty clusters given the farthest points
		cm := means(x, w, labels, k)
		relocateEmpty(x, w, cm, labels, dist)
		for l := 0; l < k; l++ {
			for j, v := range cm.RawRowView(l) {
				c32[l*d+j] = float32(v)
			}
		}
	}
	centers := mat.NewDense(k, d, nil)
	for l := 0; l < k; l++ {
		for j := 0; j < d; j++ {
			centers.Set(l, j, float64(c32[l*d+j]))
		}
	}
	return Result{Labels: labels, Centers: centers, Inertia: Inertia(x, w, centers, labels), Iter: steps}, nil
}

func sortInts(a []int) {
	// insertion-free: counting through a bitmap keeps this O(n) for permutations' prefixes.
	if len(a) == 0 {
		return
	}
	m := 0
	for _, v := range a {
		m = max(m, v)
	}
	seen := make([]bool, m+1)
	for _, v := range a {
		seen[v] = true
	}
	i := 0
	for v, s := range seen {
		if s {
			a[i] = v
			i++
		}
	}
}

func toF32(x *mat.Dense) []float32 {
	n, d := x.Dims()
	out := make([]float32, n*d)
	for i := 0; i < n; i++ {
		for j, v := range x.RawRowView(i) {
			out[i*d+j] = float32(v)
		}
	}
	return out
}

func norms32(c []float32, d int, out []float32) {
	for l := range out {
		s := float32(0)
		for _, v := range c[l*d : (l+1)*d] {
			s += v * v
		}
		out[l] = s
	}
}

type assigner32 struct {
	k, d int
	buf  []float32
}

func newAssigner32(k, d int) *assigner32 { return &assigner32{k: k, d: d} }

// assign labels the m rows of xb with their nearest centre, and stores the
// squared distances (float32, clamped at 0).
func (a *assigner32) assign(xb []float32, m int, c, cn []float32, lab []int, dst []float32) {
	k, d := a.k, a.d
	if len(a.buf) < m*k {
		a.buf = make([]float32, m*k)
	}
	blas32.Implementation().Sgemm(blas.NoTrans, blas.Trans, m, k, d, 1, xb, d, c, d, 0, a.buf, k)
	for r := 0; r < m; r++ {
		row := a.buf[r*k : (r+1)*k]
		bi, bv := 0, float32(math.Inf(1))
		for j, dot := range row {
			if v := cn[j] - 2*dot; v < bv {
				bi, bv = j, v
			}
		}
		xn := float32(0)
		for _, v := range xb[r*d : (r+1)*d] {
			xn += v * v
		}
		lab[r] = bi
		dst[r] = max(bv+xn, 0)
	}
}

// assignAll32 labels every row, in fixed chunks spread over the cores.
func assignAll32(x []float32, n, d int, c []float32, labels []int, dist []float64) {
	k := len(c) / d
	cn := make([]float32, k)
	norms32(c, d, cn)
	const rows = 512
	type scratch struct {
		a   *assigner32
		dst []float32
	}
	Chunks(n, rows, func() scratch { return scratch{newAssigner32(k, d), make([]float32, rows)} }, func(s scratch, lo, hi int) {
		m := hi - lo
		s.a.assign(x[lo*d:hi*d], m, c, cn, labels[lo:hi], s.dst)
		for r := 0; r < m; r++ {
			dist[lo+r] = float64(s.dst[r])
		}
	})
}
