package cluster

import (
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"
)

// MaxWardPoints bounds Ward's input: its cost grows with n² (time; memory is
// linear). Above it, cluster with (mini-batch) k-means.
const MaxWardPoints = 40000

// Merge is one step of an agglomerative clustering, in scipy's linkage
// convention: clusters 0..n-1 are the points, merge i creates cluster n+i.
type Merge struct {
	A, B   int
	Height float64
	Size   float64 // total weight of the new cluster
}

// Linkage is the full merge sequence of n points (n-1 merges, by increasing height).
type Linkage struct {
	N      int
	Merges []Merge
}

// Ward clusters the rows of x bottom-up with Ward's minimum-variance criterion
// using the nearest-neighbour chain algorithm on centroids (O(n²·d) time,
// O(n·d) memory). Weights, when given, are the points' initial sizes (a value
// seen 5 times counts as 5 identical points); nil means 1 each. Heights are
// scipy's: sqrt(2·|A||B|/(|A|+|B|))·‖c_A − c_B‖.
func Ward(x *mat.Dense, w []float64) (Linkage, error) {
	n, d, err := checkData(x, 1, w)
	if err != nil {
		return Linkage{}, err
	}
	if n > MaxWardPoints {
		return Linkage{}, fmt.Errorf("Ward on %d points: more than %d (its cost grows with n²); use k-means", n, MaxWardPoints)
	}
	w = weightsOrOnes(w, n)
	for i, v := range w {
		if v <= 0 {
			return Linkage{}, fmt.Errorf("weight %d is %v: Ward needs positive weights", i, v)
		}
	}
	cent := mat.DenseCopyOf(x).RawMatrix().Data // slot i holds cluster i's centroid
	size := slices.Clone(w)
	active := make([]int, n) // active slots, compacted
	for i := range active {
		active[i] = i
	}
	pos := make([]int, n) // slot -> index in active (-1 when merged away)
	for i := range pos {
		pos[i] = i
	}
	type rawMerge struct {
		a, b int // slots (the merged cluster takes slot b)
		h    float64
		size float64
	}
	raw := make([]rawMerge, 0, n-1)
	chain := make([]int, 0, n)
	nn := newNearest(d)
	nn.norms = make([]float64, n)
	for i := range nn.norms {
		c := cent[i*d : (i+1)*d]
		nn.norms[i] = floats.Dot(c, c)
	}
	for len(active) > 1 {
		if len(chain) == 0 {
			chain = append(chain, active[0])
		}
		a := chain[len(chain)-1]
		prev := -1
		if len(chain) > 1 {
			prev = chain[len(chain)-2]
		}
		b, dist := nn.find(cent, size, active, a, prev)
		if b != prev {
			chain = append(chain, b)
			continue
		}
		chain = chain[:len(chain)-2]
		// merge a into b's slot
		sa, sb := size[a], size[b]
		ca, cb := cent[a*d:(a+1)*d], cent[b*d:(b+1)*d]
		for j := range cb {
			cb[j] = (sa*ca[j] + sb*cb[j]) / (sa + sb)
		}
		size[b] = sa + sb
		nn.norms[b] = floats.Dot(cb, cb)
		raw = append(raw, rawMerge{a: a, b: b, h: math.Sqrt(2 * dist), size: sa + sb})
		// remove a from active
		i := pos[a]
		last := active[len(active)-1]
		active[i] = last
		pos[last] = i
		active = active[:len(active)-1]
		pos[a] = -1
	}
	// Sort by height (stable) and relabel as scipy does.
	order := make([]int, len(raw))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(i, j int) int {
		switch {
		case raw[i].h < raw[j].h:
			return -1
		case raw[i].h > raw[j].h:
			return 1
		}
		return 0
	})
	uf := newUnionFind(n)
	out := Linkage{N: n, Merges: make([]Merge, 0, len(raw))}
	for _, r := range order {
		m := raw[r]
		ia, ib := uf.label(m.a), uf.label(m.b)
		if ia > ib {
			ia, ib = ib, ia
		}
		uf.union(m.a, m.b, n+len(out.Merges))
		out.Merges = append(out.Merges, Merge{A: ia, B: ib, Height: m.h, Size: m.size})
	}
	return out, nil
}

// nearest finds, for slot a, the active slot minimising the half squared Ward
// distance |A||B|/(|A|+|B|)·‖c_A − c_B‖²; ties go to prev (which keeps the
// chain from cycling), then to the lowest slot.
type nearest struct {
	d     int
	norms []float64 // squared norms of the centroids, by slot
}

func newNearest(d int) *nearest { return &nearest{d: d} }

func (nn *nearest) find(cent, size []float64, active []int, a, prev int) (int, float64) {
	d := nn.d
	ca := cent[a*d : (a+1)*d]
	sa := size[a]
	type best struct {
		slot int
		v    float64
	}
	scan := func(lo, hi int) best {
		b := best{-1, math.Inf(1)}
		for _, s := range active[lo:hi] {
			if s == a {
				continue
			}
			// ‖a−b‖² = ‖a‖² + ‖b‖² − 2a·b with an assembly dot product; recomputed
			// from the differences when small, where the expansion loses precision
			q := nn.norms[a] + nn.norms[s] - 2*floats.Dot(ca, cent[s*d:(s+1)*d])
			if q < 1e-6*(nn.norms[a]+nn.norms[s]) {
				q = 0
				for j, v := range ca {
					t := v - cent[s*d+j]
					q += t * t
				}
			}
			v := sa * size[s] / (sa + size[s]) * q
			if v < b.v || (v == b.v && better(s, b.slot, prev)) {
				b = best{s, v}
			}
		}
		return b
	}
	n := len(active)
	workers := runtime.GOMAXPROCS(0)
	if n*d < 1<<16 || workers == 1 {
		r := scan(0, n)
		return r.slot, r.v
	}
	parts := make([]best, workers)
	var wg sync.WaitGroup
	for p := 0; p < workers; p++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			parts[p] = scan(p*n/workers, (p+1)*n/workers)
		}()
	}
	wg.Wait()
	r := best{-1, math.Inf(1)}
	for _, p := range parts {
		if p.slot >= 0 && (p.v < r.v || (p.v == r.v && better(p.slot, r.slot, prev))) {
			r = p
		}
	}
	return r.slot, r.v
}

func better(s, cur, prev int) bool {
	if cur < 0 {
		return true
	}
	if cur == prev {
		return false
	}
	return s == prev || s < cur
}

type unionFind struct {
	parent []int
	lab    []int // label of the set whose root is i
}

func newUnionFind(n int) *unionFind {
	u := &unionFind{parent: make([]int, n), lab: make([]int, n)}
	for i := range u.parent {
		u.parent[i] = i
		u.lab[i] = i
	}
	return u
}

func (u *unionFind) find(i int) int {
	for u.parent[i] != i {
		u.parent[i] = u.parent[u.parent[i]]
		i = u.parent[i]
	}
	return i
}

func (u *unionFind) label(i int) int { return u.lab[u.find(i)] }

func (u *unionFind) union(a, b, label int) {
	ra, rb := u.find(a), u.find(b)
	u.parent[ra] = rb
	u.lab[rb] = label
}

// Cut labels the points with the k clusters left after the first n-k merges
// (scipy's fcluster(Z, k, "maxclust") for a monotonic linkage). Labels are
// 0..k-1 in order of each cluster's first point.
func (l Linkage) Cut(k int) []int {
	n := l.N
	k = max(1, min(k, n))
	uf := newUnionFind(n)
	for i := 0; i < n-k; i++ {
		m := l.Merges[i]
		// A and B are cluster ids; find a point of each.
		uf.union(l.point(m.A), l.point(m.B), 0)
	}
	labels := make([]int, n)
	ids := map[int]int{}
	for i := range labels {
		r := uf.find(i)
		id, ok := ids[r]
		if !ok {
			id = len(ids)
			ids[r] = id
		}
		labels[i] = id
	}
	return labels
}

// point returns one point of cluster id.
func (l Linkage) point(id int) int {
	for id >= l.N {
		id = l.Merges[id-l.N].A
	}
	return id
}
