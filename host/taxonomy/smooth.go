package taxonomy

import (
	"runtime"
	"sync"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/mat"
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
	chunks := (n + rows - 1) / rows
	next := make(chan int, chunks)
	for c := 0; c < chunks; c++ {
		next <- c
	}
	close(next)
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), chunks) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]float64, rows*n)
			idx := make([]int, k)
			sim := make([]float64, k)
			for c := range next {
				lo := c * rows
				m := min(rows, n-lo)
				blas64.Implementation().Dgemm(blas.NoTrans, blas.Trans, m, n, d, 1,
					xr.Data[lo*xr.Stride:], xr.Stride, xr.Data, xr.Stride, 0, buf, n)
				for r := 0; r < m; r++ {
					i := lo + r
					topKSim(buf[r*n:(r+1)*n], i, idx, sim)
					dst := out.RawRowView(i)
					for j, v := range x.RawRowView(i) {
						dst[j] = (1 - alpha) * v
					}
					for _, nb := range idx {
						for j, v := range x.RawRowView(nb) {
							dst[j] += alpha / float64(k) * v
						}
					}
					normalise(dst)
				}
			}
		}()
	}
	wg.Wait()
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
