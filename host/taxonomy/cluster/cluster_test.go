package cluster

import (
	"math"
	"runtime"
	"slices"
	"testing"

	"gonum.org/v1/gonum/mat"
)

func TestKMeansDeterministic(t *testing.T) {
	x := blobs(1200, 12, 15, 3)
	run := func() Result {
		r, err := KMeans(x, KMeansOptions{K: 15, Restarts: 3, Seed: 11})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	a := run()
	old := runtime.GOMAXPROCS(1)
	b := run()
	runtime.GOMAXPROCS(old)
	if !slices.Equal(a.Labels, b.Labels) || a.Inertia != b.Inertia {
		t.Error("same seed, different result (1 vs many cores)")
	}
}

// Mini-batch k-means gets close to Lloyd's inertia and leaves no cluster empty.
func TestMiniBatchKMeans(t *testing.T) {
	x := blobs(20000, 16, 40, 8)
	lloyd, err := KMeans(x, KMeansOptions{K: 40, Restarts: 2, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	mb, err := MiniBatchKMeans(x, MiniBatchOptions{K: 40, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if r := mb.Inertia / lloyd.Inertia; r > 1.05 {
		t.Errorf("mini-batch inertia %.1f is %.3f x Lloyd's %.1f", mb.Inertia, r, lloyd.Inertia)
	}
	seen := make([]bool, 40)
	for _, l := range mb.Labels {
		seen[l] = true
	}
	if slices.Contains(seen, false) {
		t.Error("an empty cluster")
	}
	again, _ := MiniBatchKMeans(x, MiniBatchOptions{K: 40, Seed: 1})
	if !slices.Equal(again.Labels, mb.Labels) {
		t.Error("same seed, different result")
	}
}

// A point of weight 2 is two identical points to Ward.
func TestWardWeights(t *testing.T) {
	x := blobs(60, 4, 5, 2)
	w := make([]float64, 60)
	dup := mat.NewDense(90, 4, nil)
	r := 0
	for i := range w {
		w[i] = 1
		copy(dup.RawRowView(r), x.RawRowView(i))
		r++
		if i%2 == 0 {
			w[i] = 2
			copy(dup.RawRowView(r), x.RawRowView(i))
			r++
		}
	}
	a, err := Ward(x, w)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Ward(dup, nil)
	if err != nil {
		t.Fatal(err)
	}
	var hb []float64
	for _, m := range b.Merges {
		if m.Height > 1e-12 {
			hb = append(hb, m.Height)
		}
	}
	if len(hb) != len(a.Merges) {
		t.Fatalf("%d non-zero merges with duplicates, %d with weights", len(hb), len(a.Merges))
	}
	for i, m := range a.Merges {
		if math.Abs(m.Height-hb[i]) > 1e-9*max(1, hb[i]) {
			t.Fatalf("merge %d: height %.12f with weights, %.12f with duplicates", i, m.Height, hb[i])
		}
	}
}

func TestErrors(t *testing.T) {
	x := blobs(10, 2, 2, 1)
	if _, err := KMeans(x, KMeansOptions{K: 11}); err == nil {
		t.Error("k > n: want an error")
	}
	if _, err := KMeans(x, KMeansOptions{K: 2, Weights: []float64{1}}); err == nil {
		t.Error("wrong number of weights: want an error")
	}
	if _, err := Ward(x, []float64{1, 1, 1, 1, 1, 1, 1, 1, 1, -1}); err == nil {
		t.Error("negative weight: want an error")
	}
	if _, err := Compare([]int{1, 2}, []int{1}); err == nil {
		t.Error("labellings of different lengths: want an error")
	}
}

func TestAgreementEdges(t *testing.T) {
	same := []int{0, 0, 1, 1, 2, 2}
	a, _ := Compare(same, same)
	if math.Abs(a.AMI-1) > 1e-12 || a.ARI != 1 || math.Abs(a.NMI-1) > 1e-12 {
		t.Errorf("identical: %+v", a)
	}
	one := []int{0, 0, 0, 0}
	if a, _ := Compare(one, one); a.AMI != 1 || a.ARI != 1 || a.NMI != 1 {
		t.Errorf("one cluster each: %+v", a)
	}
}
