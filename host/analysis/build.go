package analysis

import (
	"cmp"
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

// values returns conversation i's values on the axis, and whether the axis
// is defined for it (a field whose stage did not finish, a missing key: not).
// Items go through the mapper (unplaced counts those it rejects); a
// classifier's labels, a closed set, are taken as they are.
func (a Axis) values(r *Run, i int, m Mapper, buf []string) (vals []string, defined bool, unplaced int) {
	buf = buf[:0]
	switch a.Kind {
	case AxisSource:
		return append(buf, r.Conversations[i].Source), true, 0
	case AxisMeta:
		v, ok := r.Conversations[i].Meta[a.Name]
		if !ok {
			return buf, false, 0
		}
		return append(buf, v), true, 0
	}
	f := a.field
	if !f.Done[i] {
		return buf, false, 0
	}
	d := newDistinct(len(f.Items[i]))
	for _, it := range f.Items[i] {
		node, ok := it.Value, true
		if !f.Label {
			node, ok = m.Node(f.Name, it.Value)
		}
		if !ok {
			unplaced++
			continue
		}
		buf = d.add(buf, node)
	}
	return buf, true, unplaced
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
func BuildTable(r *Run, rows, cols Axis, m Mapper) (*Table, Input, error) {
	if m == nil {
		m = Normalized{}
	}
	var in Input
	in.Conversations = len(r.Conversations)
	rowIdx, colIdx := map[string]int32{}, map[string]int32{}
	var rowLabels, colLabels []string
	type pair struct {
		conv     int32
		row, col int32
	}
	var pairs []pair
	var rb, cb []string
	for i := range r.Conversations {
		rv, rok, ru := rows.values(r, i, m, rb)
		cv, cok, cu := cols.values(r, i, m, cb)
		rb, cb = rv, cv
		in.Unplaced += ru + cu
		if !rok {
			in.NoRows++
			continue
		}
		if !cok {
			in.NoContext++
			continue
		}
		if len(rv) == 0 || len(cv) == 0 {
			continue
		}
		in.InTable++
		for _, c := range cv {
			cj, ok := colIdx[c]
			if !ok {
				cj = int32(len(colLabels))
				colIdx[c] = cj
				colLabels = append(colLabels, c)
			}
			for _, v := range rv {
				ri, ok := rowIdx[v]
				if !ok {
					ri = int32(len(rowLabels))
					rowIdx[v] = ri
					rowLabels = append(rowLabels, v)
				}
				pairs = append(pairs, pair{int32(i), ri, cj})
			}
		}
	}
	R, C := len(rowLabels), len(colLabels)
	// Distinct conversations per row and column.
	rowConv, colConv := make([]float64, R), make([]float64, C)
	{
		slices.SortFunc(pairs, func(a, b pair) int {
			if c := cmp.Compare(a.conv, b.conv); c != 0 {
				return c
			}
			if c := cmp.Compare(a.row, b.row); c != 0 {
				return c
			}
			return cmp.Compare(a.col, b.col)
		})
		seenRow := make([]int32, R)
		seenCol := make([]int32, C)
		for _, p := range pairs {
			if seenRow[p.row] != p.conv+1 {
				rowConv[p.row]++
				seenRow[p.row] = p.conv + 1
			}
			if seenCol[p.col] != p.conv+1 {
				colConv[p.col]++
				seenCol[p.col] = p.conv + 1
			}
		}
	}
	// Order: rows by conversations then label; columns by label.
	rowOrder := make([]int32, R)
	for i := range rowOrder {
		rowOrder[i] = int32(i)
	}
	slices.SortFunc(rowOrder, func(a, b int32) int {
		if c := cmp.Compare(rowConv[b], rowConv[a]); c != 0 {
			return c
		}
		return strings.Compare(rowLabels[a], rowLabels[b])
	})
	colOrder := make([]int32, C)
	for j := range colOrder {
		colOrder[j] = int32(j)
	}
	slices.SortFunc(colOrder, func(a, b int32) int { return strings.Compare(colLabels[a], colLabels[b]) })
	rowNew, colNew := make([]int32, R), make([]int32, C)
	t := &Table{Rows: make([]string, R), Cols: make([]string, C),
		RowConversations: make([]float64, R), ColConversations: make([]float64, C)}
	for k, i := range rowOrder {
		rowNew[i] = int32(k)
		t.Rows[k], t.RowConversations[k] = rowLabels[i], rowConv[i]
	}
	for k, j := range colOrder {
		colNew[j] = int32(k)
		t.Cols[k], t.ColConversations[k] = colLabels[j], colConv[j]
	}
	cells := make([]Cell, 0, len(pairs)/2+1)
	for _, p := range pairs {
		cells = append(cells, Cell{Row: rowNew[p.row], Col: colNew[p.col], Count: 1, Users: -1})
	}
	users := r.Users()
	var cellUsers map[[2]int32]int32
	if users {
		cellUsers, t.RowUsers, t.ColUsers = countUsers(r, pairsOf(pairs, func(p pair) (int32, int32, int32) {
			return p.conv, rowNew[p.row], colNew[p.col]
		}), R, C)
	}
	nt, err := NewTable(t.Rows, t.Cols, cells)
	if err != nil {
		return nil, in, err
	}
	nt.RowConversations, nt.ColConversations = t.RowConversations, t.ColConversations
	nt.RowUsers, nt.ColUsers = t.RowUsers, t.ColUsers
	if users {
		for k := range nt.cells {
			c := &nt.cells[k]
			c.Users = cellUsers[[2]int32{c.Row, c.Col}]
		}
	}
	return nt, in, nil
}

type triple struct{ conv, row, col int32 }

func pairsOf[P any](ps []P, f func(P) (int32, int32, int32)) []triple {
	out := make([]triple, len(ps))
	for k, p := range ps {
		out[k].conv, out[k].row, out[k].col = f(p)
	}
	return out
}

// countUsers counts distinct users per cell, row and column. Conversations
// without a user count for no user (the conservative side of the floor).
func countUsers(r *Run, ts []triple, R, C int) (map[[2]int32]int32, []float64, []float64) {
	ids := map[string]int32{}
	uid := func(conv int32) int32 {
		u := r.Conversations[conv].User
		if u == "" {
			return -1
		}
		id, ok := ids[u]
		if !ok {
			id = int32(len(ids))
			ids[u] = id
		}
		return id
	}
	type cu struct{ row, col, user int32 }
	var xs []cu
	for _, t := range ts {
		if u := uid(t.conv); u >= 0 {
			xs = append(xs, cu{t.row, t.col, u})
		}
	}
	cells := map[[2]int32]int32{}
	slices.SortFunc(xs, func(a, b cu) int {
		if c := cmp.Compare(a.row, b.row); c != 0 {
			return c
		}
		if c := cmp.Compare(a.col, b.col); c != 0 {
			return c
		}
		return cmp.Compare(a.user, b.user)
	})
	xs = slices.Compact(xs)
	for _, x := range xs {
		cells[[2]int32{x.row, x.col}]++
	}
	distinct := func(key func(cu) int32, n int) []float64 {
		type ku struct{ k, u int32 }
		var ys []ku
		for _, x := range xs {
			ys = append(ys, ku{key(x), x.user})
		}
		slices.SortFunc(ys, func(a, b ku) int {
			if c := cmp.Compare(a.k, b.k); c != 0 {
				return c
			}
			return cmp.Compare(a.u, b.u)
		})
		out := make([]float64, n)
		for _, y := range slices.Compact(ys) {
			out[y.k]++
		}
		return out
	}
	return cells, distinct(func(x cu) int32 { return x.row }, R), distinct(func(x cu) int32 { return x.col }, C)
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
		distinct := map[string]bool{}
		have := 0
		for _, c := range r.Conversations {
			if v, ok := c.Meta[k]; ok {
				have++
				distinct[v] = true
				if len(distinct) > 100 {
					break
				}
			}
		}
		if len(distinct) >= 2 && len(distinct) <= 100 && 2*len(distinct) <= have {
			contexts = append(contexts, "meta."+k)
		}
	}
	sources := map[string]bool{}
	for _, c := range r.Conversations {
		sources[c.Source] = true
	}
	if len(sources) > 1 {
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
