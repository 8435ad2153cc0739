package cluster

import (
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
)

// TestElkanBoundsCap checks the cap on Elkan's n·k bounds: over it, every
// iteration computes all distances, and the clustering is the same.
func TestElkanBoundsCap(t *testing.T) {
	x := blobs(1200, 8, 15, 11)
	init := KMeansPlusPlus(x, 30, nil, nil, rand.New(rand.NewPCG(1, 2)), 0)
	bounded, err := KMeans(x, KMeansOptions{K: 30, Init: init})
	if err != nil {
		t.Fatal(err)
	}
	defer func(m int) { maxBounds = m }(maxBounds)
	maxBounds = 1200*30 - 1
	if e := newElkan(1200, 30, nil, 1); e.lb != nil {
		t.Fatalf("%d bounds allocated over the cap of %d", len(e.lb), maxBounds)
	}
	full, err := KMeans(x, KMeansOptions{K: 30, Init: init})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(bounded.Labels, full.Labels) || bounded.Iter != full.Iter {
		t.Errorf("with bounds: %d iterations, without: %d; labels equal: %v", bounded.Iter, full.Iter, slices.Equal(bounded.Labels, full.Labels))
	}
	if d := bounded.Inertia - full.Inertia; d > 1e-9*full.Inertia || d < -1e-9*full.Inertia {
		t.Errorf("inertia %.12g with bounds, %.12g without", bounded.Inertia, full.Inertia)
	}
}

// TestKMeansRestartsDeterministic checks that restarts run side by side give
// the result of one core.
func TestKMeansRestartsDeterministic(t *testing.T) {
	x := blobs(900, 6, 12, 5)
	run := func(procs int) Result {
		defer setProcs(setProcs(procs))
		r, err := KMeans(x, KMeansOptions{K: 20, Restarts: 5, Seed: 9})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	one, many := run(1), run(4)
	if !slices.Equal(one.Labels, many.Labels) || one.Inertia != many.Inertia {
		t.Errorf("1 core: inertia %.12g; 4: %.12g", one.Inertia, many.Inertia)
	}
}

func setProcs(n int) int { return runtime.GOMAXPROCS(n) }
