package compare

import (
	"cmp"
	"slices"

	"gonum.org/v1/gonum/mat"
)

// treeCell is one cluster of the paper tables: a one-dimensional hierarchy
// whose sums are published (the total of the top level, and each shown
// top-level cluster's count, which its children under it sum to).
type treeCell struct {
	// Parent is the index of the cluster above (-1: a top-level cluster,
	// whose parent is the published total).
	Parent int
	Count  int
	// Hidden: the count is not published; Protect: it must not follow
	// from what is (a cluster under the floor).
	Hidden, Protect bool
}

// treeComplement hides further clusters of a one-dimensional hierarchy so
// that no protected cluster's count follows from the published counts and
// sums by any linear combination: as in a two-way table (privacy.Complement)
// the zero clusters are assumed known to an attacker (a worst case; they are
// blank too), so a sum with exactly one hidden non-zero cluster under it
// gives that cluster away, and so does a hidden cluster whose children are
// all published. Each protected cluster still determined gets the shown
// non-zero cluster of smallest count whose hiding leaves it undetermined
// (the complement the row rule of Cox 1980 picks), or, when no single one
// does, the smallest shown one, until none is determined. It reports false
// when one stays determined with every non-zero cluster hidden: then the
// published total alone gives it, and the tables cannot be published.
func treeComplement(cells []treeCell) bool {
	for {
		x := -1
		for i, c := range cells {
			if c.Protect && c.Hidden && c.Count > 0 && treeDetermined(cells, i) {
				x = i
				break
			}
		}
		if x < 0 {
			return true
		}
		var cand []int
		for i, c := range cells {
			if !c.Hidden && c.Count > 0 {
				cand = append(cand, i)
			}
		}
		if len(cand) == 0 {
			return false
		}
		// Siblings first at equal counts: they protect with no loss above.
		slices.SortStableFunc(cand, func(a, b int) int {
			return cmp.Or(cmp.Compare(cells[a].Count, cells[b].Count),
				cmp.Compare(sib(cells, b, x), sib(cells, a, x)))
		})
		pick := cand[0]
		for _, c := range cand {
			cells[c].Hidden = true
			ok := !treeDetermined(cells, x)
			cells[c].Hidden = false
			if ok {
				pick = c
				break
			}
		}
		cells[pick].Hidden = true
	}
}

func sib(cells []treeCell, a, x int) int {
	if cells[a].Parent == cells[x].Parent {
		return 1
	}
	return 0
}

// treeDetermined reports whether hidden cluster x's count follows from the
// published counts and sums: the unknowns are the hidden non-zero clusters,
// one equation per published sum (the total over the top level, and every
// cluster over its children — a hidden cluster's equation ties unknowns
// together), and x is determined exactly when its column of the equations
// is not in the span of the others' (no solution of the homogeneous system
// moves x).
func treeDetermined(cells []treeCell, x int) bool {
	col := map[int]int{}
	for i, c := range cells {
		if c.Hidden && c.Count > 0 {
			col[i] = len(col)
		}
	}
	if _, ok := col[x]; !ok {
		return false
	}
	// Equations: row 0 the total; row 1+i the sum under cluster i, for the
	// clusters with children.
	hasKids := map[int]bool{}
	for _, c := range cells {
		if c.Parent >= 0 {
			hasKids[c.Parent] = true
		}
	}
	rowOf := map[int]int{-1: 0}
	for i := range cells {
		if hasKids[i] {
			rowOf[i] = len(rowOf)
		}
	}
	a := mat.NewDense(len(rowOf), len(col), nil)
	for i, c := range cells {
		j, ok := col[i]
		if !ok {
			continue
		}
		a.Set(rowOf[c.Parent], j, 1)
		if r, ok := rowOf[i]; ok {
			a.Set(r, j, -1)
		}
	}
	without := mat.NewDense(len(rowOf), max(1, len(col)-1), nil)
	for r := range len(rowOf) {
		k := 0
		for j := range len(col) {
			if j == col[x] {
				continue
			}
			without.Set(r, k, a.At(r, j))
			k++
		}
	}
	return rank(a) > rank(without)
}

func rank(m *mat.Dense) int {
	var svd mat.SVD
	if !svd.Factorize(m, mat.SVDNone) {
		return 0
	}
	return svd.Rank(1e-9)
}
