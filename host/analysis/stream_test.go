package analysis_test

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/valuescope/valuescope/host/analysis"
	"github.com/valuescope/valuescope/host/analysis/analysistest"
	"github.com/valuescope/valuescope/internal/testruns"
)

// naiveTable counts a table of a run read whole by LoadRun with sets of
// conversations and users per cell, row and column: the plain definition
// the streaming builder must reproduce.
type naiveTable struct {
	cells, cellUsers       map[[2]string]int
	rows, cols             map[string]int
	rowUsers, colUsers     map[string]int
	inTable, noRows, noCtx int
}

func naive(t *testing.T, run *analysis.Run, rowField, colKey string) naiveTable {
	t.Helper()
	f, err := run.Field(rowField)
	if err != nil {
		t.Fatal(err)
	}
	var cf *analysis.Field
	if g, err := run.Field(colKey); err == nil {
		cf = g
	}
	colKey = strings.TrimPrefix(colKey, "meta.")
	type set = map[string]bool
	cellConv, cellUser := map[[2]string]set{}, map[[2]string]set{}
	rowConv, colConv, rowUser, colUser := map[string]set{}, map[string]set{}, map[string]set{}, map[string]set{}
	add := func(m map[string]set, k, v string) {
		if m[k] == nil {
			m[k] = set{}
		}
		m[k][v] = true
	}
	var n naiveTable
	for i, c := range run.Conversations {
		if !f.Done[i] {
			n.noRows++
			continue
		}
		var rv []string
		for _, v := range f.Values(i) {
			node, ok := v, true
			if !f.Label {
				node, ok = analysis.Normalized{}.Node(f.Name, v)
			}
			if ok {
				rv = append(rv, node)
			}
		}
		var cv []string
		if cf != nil {
			if !cf.Done[i] {
				n.noCtx++
				continue
			}
			cv = cf.Values(i)
		} else {
			v, ok := c.Meta[colKey]
			if !ok {
				n.noCtx++
				continue
			}
			cv = []string{v}
		}
		if len(rv) == 0 || len(cv) == 0 {
			continue
		}
		n.inTable++
		conv := fmt.Sprint(i)
		for _, r := range rv {
			add(rowConv, r, conv)
			if c.User != "" {
				add(rowUser, r, c.User)
			}
			for _, col := range cv {
				k := [2]string{r, col}
				if cellConv[k] == nil {
					cellConv[k], cellUser[k] = set{}, set{}
				}
				cellConv[k][conv] = true
				if c.User != "" {
					cellUser[k][c.User] = true
				}
			}
		}
		for _, col := range cv {
			add(colConv, col, conv)
			if c.User != "" {
				add(colUser, col, c.User)
			}
		}
	}
	count := func(m map[string]set) map[string]int {
		out := map[string]int{}
		for k, s := range m {
			out[k] = len(s)
		}
		return out
	}
	n.rows, n.cols, n.rowUsers, n.colUsers = count(rowConv), count(colConv), count(rowUser), count(colUser)
	n.cells, n.cellUsers = map[[2]string]int{}, map[[2]string]int{}
	for k, s := range cellConv {
		n.cells[k], n.cellUsers[k] = len(s), len(cellUser[k])
	}
	return n
}

// fromTable reads a built table back into naiveTable's shape.
func fromTable(tab *analysis.Table, in analysis.Input, users bool) naiveTable {
	n := naiveTable{cells: map[[2]string]int{}, cellUsers: map[[2]string]int{}, rows: map[string]int{}, cols: map[string]int{},
		rowUsers: map[string]int{}, colUsers: map[string]int{}, inTable: in.InTable, noRows: in.NoRows, noCtx: in.NoContext}
	for i, r := range tab.Rows {
		n.rows[r] = int(tab.RowConversations[i])
		if users && tab.RowUsers[i] > 0 {
			n.rowUsers[r] = int(tab.RowUsers[i])
		}
	}
	for _, c := range tab.Cells() {
		k := [2]string{tab.Rows[c.Row], tab.Cols[c.Col]}
		n.cells[k] = int(c.Count)
		n.cellUsers[k] = max(0, int(c.Users))
	}
	for j, c := range tab.Cols {
		n.cols[c] = int(tab.ColConversations[j])
		if users && tab.ColUsers[j] > 0 {
			n.colUsers[c] = int(tab.ColUsers[j])
		}
	}
	return n
}

// buildBoth builds a table from the run read whole and from the run
// streamed, checks they are identical, and compares with the naive count.
func buildBoth(t *testing.T, dir, rowField, col string) {
	t.Helper()
	whole, err := analysis.LoadRun(t.Context(), dir, analysis.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	streamed, err := analysis.OpenRun(t.Context(), dir, analysis.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if streamed.N != len(whole.Conversations) || streamed.UserKey != whole.UserKey ||
		!reflect.DeepEqual(streamed.MetaKeys, whole.MetaKeys) || !reflect.DeepEqual(analysis.DefaultTables(streamed), analysis.DefaultTables(whole)) {
		t.Fatalf("summary: streamed %d conversations, users %q, keys %v; whole %d, %q, %v",
			streamed.N, streamed.UserKey, streamed.MetaKeys, len(whole.Conversations), whole.UserKey, whole.MetaKeys)
	}
	for k, f := range whole.Fields {
		g := streamed.Fields[k]
		if f.Name != g.Name || f.Stage != g.Stage || f.Label != g.Label || f.Annotated != g.Annotated || f.Errors != g.Errors {
			t.Fatalf("field %d: streamed %+v, whole %+v", k, *g, *f)
		}
	}
	var tabs [2]*analysis.Table
	var ins [2]analysis.Input
	for k, run := range []*analysis.Run{whole, streamed} {
		rows, err := run.ResolveAxis("field:" + rowField)
		if err != nil {
			t.Fatal(err)
		}
		cols, err := run.ResolveAxis(col)
		if err != nil {
			t.Fatal(err)
		}
		if tabs[k], ins[k], err = analysis.BuildTable(t.Context(), run, rows, cols, nil); err != nil {
			t.Fatal(err)
		}
	}
	if !reflect.DeepEqual(tabs[0], tabs[1]) || ins[0] != ins[1] {
		t.Fatalf("%s x %s: the streamed table differs from the one of the run read whole", rowField, col)
	}
	got, want := fromTable(tabs[1], ins[1], whole.Users()), naive(t, whole, rowField, col)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s x %s: built %+v\nnaive %+v", rowField, col, got, want)
	}
	if whole.Users() && len(want.cellUsers) == 0 {
		t.Fatal("no user counted: the test checks nothing of users")
	}
}

// Users whose conversations are scattered through the run (the store's seq
// order), conversations without a user, a second user key, repeated and
// unplaceable values, failed stages and missing contexts: the table counted
// in one streamed pass is the one counted with sets over the run held whole.
func TestStreamedTableIsTheWholeRunsTable(t *testing.T) {
	dir := t.TempDir()
	r := rand.New(rand.NewPCG(7, 7))
	var convs []analysistest.Conv
	for k := range 3000 {
		meta := map[string]any{"model": fmt.Sprint("m", r.IntN(4)), "turns": k}
		switch u := r.IntN(40); {
		case u < 30:
			meta["hashed_ip"] = fmt.Sprint("ip", u) // scattered over the whole run
		case u < 35:
			meta["user_id"] = u // a number, and the first key looked for
			meta["hashed_ip"] = "ignored"
		case u < 37:
			meta["hashed_ip"] = "" // empty: no user
		}
		if r.IntN(50) == 0 {
			delete(meta, "model")
		}
		c := analysistest.Conv{ID: fmt.Sprintf("c%04d", k), Text: fmt.Sprint("q", k), Meta: meta,
			Label: []string{"support", "neutral", "resistance", ""}[r.IntN(4)], FailValues: r.IntN(60) == 0}
		for range r.IntN(6) {
			c.Values = append(c.Values, []string{"Honesty", "honesty", "harm-prevention", "  ", "clarity", fmt.Sprint("rare ", r.IntN(300))}[r.IntN(6)])
		}
		convs = append(convs, c)
	}
	analysistest.Write(t, dir, convs)
	buildBoth(t, dir, "ai_values", "model")
	buildBoth(t, dir, "ai_values", "response_type")
	buildBoth(t, dir, "response_type", "meta.model")
}

// On the offline hh-rlhf run (no users), likewise.
func TestStreamedTableOnRealRun(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the offline stages over hh-rlhf")
	}
	dir := testruns.Offline(t, "hh-rlhf")
	buildBoth(t, dir, "ai_values", "response_type")
	buildBoth(t, dir, "ai_values", "hh_variant")
}
