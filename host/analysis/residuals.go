package analysis

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/valuescope/valuescope/host/privacy"
	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/stat/distuv"
)

// Family says which tests are corrected together.
type Family string

// The families.
const (
	// PerContext: each context (column) is one family of tests, one per
	// value — the paper's setting (each context, 3,307 values).
	PerContext Family = "context"
	// WholeTable: every cell of the table is one family.
	WholeTable Family = "table"
)

// ParseFamily reads a family's name: context (also "column") or table.
func ParseFamily(s string) (Family, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "context", "column", "col":
		return PerContext, nil
	case "table", "all":
		return WholeTable, nil
	}
	return "", fmt.Errorf("unknown test family %q (context or table)", s)
}

// Floor is the privacy floor (package privacy): nothing is reported that
// rests on fewer distinct conversations, or (when the data has users)
// distinct users. Zero disables a bound.
type Floor = privacy.Floor

// Options control an analysis. The zero value is α = 0.05, Bonferroni, one
// family per context of the family's size, top 10, no floor.
type Options struct {
	Alpha      float64
	Correction Correction
	Family     Family
	// Tests is the stated number of tests per family (0: the family's size,
	// the cells with a defined residual). It may not be smaller than a
	// family.
	Tests int
	// Top is how many positive and negative associations are listed per
	// context (0: 10; negative: none).
	Top   int
	Floor Floor
	// Method is the per-cell test ("": DefaultMethod).
	Method Method
	// MonteCarlo is the number of random tables with the observed margins
	// behind the table's Monte Carlo p-value (0: none); Seed seeds them.
	MonteCarlo int
	Seed       uint64
}

func (o *Options) defaults() error {
	if o.Alpha == 0 {
		o.Alpha = 0.05
	}
	if !(o.Alpha > 0 && o.Alpha < 1) {
		return fmt.Errorf("alpha %v is not between 0 and 1", o.Alpha)
	}
	var err error
	if o.Correction, err = ParseCorrection(string(o.Correction)); err != nil {
		return err
	}
	if o.Family, err = ParseFamily(string(o.Family)); err != nil {
		return err
	}
	if o.Tests < 0 {
		return fmt.Errorf("tests %d is negative", o.Tests)
	}
	if o.Method, err = ParseMethod(string(o.Method)); err != nil {
		return err
	}
	if o.MonteCarlo < 0 {
		return fmt.Errorf("monte carlo tables %d is negative", o.MonteCarlo)
	}
	if o.Top == 0 {
		o.Top = 10
	}
	if o.Top < 0 {
		o.Top = 0
	}
	if o.Floor.MinConversations < 0 || o.Floor.MinUsers < 0 {
		return errors.New("the privacy floor takes non-negative numbers")
	}
	return nil
}

// Association is one cell's statistics.
type Association struct {
	Value       string  `json:"value"`
	Context     string  `json:"context"`
	Row         int     `json:"-"`
	Col         int     `json:"-"`
	Count       float64 `json:"count"`
	Expected    Number  `json:"expected"`
	Residual    Number  `json:"residual"`
	P           Number  `json:"p"`
	PAdjusted   Number  `json:"p_adjusted"`
	Significant bool    `json:"significant"`
	// Users behind the cell; -1 when unknown.
	Users int `json:"users,omitempty"`
}

// Context is one context's (column's) part of a result.
type Context struct {
	Context       string  `json:"context"`
	Count         float64 `json:"count"`
	Conversations float64 `json:"conversations"`
	// Significant is the number of reported significant cells.
	Significant int           `json:"significant"`
	Positive    []Association `json:"positive"`
	Negative    []Association `json:"negative"`
}

// Suppressed counts what the privacy floor kept out of a result.
type Suppressed struct {
	Floor Floor `json:"floor"`
	// UsersKnown: the users bound was applied (the data has users).
	UsersKnown bool `json:"users_known"`
	Rows       int  `json:"rows"`
	Cols       int  `json:"cols"`
	// Cells are the non-zero cells not reported, those of suppressed rows
	// and columns included, and Count the sum of their counts.
	Cells int     `json:"cells"`
	Count float64 `json:"count"`
	// Significant is the number of significant cells not reported.
	Significant int `json:"significant"`
}

// String says what was suppressed, in one sentence.
func (s Suppressed) String() string {
	if s.Floor.Off(s.UsersKnown) {
		return "privacy floor: none"
	}
	users := "users unknown (no user field)"
	if s.UsersKnown {
		users = fmt.Sprintf("%d users", s.Floor.MinUsers)
	}
	return fmt.Sprintf("privacy floor (%d conversations, %s): suppressed %d values, %d contexts, %d non-zero cells (total count %s), hiding %d significant associations",
		s.Floor.MinConversations, users, s.Rows, s.Cols, s.Cells, FormatFloat(s.Count), s.Significant)
}

// Summary is the whole-table part of a result.
type Summary struct {
	Rows      int     `json:"rows"`
	Cols      int     `json:"cols"`
	NonZero   int     `json:"non_zero_cells"`
	EmptyRows int     `json:"empty_rows"`
	EmptyCols int     `json:"empty_cols"`
	N         float64 `json:"n"`
	ChiSquare Number  `json:"chi_square"`
	DF        int     `json:"df"`
	P         Number  `json:"p"`
	CramersV  Number  `json:"cramers_v"`
	// SmallExpected counts the tested cells of small expected count; R's
	// chisq.test warns when any is under 5.
	SmallExpected SmallExpected `json:"small_expected"`

	// MonteCarloP is the Monte Carlo p-value of the chi-square statistic
	// over MonteCarlo random tables with the observed margins, as R's
	// chisq.test(simulate.p.value = TRUE, B = MonteCarlo); null when none
	// were drawn.
	MonteCarloP Number `json:"monte_carlo_p"`
	MonteCarlo  int    `json:"monte_carlo,omitempty"`

	// Method is the per-cell test used (exact falls back to normal on a
	// table with a fractional count).
	Method     Method     `json:"method"`
	Alpha      float64    `json:"alpha"`
	Correction Correction `json:"correction"`
	Family     Family     `json:"family"`
	Families   int        `json:"families"`
	// Tests is the number of tests per family: stated, or the largest
	// family's size.
	Tests       int  `json:"tests"`
	TestsStated bool `json:"tests_stated"`
	// BonferroniThreshold is qnorm(1 − α/(2·Tests)): the |residual| a cell
	// needs under Bonferroni.
	BonferroniThreshold Number `json:"bonferroni_threshold"`
	// Threshold is the smallest |residual| found significant under the
	// correction used (null when none is).
	Threshold Number `json:"threshold"`
	// Significant cells reported, positive and negative associations.
	SignificantPositive int        `json:"significant_positive"`
	SignificantNegative int        `json:"significant_negative"`
	Suppressed          Suppressed `json:"suppressed"`
}

// bucket is a distinct (row sum, privacy decision) of the non-empty rows.
type bucket struct {
	total float64
	pass  bool
}

// zgroup is the zero cells of one column whose rows are of one bucket: they
// share one residual and p-value. 16 bytes.
type zgroup struct {
	bucket int32
	w      int32
	padj   float64
}

// Result is an analysed table.
type Result struct {
	Summary
	Contexts []Context

	t        *Table
	opts     Options
	rowSum   []float64
	colSum   []float64
	n        float64
	colStart []int     // cells of column j: t.cells[colStart[j]:colStart[j+1]]
	padj     []float64 // per non-zero cell
	pexact   []float64 // per non-zero cell, under Exact
	zg       []zgroup  // zero groups, by column, each sorted by (total, pass)
	zgStart  []int
	rowPass  []bool
	colPass  []bool
	shown    []bool // per non-zero cell: published (floor, then complement: suppress.go)
	users    bool
	// buckets: distinct (row sum, pass) of non-empty rows, sorted; the rows
	// of each, by index.
	bucketKey  []bucket
	rowBucket  []int32
	bucketRows [][]int32
}

// Table is the analysed table.
func (r *Result) Table() *Table { return r.t }

// Analyze computes the residual analysis of a table.
func Analyze(t *Table, o Options) (*Result, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	R, C := len(t.Rows), len(t.Cols)
	res := &Result{t: t, opts: o, rowSum: make([]float64, R), colSum: make([]float64, C), colStart: make([]int, C+1)}
	for _, c := range t.cells {
		res.rowSum[c.Row] += c.Count
		res.colSum[c.Col] += c.Count
		res.colStart[c.Col+1]++
	}
	for j := 0; j < C; j++ {
		res.colStart[j+1] += res.colStart[j]
	}
	for _, v := range res.colSum {
		res.n += v
	}
	s := &res.Summary
	s.Rows, s.Cols, s.NonZero, s.N = R, C, len(t.cells), res.n
	s.Alpha, s.Correction, s.Family = o.Alpha, o.Correction, o.Family
	if o.Method == Exact && !t.integral() {
		res.opts.Method = Normal
	}
	s.Method = res.opts.Method
	nonEmptyRows, nonEmptyCols := 0, 0
	for _, v := range res.rowSum {
		if v > 0 {
			nonEmptyRows++
		}
	}
	for _, v := range res.colSum {
		if v > 0 {
			nonEmptyCols++
		}
	}
	s.EmptyRows, s.EmptyCols = R-nonEmptyRows, C-nonEmptyCols

	res.floor()
	res.chiSquare(nonEmptyRows, nonEmptyCols)
	s.SmallExpected = res.smallExpected()
	res.monteCarlo()
	if err := res.adjust(); err != nil {
		return nil, err
	}
	res.contexts()
	return res, nil
}

// cellStats is the expected count, residual and p-value of a cell of count o
// in row sum ri and column sum cj, in R's order of operations.
func (r *Result) cellStats(o, ri, cj float64) (e, z, p float64) {
	n := r.n
	e = ri * cj / n
	v := (1 - ri/n) * (1 - cj/n) * e
	z = (o - e) / math.Sqrt(v)
	if ri == 0 || cj == 0 {
		z = math.NaN()
	}
	return e, z, ZPValue(z)
}

func (r *Result) floor() {
	t, f := r.t, r.opts.Floor
	r.users = t.RowUsers != nil && t.ColUsers != nil
	rowConv, colConv := t.RowConversations, t.ColConversations
	if rowConv == nil {
		rowConv = r.rowSum
	}
	if colConv == nil {
		colConv = r.colSum
	}
	var rowUsers, colUsers func(int) float64
	if r.users {
		rowUsers = func(i int) float64 { return t.RowUsers[i] }
		colUsers = func(j int) float64 { return t.ColUsers[j] }
	} else {
		rowUsers = func(int) float64 { return 0 }
		colUsers = rowUsers
	}
	r.rowPass = make([]bool, len(t.Rows))
	for i := range r.rowPass {
		r.rowPass[i] = f.Pass(rowConv[i], rowUsers(i), r.users)
		if !r.rowPass[i] && r.rowSum[i] > 0 {
			r.Suppressed.Rows++
		}
	}
	r.colPass = make([]bool, len(t.Cols))
	for j := range r.colPass {
		r.colPass[j] = f.Pass(colConv[j], colUsers(j), r.users)
		if !r.colPass[j] && r.colSum[j] > 0 {
			r.Suppressed.Cols++
		}
	}
	r.Suppressed.Floor, r.Suppressed.UsersKnown = f, r.users
	r.complement()
}

func (r *Result) cellPass(c Cell) bool {
	f := r.opts.Floor
	// A cell's users are unknown (negative) when the table was built
	// without them; then its row's and column's users bound it.
	return r.rowPass[c.Row] && r.colPass[c.Col] && f.Pass(c.Count, float64(c.Users), r.users && c.Users >= 0)
}

func (r *Result) chiSquare(rows, cols int) {
	s := &r.Summary
	s.DF = max(rows-1, 0) * max(cols-1, 0)
	if rows < 2 || cols < 2 {
		s.ChiSquare, s.P, s.CramersV = Number(math.NaN()), Number(math.NaN()), Number(math.NaN())
		return
	}
	var x2 float64
	for j := range r.colSum {
		cj := r.colSum[j]
		if cj == 0 {
			continue
		}
		rest := r.n // the row sums of the zero cells of the column: n − Σ r_i over its non-zero cells
		for _, c := range r.t.cells[r.colStart[j]:r.colStart[j+1]] {
			e, _, _ := r.cellStats(c.Count, r.rowSum[c.Row], cj)
			d := c.Count - e
			x2 += d * d / e
			rest -= r.rowSum[c.Row]
		}
		x2 += cj * rest / r.n
	}
	s.ChiSquare = Number(x2)
	s.P = Number(distuv.ChiSquared{K: float64(s.DF)}.Survival(x2))
	s.CramersV = Number(math.Sqrt(x2 / (r.n * float64(min(rows, cols)-1))))
}

// adjust computes every test's adjusted p-value, family by family.
func (r *Result) adjust() error {
	t := r.t
	// Buckets of non-empty rows by (row sum, pass).
	type rb struct {
		total float64
		pass  bool
		row   int32
	}
	rows := make([]rb, 0, len(t.Rows)-r.EmptyRows)
	for i, v := range r.rowSum {
		if v > 0 {
			rows = append(rows, rb{v, r.rowPass[i], int32(i)})
		}
	}
	slices.SortFunc(rows, func(a, b rb) int {
		if c := cmp.Compare(a.total, b.total); c != 0 {
			return c
		}
		if a.pass != b.pass {
			if !a.pass {
				return -1
			}
			return 1
		}
		return cmp.Compare(a.row, b.row)
	})
	r.rowBucket = make([]int32, len(t.Rows))
	for i := range r.rowBucket {
		r.rowBucket[i] = -1
	}
	var hist []int64
	for k, x := range rows {
		if k == 0 || x.total != rows[k-1].total || x.pass != rows[k-1].pass {
			r.bucketKey = append(r.bucketKey, bucket{total: x.total, pass: x.pass})
			r.bucketRows = append(r.bucketRows, nil)
			hist = append(hist, 0)
		}
		b := len(hist) - 1
		hist[b]++
		r.rowBucket[x.row] = int32(b)
		r.bucketRows[b] = append(r.bucketRows[b], x.row)
	}

	r.padj = make([]float64, len(t.cells))
	for i := range r.padj {
		r.padj[i] = math.NaN()
	}
	exact := r.opts.Method == Exact
	if exact {
		r.pexact = make([]float64, len(t.cells))
	}
	r.zgStart = make([]int, len(t.Cols)+1)
	r.zg = make([]zgroup, 0, (len(t.Cols)-r.EmptyCols)*len(hist))
	w := make([]int64, len(hist))
	var es []entry
	// untested: the family's zero cells under Exact, which are no test but
	// count in its size as p = 1 (see Exact).
	var untested int64
	var largest int64
	families := 0
	flush := func() error {
		total := untested
		untested = 0
		for _, e := range es {
			total += e.w
		}
		if total == 0 {
			return nil
		}
		families++
		largest = max(largest, total)
		m := total
		if r.opts.Tests > 0 {
			if int64(r.opts.Tests) < total {
				return fmt.Errorf("%d tests stated, but a family has %d (state at least that many, or none)", r.opts.Tests, total)
			}
			m = int64(r.opts.Tests)
		}
		adjustEntries(es, m, r.opts.Correction, func(e entry, adj float64) {
			if e.ref >= 0 {
				r.padj[e.ref] = adj
			} else {
				r.zg[-e.ref-1].padj = adj
			}
		})
		es = es[:0]
		return nil
	}
	for j := range t.Cols {
		cj := r.colSum[j]
		r.zgStart[j] = len(r.zg)
		if cj == 0 {
			continue
		}
		copy(w, hist)
		for k := r.colStart[j]; k < r.colStart[j+1]; k++ {
			c := t.cells[k]
			w[r.rowBucket[c.Row]]--
			_, _, p := r.cellStats(c.Count, r.rowSum[c.Row], cj)
			if exact {
				p = r.exactP(k, p)
			}
			if !math.IsNaN(p) {
				es = append(es, entry{p: p, w: 1, ref: int64(k)})
			}
		}
		for b, n := range w {
			if n == 0 {
				continue
			}
			key := r.bucketKey[b]
			if exact {
				if _, _, p := r.cellStats(0, key.total, cj); !math.IsNaN(p) {
					untested += n
				}
				continue
			}
			_, _, p := r.cellStats(0, key.total, cj)
			if math.IsNaN(p) {
				continue
			}
			r.zg = append(r.zg, zgroup{bucket: int32(b), w: int32(n), padj: math.NaN()})
			es = append(es, entry{p: p, w: n, ref: -int64(len(r.zg))})
		}
		if r.opts.Family == PerContext {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	r.zgStart[len(t.Cols)] = len(r.zg)
	if err := flush(); err != nil {
		return err
	}
	s := &r.Summary
	s.Families = families
	s.Tests = int(largest)
	if r.opts.Tests > 0 {
		s.Tests, s.TestsStated = r.opts.Tests, true
	}
	s.BonferroniThreshold = Number(BonferroniThreshold(r.opts.Alpha, s.Tests))

	// Count significance, and the smallest significant |residual|.
	thr := math.Inf(1)
	alpha := r.opts.Alpha
	for j := range t.Cols {
		cj := r.colSum[j]
		for k := r.colStart[j]; k < r.colStart[j+1]; k++ {
			if !(r.padj[k] <= alpha) {
				continue
			}
			c := t.cells[k]
			_, z, _ := r.cellStats(c.Count, r.rowSum[c.Row], cj)
			thr = math.Min(thr, math.Abs(z))
			switch {
			case !r.shown[k]:
				r.Suppressed.Significant++
			case z > 0:
				s.SignificantPositive++
			default:
				s.SignificantNegative++
			}
		}
		for _, g := range r.zg[r.zgStart[j]:r.zgStart[j+1]] {
			if !(g.padj <= alpha) {
				continue
			}
			key := r.bucketKey[g.bucket]
			_, z, _ := r.cellStats(0, key.total, cj)
			thr = math.Min(thr, math.Abs(z))
			// A zero cell is never reported (it would mark its
			// neighbours: suppress.go), so it is no reported association.
			if !key.pass || !r.colPass[j] {
				r.Suppressed.Significant += int(g.w)
			}
		}
	}
	s.Threshold = Number(math.NaN())
	if !math.IsInf(thr, 1) {
		s.Threshold = Number(thr)
	}
	return nil
}

// cellIndex finds the non-zero cell (i, j).
func (r *Result) cellIndex(i, j int) (int, bool) {
	cs := r.t.cells[r.colStart[j]:r.colStart[j+1]]
	k, ok := slices.BinarySearchFunc(cs, int32(i), func(c Cell, row int32) int { return cmp.Compare(c.Row, row) })
	return r.colStart[j] + k, ok
}

// Cell returns the statistics of any cell, zero or not, reported or not.
func (r *Result) Cell(i, j int) Association {
	a := Association{Value: r.t.Rows[i], Context: r.t.Cols[j], Row: i, Col: j, Users: -1}
	padj := math.NaN()
	k, nonZero := r.cellIndex(i, j)
	if nonZero {
		c := r.t.cells[k]
		a.Count, a.Users, padj = c.Count, int(c.Users), r.padj[k]
	} else if r.rowSum[i] > 0 && r.colSum[j] > 0 {
		if g, ok := r.zeroGroup(i, j); ok {
			padj = g.padj
		}
		if r.users {
			a.Users = 0
		}
	}
	e, z, p := r.cellStats(a.Count, r.rowSum[i], r.colSum[j])
	if nonZero {
		p = r.cellP(k, p)
	} else if r.opts.Method == Exact {
		p = math.NaN() // a zero cell is no exact test
	}
	a.Expected, a.Residual, a.P, a.PAdjusted = Number(e), Number(z), Number(p), Number(padj)
	a.Significant = padj <= r.opts.Alpha
	return a
}

// zeroGroup is the zero group of row i in column j.
func (r *Result) zeroGroup(i, j int) (zgroup, bool) {
	b := r.rowBucket[i]
	if b < 0 {
		return zgroup{}, false
	}
	zs := r.zg[r.zgStart[j]:r.zgStart[j+1]]
	k, ok := slices.BinarySearchFunc(zs, b, func(g zgroup, b int32) int { return cmp.Compare(g.bucket, b) })
	if !ok {
		return zgroup{}, false
	}
	return zs[k], true
}

// Residual is the adjusted residual of cell (i, j) (NaN in an empty row or
// column).
func (r *Result) Residual(i, j int) float64 {
	_, z, _ := r.cellStats(r.t.At(i, j), r.rowSum[i], r.colSum[j])
	return z
}

// Reported reports whether cell (i, j) is published: a non-zero cell that
// passes the privacy floor and is not a complementary suppression. A zero
// cell is published only when the floor is off (see suppress.go).
func (r *Result) Reported(i, j int) bool {
	if !r.rowPass[i] || !r.colPass[j] {
		return false
	}
	if k, ok := r.cellIndex(i, j); ok {
		return r.shown[k]
	}
	return r.zerosShown()
}

// RowReported and ColReported say whether a row or column passes the floor.
func (r *Result) RowReported(i int) bool { return r.rowPass[i] }

// ColReported says whether a column passes the floor.
func (r *Result) ColReported(j int) bool { return r.colPass[j] }

// Residuals returns the dense matrix of adjusted residuals (NaN in empty
// rows and columns), for small tables.
func (r *Result) Residuals() *mat.Dense {
	R, C := len(r.t.Rows), len(r.t.Cols)
	d := mat.NewDense(max(R, 1), max(C, 1), nil)
	for j := 0; j < C; j++ {
		for i := 0; i < R; i++ {
			_, z, _ := r.cellStats(0, r.rowSum[i], r.colSum[j])
			d.Set(i, j, z)
		}
		for _, c := range r.t.cells[r.colStart[j]:r.colStart[j+1]] {
			_, z, _ := r.cellStats(c.Count, r.rowSum[c.Row], r.colSum[j])
			d.Set(int(c.Row), j, z)
		}
	}
	return d
}

// EachReported calls fn for every published cell, column by column: the
// non-zero cells that pass the floor and are not complementary suppressions
// (zero cells are not published: see suppress.go). It stops when fn returns
// false.
func (r *Result) EachReported(fn func(Association) bool) {
	for j := range r.t.Cols {
		if !r.colPass[j] || r.colSum[j] == 0 {
			continue
		}
		for k := r.colStart[j]; k < r.colStart[j+1]; k++ {
			if r.shown[k] && !fn(r.assoc(k, j)) {
				return
			}
		}
	}
}

func (r *Result) assoc(k, j int) Association {
	c := r.t.cells[k]
	e, z, p := r.cellStats(c.Count, r.rowSum[c.Row], r.colSum[j])
	p = r.cellP(k, p)
	return Association{Value: r.t.Rows[c.Row], Context: r.t.Cols[j], Row: int(c.Row), Col: j, Count: c.Count,
		Expected: Number(e), Residual: Number(z), P: Number(p), PAdjusted: Number(r.padj[k]),
		Significant: r.padj[k] <= r.opts.Alpha, Users: int(c.Users)}
}

func (r *Result) zeroAssoc(i, j int, padj float64) Association {
	e, z, p := r.cellStats(0, r.rowSum[i], r.colSum[j])
	users := -1
	if r.users {
		users = 0
	}
	return Association{Value: r.t.Rows[i], Context: r.t.Cols[j], Row: i, Col: j,
		Expected: Number(e), Residual: Number(z), P: Number(p), PAdjusted: Number(padj),
		Significant: padj <= r.opts.Alpha, Users: users}
}

// contexts lists, per reported context, its top positive and negative
// associations among published cells (zero cells are not published).
func (r *Result) contexts() {
	t, top := r.t, r.opts.Top
	colConv := t.ColConversations
	if colConv == nil {
		colConv = r.colSum
	}
	var pos, neg []Association
	for j := range t.Cols {
		if !r.colPass[j] || r.colSum[j] == 0 {
			continue
		}
		ctx := Context{Context: t.Cols[j], Count: r.colSum[j], Conversations: colConv[j]}
		pos, neg = pos[:0], neg[:0]
		for k := r.colStart[j]; k < r.colStart[j+1]; k++ {
			if !r.shown[k] {
				continue
			}
			a := r.assoc(k, j)
			if a.Significant {
				ctx.Significant++
			}
			switch {
			case a.Residual > 0:
				pos = append(pos, a)
			case a.Residual < 0:
				neg = append(neg, a)
			}
		}
		byResidual := func(a, b Association) int {
			if c := cmp.Compare(b.Residual, a.Residual); c != 0 {
				return c
			}
			return strings.Compare(a.Value, b.Value)
		}
		slices.SortFunc(pos, byResidual)
		slices.SortFunc(neg, func(a, b Association) int {
			if c := cmp.Compare(a.Residual, b.Residual); c != 0 {
				return c
			}
			return strings.Compare(a.Value, b.Value)
		})
		ctx.Positive = slices.Clone(pos[:min(top, len(pos))])
		ctx.Negative = slices.Clone(neg[:min(top, len(neg))])
		if ctx.Positive == nil {
			ctx.Positive = []Association{}
		}
		if ctx.Negative == nil {
			ctx.Negative = []Association{}
		}
		r.Contexts = append(r.Contexts, ctx)
	}
}
