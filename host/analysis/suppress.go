package analysis

import (
	"cmp"
	"maps"
	"slices"

	"github.com/valuescope/valuescope/host/privacy"
)

// complement decides which non-zero cells are published, after the floor
// has decided the rows and columns (r.rowPass, r.colPass): the cells that
// pass the floor, less complementary suppressions, so that no cell under
// the floor can be derived from what the table's files publish together.
//
// What is published, and so assumed known to an attacker: every shown
// cell's count, expected value, residual and p-value; the totals of the
// reported rows and columns (they follow from any shown cell's expected
// value, E·n/c_j, and the report gives them as value_counts); the table's
// n, hence the total of the rows and of the columns not reported; and which
// cells are zero (a worst case: zero cells are not published either, so a
// blank no longer marks exactly the cells of counts 1 to 4). The rows and
// columns not reported are one "other" row and column whose cells are never
// published. Against that, privacy.Complement applies linked cell
// suppression (Cox 1980; Hundepool et al., Statistical Disclosure Control,
// Wiley 2012, ch. 4): every hidden cell under the floor lies on a cycle of
// hidden non-zero cells, so that no linear combination of the margins and
// the shown cells gives its count, and, its cycle's cells being at least 1,
// neither do the bounds counts ≥ 0. A cell that cannot be put on a cycle
// (its row has no other cell that can be hidden) is protected by
// withholding its row.
//
// Suppressed then counts every non-zero cell not published, complementary
// suppressions included: their sum follows from the margins anyway, while
// the sum of the cells under the floor alone would be one more equation.
func (r *Result) complement() {
	t := r.t
	r.Suppressed.Rows += secondLine(r.rowPass, r.rowSum)
	r.Suppressed.Cols += secondLine(r.colPass, r.colSum)
	r.shown = make([]bool, len(t.cells))
	primary := false
	for k, c := range t.cells {
		r.shown[k] = r.cellPass(c)
		primary = primary || (!r.shown[k] && r.rowPass[c.Row] && r.colPass[c.Col])
	}
	if primary {
		r.linked()
	}
	r.Suppressed.Cells, r.Suppressed.Count = 0, 0
	for k, c := range t.cells {
		if !r.shown[k] {
			r.Suppressed.Cells++
			r.Suppressed.Count += c.Count
		}
	}
}

// zerosShown reports whether zero cells are published: only when the floor
// is off, so that nothing is suppressed whose place a zero's residual could
// mark (then the residuals are R's chisq.test()$stdres, every cell).
func (r *Result) zerosShown() bool { return r.opts.Floor.Off(r.users) }

// linked applies privacy.Complement to the reported rows and columns,
// withholding the rows of cells it cannot protect, until it can protect
// every one.
func (r *Result) linked() {
	t := r.t
	for {
		// The table as published: reported rows and columns, then the
		// other row and column.
		rowAt := make([]int, len(t.Rows))
		R := 0
		for i := range t.Rows {
			rowAt[i] = -1
			if r.rowPass[i] && r.rowSum[i] > 0 {
				rowAt[i] = R
				R++
			}
		}
		colAt := make([]int, len(t.Cols))
		C := 0
		for j := range t.Cols {
			colAt[j] = -1
			if r.colPass[j] && r.colSum[j] > 0 {
				colAt[j] = C
				C++
			}
		}
		var cells []privacy.Cell
		var ref []int // the table cell of each named cell; -1 for aggregates
		agg := map[[2]int]float64{}
		for k, c := range t.cells {
			i, j := rowAt[c.Row], colAt[c.Col]
			if i < 0 || j < 0 {
				if i < 0 {
					i = R
				}
				if j < 0 {
					j = C
				}
				agg[[2]int{i, j}] += c.Count
				continue
			}
			hidden := !r.cellPass(c)
			cells = append(cells, privacy.Cell{Row: i, Col: j, Count: c.Count, Hidden: hidden, Protect: hidden})
			ref = append(ref, k)
		}
		keys := slices.SortedFunc(maps.Keys(agg), func(a, b [2]int) int {
			return cmp.Or(cmp.Compare(a[0], b[0]), cmp.Compare(a[1], b[1]))
		})
		for _, at := range keys {
			if n := agg[at]; n > 0 {
				cells = append(cells, privacy.Cell{Row: at[0], Col: at[1], Count: n, Hidden: true, Fixed: true})
				ref = append(ref, -1)
			}
		}
		extra, unprotectable, err := privacy.Complement(R+1, C+1, cells)
		if err != nil {
			// Cannot happen (the cells are in range); publish no cell
			// rather than one that may be derived.
			clear(r.shown)
			return
		}
		if len(unprotectable) == 0 {
			for _, x := range extra {
				r.shown[ref[x]] = false
			}
			return
		}
		for _, x := range unprotectable {
			row := t.cells[ref[x]].Row
			if r.rowPass[row] {
				r.rowPass[row] = false
				r.Suppressed.Rows++
			}
		}
		for k, c := range t.cells {
			r.shown[k] = r.cellPass(c)
		}
	}
}

// secondLine withholds a second line (row or column) when the floor
// withheld exactly one that has counts, returning 1 if it did. The lines not
// reported are one "other" line whose cells follow from the margins (a
// column's total less its reported cells); with one line in it, they would
// be that line's own counts, value by value, and its total the line's. With
// two, they are sums over two lines. The line withheld is the reported one
// with the smallest total (ties: the last), which costs the least.
func secondLine(pass []bool, sum []float64) int {
	hidden, pick := 0, -1
	for i := range pass {
		switch {
		case sum[i] <= 0:
		case !pass[i]:
			hidden++
		case pick < 0 || sum[i] <= sum[pick]:
			pick = i
		}
	}
	if hidden != 1 || pick < 0 {
		return 0
	}
	pass[pick] = false
	return 1
}
