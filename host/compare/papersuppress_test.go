package compare

import (
	"math"
	"testing"

	"github.com/valuescope/valuescope/host/analysis"
)

// Hostile hierarchies for treeComplement: each protected cluster must end
// undetermined, or the tables refused.
func TestTreeComplement(t *testing.T) {
	for _, c := range []struct {
		name  string
		cells []treeCell
		ok    bool
		// hidden: the clusters expected hidden after
		hidden []int
	}{
		// Top: A=10, B=30; A's children: 4 (protected), 6. Hiding the 6
		// is enough: the 4 and 6 sum to the published 10 but split.
		{"one blank child", []treeCell{{Parent: -1, Count: 10}, {Parent: -1, Count: 30}, {Parent: 0, Count: 4, Hidden: true, Protect: true}, {Parent: 0, Count: 6}, {Parent: 1, Count: 30}}, true, []int{2, 3}},
		// A's only non-zero child is protected (a zero sibling does not
		// hide it): A must go blank, and then a second top-level one.
		{"only child", []treeCell{{Parent: -1, Count: 4}, {Parent: -1, Count: 20}, {Parent: -1, Count: 30}, {Parent: 0, Count: 4, Hidden: true, Protect: true}, {Parent: 0, Count: 0, Hidden: true}, {Parent: 1, Count: 20}, {Parent: 2, Count: 30}}, true, []int{0, 1, 3, 5}},
		// A blank parent whose children are published follows from them.
		{"blank parent", []treeCell{{Parent: -1, Count: 3, Hidden: true, Protect: true}, {Parent: -1, Count: 50}, {Parent: -1, Count: 60}, {Parent: 0, Count: 1}, {Parent: 0, Count: 2}, {Parent: 1, Count: 50}, {Parent: 2, Count: 60}}, true, nil},
		// One top-level cluster: the total gives it.
		{"alone", []treeCell{{Parent: -1, Count: 3, Hidden: true, Protect: true}, {Parent: -1, Hidden: true}}, false, nil},
	} {
		cells := append([]treeCell(nil), c.cells...)
		ok := treeComplement(cells)
		if ok != c.ok {
			t.Errorf("%s: ok %v", c.name, ok)
			continue
		}
		if !ok {
			continue
		}
		for i, x := range cells {
			if x.Protect && treeDetermined(cells, i) {
				t.Errorf("%s: cluster %d still determined: %+v", c.name, i, cells)
			}
		}
		for _, i := range c.hidden {
			if !cells[i].Hidden {
				t.Errorf("%s: cluster %d shown: %+v", c.name, i, cells)
			}
		}
		n := 0
		for _, x := range cells {
			if x.Hidden && x.Count > 0 {
				n++
			}
		}
		if c.hidden != nil && n != len(c.hidden) {
			t.Errorf("%s: %d hidden, want %d: %+v", c.name, n, len(c.hidden), cells)
		}
	}
}

// An observed zero, or a node holding every occurrence, has no interval
// (the normal one is a point); a ratio over one cluster none at all.
func TestRatioIntervalDegenerate(t *testing.T) {
	x := []float64{2, 3, 1, 4}
	for _, c := range []struct {
		name string
		y    map[int]float64
		x    []float64
	}{
		{"zero", map[int]float64{}, x},
		{"all", map[int]float64{0: 2, 1: 3, 2: 1, 3: 4}, x},
		{"one cluster", map[int]float64{0: 1}, []float64{3}},
		{"nothing placed", map[int]float64{}, []float64{0, 0}},
	} {
		_, ci := ratioInterval(c.y, c.x, 0.95)
		if ci != noInterval && !(math.IsNaN(float64(ci.Low)) && math.IsNaN(float64(ci.High))) {
			t.Errorf("%s: interval %+v", c.name, ci)
		}
	}
	if r, ci := ratioInterval(map[int]float64{0: 1, 1: 2}, x, 0.95); float64(r) != 0.3 || !(ci.Low < ci.High) {
		t.Errorf("0.3: %v %+v", r, ci)
	}
}

// Intervals never read as a point, nor as zero at a small lower end.
func TestPercentInterval(t *testing.T) {
	for _, c := range []struct {
		lo, hi float64
		want   string
	}{
		{0.0098, 0.0102, "0.98–1.02%"},
		{0.00026, 0.002, "0.026–0.200%"},
		{0.065, 0.080, "6.5–8.0%"},
		{0.2319, 0.2351, "23.2–23.5%"},
		{0, 0.004, "0.0–0.4%"},
		{0.01, 0.01, "1.0–1.0%"},
		{math.NaN(), 0.1, ""},
	} {
		got := PercentInterval(analysis.Interval{Low: analysis.Number(c.lo), High: analysis.Number(c.hi)}, "–")
		if got != c.want {
			t.Errorf("%v–%v: %q, want %q", c.lo, c.hi, got, c.want)
		}
	}
}
