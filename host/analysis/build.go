package analysis

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
)

// Axis kinds: what a table's rows or columns are read from.
const (
	AxisField  = "field"  // an annotation field (labels or items)
	AxisSource = "source" // the dataset file a conversation came from
	AxisMeta   = "meta"   // a conversation metadata key (model, language...)
)

// Axis is a resolved row or column specification.
type Axis struct {
	Spec string `json:"spec"`
	Kind string `json:"kind"`
	// Name is the field's name or the metadata key.
	Name  string `json:"name"`
	field *Field
}

// ResolveAxis reads a row or context specification against a run: "source";
// "meta.KEY" (or "meta:KEY") for a metadata key; "field:NAME" for a field;
// otherwise a field name when the run has that field, else a metadata key.
func (r *Run) ResolveAxis(spec string) (Axis, error) {
	a := Axis{Spec: spec}
	s := strings.TrimSpace(spec)
	switch {
	case s == "":
		return a, fmt.Errorf("empty table axis")
	case s == "source" || s == "dataset":
		a.Kind, a.Name = AxisSource, "source"
		return a, nil
	case strings.HasPrefix(s, "meta.") || strings.HasPrefix(s, "meta:"):
		a.Kind, a.Name = AxisMeta, s[5:]
		if !slices.Contains(r.MetaKeys, a.Name) {
			return a, fmt.Errorf("no conversation in run %s has metadata key %q (keys: %s)", r.Dir, a.Name, strings.Join(r.MetaKeys, ", "))
		}
		return a, nil
	case strings.HasPrefix(s, "field:"):
		f, err := r.Field(s[6:])
		if err != nil {
			return a, err
		}
		a.Kind, a.Name, a.field = AxisField, f.Name, f
		return a, nil
	}
	if f, err := r.Field(s); err == nil {
		a.Kind, a.Name, a.field = AxisField, f.Name, f
		return a, nil
	} else if strings.Contains(err.Error(), "several stages") {
		return a, err
	}
	if slices.Contains(r.MetaKeys, s) {
		a.Kind, a.Name = AxisMeta, s
		return a, nil
	}
	return a, fmt.Errorf("%q is neither a field of run %s (%s) nor a metadata key (%s), nor source",
		spec, r.Dir, strings.Join(r.FieldNames(), ", "), strings.Join(r.MetaKeys, ", "))
}

// values returns c's values on the axis, and whether the axis is defined
// for it (a field whose stage did not finish, a missing key: not). Items go
// through the mapper (unplaced counts those it rejects); a classifier's
// labels, a closed set, are taken as they are.
func (a Axis) values(c *Conv, m *memoMapper, buf []string) (vals []string, defined bool, unplaced int) {
	buf = buf[:0]
	switch a.Kind {
	case AxisSource:
		return append(buf, c.Source), true, 0
	case AxisMeta:
		v, ok := c.Meta[a.Name]
		if !ok {
			return buf, false, 0
		}
		return append(buf, v), true, 0
	}
	f := a.field
	if !c.Done(f) {
		return buf, false, 0
	}
	items := c.Items(f)
	d := newDistinct(len(items))
	for _, it := range items {
		node, ok := it.Value, true
		if !f.Label {
			node, ok = m.node(f.Name, it.Value)
		}
		if !ok {
			unplaced++
			continue
		}
		buf = d.add(buf, node)
	}
	return buf, true, unplaced
}

// memoMapper remembers a mapper's answers: a pass asks for the same few
// thousand values millions of times.
type memoMapper struct {
	m    Mapper
	seen map[[2]string]memoNode
}

type memoNode struct {
	node string
	ok   bool
}

func (m *memoMapper) node(field, value string) (string, bool) {
	k := [2]string{field, value}
	if n, ok := m.seen[k]; ok {
		return n.node, n.ok
	}
	node, ok := m.m.Node(field, value)
	m.seen[k] = memoNode{node, ok}
	return node, ok
}

// Input counts the conversations a table was built from.
type Input struct {
	Conversations int `json:"conversations"`
	// InTable: conversations that contributed to at least one cell.
	InTable int `json:"in_table"`
	// NoRows: the row field was not done for them (filtered out or failed);
	// NoContext: the context was undefined (missing key, stage not done).
	NoRows    int `json:"no_rows"`
	NoContext int `json:"no_context"`
	// Unplaced: values the mapper gave no node.
	Unplaced int `json:"unplaced_values"`
}

// BuildTable counts, for each (value of rows, value of cols) pair, the
// distinct conversations that have both (and, when the run names users, the
// distinct users). Rows are ordered by their conversations (most first),
// then name; columns by name. A nil mapper is Normalized.
//
// It reads the run in one pass (Each), keeping a counter per cell, row and
// column, and the cells of the user being read: memory grows with the
// table, not with the conversations or the (cell, user) pairs.
func BuildTable(ctx context.Context, r *Run, rows, cols Axis, m Mapper) (*Table, Input, error) {
	b := newTableBuilder(r, rows, cols, m)
	if err := r.Each(ctx, b.add); err != nil {
		return nil, b.in, err
	}
	return b.table()
}

// tableBuilder counts one table's cells as the conversations go by.
type tableBuilder struct {
	rows, cols Axis
	m          *memoMapper
	users      bool
	in         Input

	rowIdx, colIdx       map[string]int32
	rowLabels, colLabels []string
	rowConv, colConv     []float64
	rowUsers, colUsers   []float64
	cells                map[[2]int32]*cellCount

	// The user being read, and the cells, rows and columns of theirs.
	user               string
	userCells          map[[2]int32]bool
	userRows, userCols map[int32]bool
	rb, cb, rIdx, cIdx []string
	rowBuf, colBuf     []int32
}

type cellCount struct{ conversations, users float64 }

func newTableBuilder(r *Run, rows, cols Axis, m Mapper) *tableBuilder {
	if m == nil {
		m = Normalized{}
	}
	b := &tableBuilder{rows: rows, cols: cols, m: &memoMapper{m: m, seen: map[[2]string]memoNode{}}, users: r.Users(),
		rowIdx: map[string]int32{}, colIdx: map[string]int32{}, cells: map[[2]int32]*cellCount{},
		userCells: map[[2]int32]bool{}, userRows: map[int32]bool{}, userCols: map[int32]bool{}}
	b.in.Conversations = r.Len()
	return b
}

func (b *tableBuilder) add(c *Conv) error {
	if b.users && c.User != b.user {
		b.flushUser()
		b.user = c.User
	}
	rv, rok, ru := b.rows.values(c, b.m, b.rb)
	cv, cok, cu := b.cols.values(c, b.m, b.cb)
	b.rb, b.cb = rv, cv
	b.in.Unplaced += ru + cu
	if !rok {
		b.in.NoRows++
		return nil
	}
	if !cok {
		b.in.NoContext++
		return nil
	}
	if len(rv) == 0 || len(cv) == 0 {
		return nil
	}
	b.in.InTable++
	// The values are distinct within a conversation: each row, column and
	// cell counts it once.
	b.colBuf = b.colBuf[:0]
	for _, v := range cv {
		j, ok := b.colIdx[v]
		if !ok {
			j = int32(len(b.colLabels))
			b.colIdx[v] = j
			b.colLabels = append(b.colLabels, v)
			b.colConv, b.colUsers = append(b.colConv, 0), append(b.colUsers, 0)
		}
		b.colConv[j]++
		b.colBuf = append(b.colBuf, j)
	}
	b.rowBuf = b.rowBuf[:0]
	for _, v := range rv {
		i, ok := b.rowIdx[v]
		if !ok {
			i = int32(len(b.rowLabels))
			b.rowIdx[v] = i
			b.rowLabels = append(b.rowLabels, v)
			b.rowConv, b.rowUsers = append(b.rowConv, 0), append(b.rowUsers, 0)
		}
		b.rowConv[i]++
		b.rowBuf = append(b.rowBuf, i)
	}
	userKnown := b.users && c.User != ""
	for _, j := range b.colBuf {
		for _, i := range b.rowBuf {
			k := [2]int32{i, j}
			cc := b.cells[k]
			if cc == nil {
				cc = &cellCount{}
				b.cells[k] = cc
			}
			cc.conversations++
			if userKnown {
				b.userCells[k] = true
			}
		}
	}
	if userKnown {
		for _, i := range b.rowBuf {
			b.userRows[i] = true
		}
		for _, j := range b.colBuf {
			b.userCols[j] = true
		}
	}
	return nil
}

// flushUser counts the user just read once in each cell, row and column of
// theirs. Conversations without a user count for no user (the conservative
// side of the floor).
func (b *tableBuilder) flushUser() {
	for k := range b.userCells {
		b.cells[k].users++
	}
	for i := range b.userRows {
		b.rowUsers[i]++
	}
	for j := range b.userCols {
		b.colUsers[j]++
	}
	clear(b.userCells)
	clear(b.userRows)
	clear(b.userCols)
}

// table orders the rows (by conversations, most first, then label) and
// columns (by label) and makes the table.
func (b *tableBuilder) table() (*Table, Input, error) {
	if b.users {
		b.flushUser()
	}
	R, C := len(b.rowLabels), len(b.colLabels)
	rowOrder := make([]int32, R)
	for i := range rowOrder {
		rowOrder[i] = int32(i)
	}
	slices.SortFunc(rowOrder, func(x, y int32) int {
		if c := cmp.Compare(b.rowConv[y], b.rowConv[x]); c != 0 {
			return c
		}
		return strings.Compare(b.rowLabels[x], b.rowLabels[y])
	})
	colOrder := make([]int32, C)
	for j := range colOrder {
		colOrder[j] = int32(j)
	}
	slices.SortFunc(colOrder, func(x, y int32) int { return strings.Compare(b.colLabels[x], b.colLabels[y]) })
	rowNew, colNew := make([]int32, R), make([]int32, C)
	rows, cols := make([]string, R), make([]string, C)
	rowConv, colConv := make([]float64, R), make([]float64, C)
	var rowUsers, colUsers []float64
	if b.users {
		rowUsers, colUsers = make([]float64, R), make([]float64, C)
	}
	for k, i := range rowOrder {
		rowNew[i] = int32(k)
		rows[k], rowConv[k] = b.rowLabels[i], b.rowConv[i]
		if b.users {
			rowUsers[k] = b.rowUsers[i]
		}
	}
	for k, j := range colOrder {
		colNew[j] = int32(k)
		cols[k], colConv[k] = b.colLabels[j], b.colConv[j]
		if b.users {
			colUsers[k] = b.colUsers[j]
		}
	}
	cells := make([]Cell, 0, len(b.cells))
	for k, cc := range b.cells {
		c := Cell{Row: rowNew[k[0]], Col: colNew[k[1]], Count: cc.conversations, Users: -1}
		if b.users {
			c.Users = int32(cc.users)
		}
		cells = append(cells, c)
	}
	t, err := NewTable(rows, cols, cells)
	if err != nil {
		return nil, b.in, err
	}
	t.RowConversations, t.ColConversations = rowConv, colConv
	t.RowUsers, t.ColUsers = rowUsers, colUsers
	return t, b.in, nil
}

// DefaultTables are the tables analysed when none is configured: every
// field against every other label field, every metadata key with 2 to 100
// distinct values and at least two conversations per value on average (not
// identifiers; user keys left out), and the source, when the run has several
// sources.
func DefaultTables(r *Run) []TableSpec {
	var contexts []string
	for _, f := range r.Fields {
		if f.Label {
			contexts = append(contexts, f.Name)
		}
	}
	users := map[string]bool{}
	for _, k := range strings.Split(r.UserKey, ",") {
		users[k] = true
	}
	for _, k := range r.MetaKeys {
		if users[k] {
			continue
		}
		m := r.summary.meta[k]
		if m == nil {
			continue
		}
		if n := len(m.distinct); n >= 2 && n <= maxSummaryValues && 2*n <= m.have {
			contexts = append(contexts, "meta."+k)
		}
	}
	if len(r.summary.sources) > 1 {
		contexts = append(contexts, "source")
	}
	var out []TableSpec
	seen := map[string]bool{}
	for _, f := range r.Fields {
		if seen[f.Name] {
			continue
		}
		seen[f.Name] = true
		for _, c := range contexts {
			if c == f.Name {
				continue
			}
			out = append(out, TableSpec{Name: f.Name + "_by_" + strings.TrimPrefix(c, "meta."), Rows: f.Name, Cols: c})
		}
	}
	return out
}
