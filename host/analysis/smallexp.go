package analysis

import (
	"fmt"
	"slices"
	"sort"
)

// SmallExpected counts the tested cells whose expected count is small: the
// cells of the non-empty rows and columns (zero cells included), where the
// chi-square statistic and the normal approximation behind a cell's
// residual p-value are least to be trusted. R's chisq.test warns
// "Chi-squared approximation may be incorrect" when any of them has an
// expected count under 5; [SmallExpected.Warn] says the same.
//
// Under a privacy floor the counts are of the reported rows and columns
// only (ReportedOnly): over the whole table they would say how many
// suppressed rows have totals under n/c_j for each column j — with a
// large column, how many suppressed values were seen once — which with
// the suppressed total can give a suppressed row's count away.
type SmallExpected struct {
	// Warning: R's chisq.test warns on the whole table (without its empty
	// rows and columns). A row under the conversations floor has expected
	// counts under 5, so this says nothing the floor's own counts do not.
	Warning bool `json:"warning"`
	// ReportedOnly: the counts are of the reported rows and columns.
	ReportedOnly bool `json:"reported_only"`
	// Cells is the number of counted cells: non-empty (reported) rows ×
	// non-empty (reported) columns.
	Cells int64 `json:"cells"`
	// Below5 and Below1 are the cells of expected count < 5 and < 1, and
	// Share5 and Share1 their shares of Cells (0 when there are none).
	Below5 int64   `json:"below_5"`
	Below1 int64   `json:"below_1"`
	Share5 float64 `json:"share_below_5"`
	Share1 float64 `json:"share_below_1"`
}

// Warn reports whether R's chisq.test would warn on the table without its
// empty rows and columns: some tested cell has an expected count under 5.
func (s SmallExpected) Warn() bool { return s.Warning }

// String is the warning, or "" when there is none.
func (s SmallExpected) String() string {
	if !s.Warn() {
		return ""
	}
	which := "tested"
	if s.ReportedOnly {
		which = "reported"
	}
	return fmt.Sprintf("warning: chi-squared approximation may be incorrect: %d of %d %s cells (%.1f%%) have expected count < 5, %d (%.1f%%) < 1",
		s.Below5, s.Cells, which, 100*s.Share5, s.Below1, 100*s.Share1)
}

// smallExpected counts the small expected counts without visiting every
// cell: E_ij = r_i c_j / n < b exactly when r_i < b n / c_j, so with the
// non-empty row sums sorted each column takes one binary search per bound.
// The comparison is made on E_ij as computed (r_i c_j / n), as R computes
// it, by searching on the sorted sums with that very expression.
func (r *Result) smallExpected() SmallExpected {
	whole := r.countSmall(false)
	if r.opts.Floor.Off(r.users) {
		return whole
	}
	s := r.countSmall(true)
	s.Warning, s.ReportedOnly = whole.Warning, true
	return s
}

// countSmall counts over the non-empty rows and columns, only the reported
// ones when reported is set. Warning is set from the whole count.
func (r *Result) countSmall(reported bool) SmallExpected {
	var rows []float64
	for i, v := range r.rowSum {
		if v > 0 && (!reported || r.rowPass[i]) {
			rows = append(rows, v)
		}
	}
	slices.Sort(rows)
	var s SmallExpected
	if r.Rows-r.EmptyRows < 2 || r.Cols-r.EmptyCols < 2 {
		return s // no test
	}
	for j, cj := range r.colSum {
		if cj == 0 || (reported && !r.colPass[j]) {
			continue
		}
		s.Cells += int64(len(rows))
		// E is increasing in r_i: the first row with E >= b ends the small ones.
		s.Below5 += int64(sort.Search(len(rows), func(k int) bool { return rows[k]*cj/r.n >= 5 }))
		s.Below1 += int64(sort.Search(len(rows), func(k int) bool { return rows[k]*cj/r.n >= 1 }))
	}
	if s.Cells > 0 {
		s.Share5 = float64(s.Below5) / float64(s.Cells)
		s.Share1 = float64(s.Below1) / float64(s.Cells)
	}
	s.Warning = s.Below5 > 0
	return s
}
