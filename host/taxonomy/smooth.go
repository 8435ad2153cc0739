package taxonomy

import (
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/mat"

	"github.com/valuescope/valuescope/host/taxonomy/cluster"
)

// smooth moves each unit vector towards the mean of its k nearest neighbours
// (by cosine): x' = normalise((1-alpha)·x + alpha·mean(neighbours)). It makes
// the clusters follow the density of meanings rather than single words. Cost:
// O(n²·d) in blocks through gonum's Dgemm.
func smooth(x *mat.Dense, k int, alpha float64) *mat.Dense {
	n, d := x.Dims()
	k = min(k, n-1)
	if k <= 0 {
		return x
	}
	out := mat.NewDense(n, d, nil)
	xr := x.RawMatrix()
	const rows = 256
	type scratch struct {
		buf, sim []float64
		idx      []int
	}
	newScratch := func() scratch {
		return scratch{buf: make([]float64, rows*n), sim: make([]float64, k), idx: make([]int, k)}
	}
	cluster.Chunks(n, rows, newScratch, func(s scratch, lo, hi int) {
		m := hi - lo
		blas64.Implementation().Dgemm(blas.NoTrans, blas.Trans, m, n, d, 1,
			xr.Data[lo*xr.Stride:], xr.Stride, xr.Data, xr.Stride, 0, s.buf, n)
		for r := 0; r < m; r++ {
			i := lo + r
			topKSim(s.buf[r*n:(r+1)*n], i, s.idx, s.sim)
			dst := out.RawRowView(i)
			for j, v := range x.RawRowView(i) {
				dst[j] = (1 - alpha) * v
			}
			for _, nb := range s.idx {
				for j, v := range x.RawRowView(nb) {
					dst[j] += alpha / float64(k) * v
				}
			}
			normalise(dst)
		}
	})
	return out
}

// topKSim fills idx with the k most similar rows other than self (ties: lower index).
func topKSim(row []float64, self int, idx []int, sim []float64) {
	k := len(idx)
	for j := range idx {
		idx[j], sim[j] = -1, -2
	}
	for j, s := range row {
		if j == self || s <= sim[k-1] {
			continue
		}
		p := k - 1
		for p > 0 && s > sim[p-1] {
			idx[p], sim[p] = idx[p-1], sim[p-1]
			p--
		}
		idx[p], sim[p] = j, s
	}
}
