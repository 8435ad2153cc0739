package compare

import "testing"

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
