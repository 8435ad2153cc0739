package analysis

import "testing"

// With one value under the floor, the table's "other" row would be that
// value: its cells are each column's total less the reported cells. A
// second row, the smallest reported, is withheld with it; with two under
// the floor, none more.
func TestSecondLineWithheld(t *testing.T) {
	cells := func(rows ...[2]float64) []Cell {
		var out []Cell
		for i, r := range rows {
			for j, n := range r {
				if n > 0 {
					out = append(out, Cell{Row: int32(i), Col: int32(j), Count: n, Users: -1})
				}
			}
		}
		return out
	}
	for _, c := range []struct {
		name   string
		counts [][2]float64
		shown  []bool
	}{
		{"one under the floor", [][2]float64{{30, 20}, {12, 9}, {25, 25}, {2, 1}}, []bool{true, false, true, false}},
		{"two under the floor", [][2]float64{{30, 20}, {12, 9}, {2, 1}, {1, 2}}, []bool{true, true, false, false}},
		{"none under the floor", [][2]float64{{30, 20}, {12, 9}}, []bool{true, true}},
	} {
		rows := []string{"a", "b", "c", "d"}[:len(c.counts)]
		tab, err := NewTable(rows, []string{"x", "y"}, cells(c.counts...))
		if err != nil {
			t.Fatal(err)
		}
		res, err := Analyze(tab, Options{Floor: Floor{MinConversations: 5}})
		if err != nil {
			t.Fatal(err)
		}
		for i := range rows {
			if got := res.RowReported(i); got != c.shown[i] {
				t.Errorf("%s: row %s reported %v, want %v", c.name, rows[i], got, c.shown[i])
			}
		}
	}
}
