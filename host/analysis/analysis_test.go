package analysis

import (
	"bytes"
	"cmp"
	"encoding/csv"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// A brute-force check of the sparse machinery on a larger table than R
// sees: every cell's adjusted p-value equals Adjust over the dense column
// (or table); EachReported gives exactly the non-zero cells that pass the
// floor and the significant zero cells of reported rows and columns; the top
// lists are the dense top lists.
func TestSparseEqualsDense(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const R, C = 300, 12
	var cells []Cell
	rows, cols := make([]string, R), make([]string, C)
	for i := range rows {
		rows[i] = "v" + string(rune('a'+i%26)) + string(rune('a'+i/26))
	}
	for j := range cols {
		cols[j] = "c" + string(rune('a'+j))
	}
	for i := 0; i < R; i++ {
		size := 1 + int(40/float64(1+i%50)) // many rows share a row sum
		for k := 0; k < size; k++ {
			j := rng.IntN(C)
			if j%5 == 4 { // skewed columns
				j = rng.IntN(2)
			}
			cells = append(cells, Cell{Row: int32(i), Col: int32(j), Count: 1, Users: -1})
		}
	}
	tab, err := NewTable(rows, cols, cells)
	if err != nil {
		t.Fatal(err)
	}
	for _, corr := range []Correction{Bonferroni, Holm, BH, NoCorrection} {
		for _, fam := range []Family{PerContext, WholeTable} {
			// The dense reference computes the normal approximation's
			// p-values (every cell a test): the method is named since the
			// default became Exact.
			o := Options{Correction: corr, Family: fam, Floor: Floor{MinConversations: 3}, Top: 5, Method: Normal}
			res, err := Analyze(tab, o)
			if err != nil {
				t.Fatal(err)
			}
			dense := res.Residuals()
			p := make([][]float64, C)
			for j := range p {
				p[j] = make([]float64, R)
				for i := range p[j] {
					p[j][i] = ZPValue(dense.At(i, j))
				}
			}
			adj := make([][]float64, C)
			if fam == PerContext {
				for j := range adj {
					adj[j], _ = Adjust(p[j], corr, 0)
				}
			} else {
				all, _ := Adjust(slices.Concat(p...), corr, 0)
				for j := range adj {
					adj[j] = all[j*R : (j+1)*R]
				}
			}
			wantReported := map[[2]int]bool{}
			for j := 0; j < C; j++ {
				for i := 0; i < R; i++ {
					a := res.Cell(i, j)
					if !closeTo(float64(a.PAdjusted), adj[j][i], 1e-12) {
						t.Fatalf("%s/%s cell (%d,%d): adjusted %v, dense %v", corr, fam, i, j, a.PAdjusted, adj[j][i])
					}
					count := tab.At(i, j)
					rowOK := res.RowReported(i) && res.ColReported(j)
					// Zero cells are no longer published, even when
					// significant (their residuals marked the blanks
					// beside them: suppress.go, issue #14).
					if rowOK && count >= 3 {
						wantReported[[2]int{i, j}] = true
					}
				}
			}
			got := map[[2]int]bool{}
			res.EachReported(func(a Association) bool {
				got[[2]int{a.Row, a.Col}] = true
				if a.Count > 0 && a.Count < 3 {
					t.Fatalf("reported cell under the floor: %+v", a)
				}
				return true
			})
			// The cells passing the floor less the complementary
			// suppressions, which Suppressed counts with the rest.
			for k := range got {
				if !wantReported[k] {
					t.Fatalf("%s/%s: cell %v reported", corr, fam, k)
				}
			}
			if hidden := tab.NNZ() - len(got); hidden != res.Suppressed.Cells {
				t.Fatalf("%s/%s: %d non-zero cells not reported, suppressed says %d", corr, fam, hidden, res.Suppressed.Cells)
			}
			// Top lists against a dense sort of the reported cells.
			for _, ctx := range res.Contexts {
				j := slices.Index(cols, ctx.Context)
				var pos, neg []Association
				for i := 0; i < R; i++ {
					if !res.Reported(i, j) || res.rowSum[i] == 0 {
						continue
					}
					a := res.Cell(i, j)
					if a.Residual > 0 {
						pos = append(pos, a)
					} else if a.Residual < 0 {
						neg = append(neg, a)
					}
				}
				slices.SortFunc(pos, func(a, b Association) int { return cmp.Compare(b.Residual, a.Residual) })
				slices.SortFunc(neg, func(a, b Association) int { return cmp.Compare(a.Residual, b.Residual) })
				for k, a := range ctx.Positive {
					if a.Residual != pos[k].Residual {
						t.Fatalf("context %s positive #%d: %v, dense %v", ctx.Context, k, a.Residual, pos[k].Residual)
					}
				}
				for k, a := range ctx.Negative {
					if a.Residual != neg[k].Residual {
						t.Fatalf("context %s negative #%d: %v (%s), dense %v (%s)", ctx.Context, k, a.Residual, a.Value, neg[k].Residual, neg[k].Value)
					}
				}
				if len(ctx.Positive) != min(5, len(pos)) || len(ctx.Negative) != min(5, len(neg)) {
					t.Fatalf("context %s: %d/%d listed of %d/%d", ctx.Context, len(ctx.Positive), len(ctx.Negative), len(pos), len(neg))
				}
			}
		}
	}
}

// The privacy floor: rows, columns and cells under the conversation or user
// bound are not reported, and counted; what is reported is unchanged.
func TestPrivacyFloor(t *testing.T) {
	// Rows a (common), b (rare: 2 conversations), c (many conversations,
	// one user); columns x, y.
	cells := []Cell{
		{Row: 0, Col: 0, Count: 30, Users: 20}, {Row: 0, Col: 1, Count: 10, Users: 9},
		{Row: 1, Col: 0, Count: 2, Users: 2},
		{Row: 2, Col: 0, Count: 4, Users: 1}, {Row: 2, Col: 1, Count: 12, Users: 1},
		{Row: 3, Col: 0, Count: 9, Users: 8}, {Row: 3, Col: 1, Count: 3, Users: 3},
	}
	tab, err := NewTable([]string{"a", "b", "c", "d"}, []string{"x", "y"}, cells)
	if err != nil {
		t.Fatal(err)
	}
	tab.RowUsers = []float64{25, 2, 1, 10}
	tab.ColUsers = []float64{30, 12}
	open, err := Analyze(tab, Options{})
	if err != nil {
		t.Fatal(err)
	}
	res, err := Analyze(tab, Options{Floor: Floor{MinConversations: 5, MinUsers: 5}})
	if err != nil {
		t.Fatal(err)
	}
	s := res.Suppressed
	// Rows b (2 conversations) and c (1 user); cells (b,x), (c,x), (c,y),
	// (d,y), and (d,x): d's total is published, so (d,y) = total − (d,x)
	// unless (d,x) is hidden too (complementary suppression).
	if s.Rows != 2 || s.Cols != 0 || s.Cells != 5 || s.Count != 2+4+12+3+9 || !s.UsersKnown {
		t.Fatalf("suppressed %+v", s)
	}
	if !strings.Contains(s.String(), "suppressed 2 values") {
		t.Fatalf("say: %s", s)
	}
	res.EachReported(func(a Association) bool {
		if a.Value == "b" || a.Value == "c" || a.Value == "d" {
			t.Errorf("reported %+v", a)
		}
		if o := open.Cell(a.Row, a.Col); o.Residual != a.Residual {
			t.Errorf("floor changed residual of %s/%s", a.Value, a.Context)
		}
		return true
	})
	for _, c := range res.Contexts {
		for _, a := range append(c.Positive, c.Negative...) {
			if a.Value == "b" || a.Value == "c" {
				t.Errorf("top list has suppressed %+v", a)
			}
		}
	}
	var buf bytes.Buffer
	if err := WriteResidualsCSV(&buf, res, true); err != nil {
		t.Fatal(err)
	}
	recs, _ := csv.NewReader(&buf).ReadAll()
	if recs[2][1] != "" || recs[3][2] != "" || recs[4][2] != "" || recs[4][1] != "" || recs[1][1] == "" {
		t.Fatalf("residuals with the floor: %v", recs)
	}
	// Without users in the table, only the conversation bound applies: one
	// value under it, and a second withheld so that the other row is not
	// that value's (secondLine).
	tab.RowUsers, tab.ColUsers = nil, nil
	res, _ = Analyze(tab, Options{Floor: Floor{MinConversations: 5, MinUsers: 5}})
	if res.Suppressed.Rows != 2 || res.Suppressed.UsersKnown {
		t.Fatalf("without users: %+v", res.Suppressed)
	}
}

func TestReadCSV(t *testing.T) {
	tab, err := ReadCSV(strings.NewReader("\ufeffvalue,x,y\na,1,2\nb,,0\nc,3.5,0\n"), "t.csv")
	if err != nil {
		t.Fatal(err)
	}
	if tab.Corner != "value" || len(tab.Rows) != 3 || tab.At(2, 0) != 3.5 || tab.At(1, 1) != 0 || tab.NNZ() != 3 {
		t.Fatalf("%+v", tab)
	}
	for in, want := range map[string]string{
		"":                    "t.csv: empty file",
		"v\n":                 "t.csv:1: header has 1 field",
		"v,x\na,-1\n":         `t.csv:2: row "a", column "x": "-1" is not a non-negative count`,
		"v,x\na,1\nb,2,3\n":   "t.csv:3: 3 fields; expected 2",
		"v,x,y\na,1,nope\n":   `"nope" is not a non-negative count`,
		"v,x\n":               "no rows",
		"v,x\na,NaN\n":        "not a non-negative count",
		"v,x\na,1e400\n":      "not a non-negative count",
		"v,x\n\"a,1\n":        "t.csv",
		"v,x,y\na,1,2\nb,3\n": "t.csv:3",
	} {
		_, err := ReadCSV(strings.NewReader(in), "t.csv")
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want %q", in, err, want)
		}
	}
}

// Residuals written in the input's shape read back as the same numbers, NA
// in an empty row.
func TestWriteResidualsShape(t *testing.T) {
	tab, _ := ReadCSV(strings.NewReader("v,x,y,z\na,1,2,0\nb,0,0,0\nc,3,1,4\n"), "t")
	res, err := Analyze(tab, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	WriteResidualsCSV(&buf, res, true)
	recs, _ := csv.NewReader(&buf).ReadAll()
	if len(recs) != 4 || strings.Join(recs[0], ",") != "v,x,y,z" || recs[2][0] != "b" || recs[2][1] != "NA" {
		t.Fatalf("%v", recs)
	}
	back, _ := ReadCSV(strings.NewReader(strings.ReplaceAll(buf.String(), "NA", "")), "t")
	_ = back
	if res.EmptyRows != 1 || res.DF != 2 {
		t.Fatalf("empty rows %d df %d", res.EmptyRows, res.DF)
	}
	if got := FormatFloat(res.Residual(0, 0)); recs[1][1] != got {
		t.Fatalf("%s vs %s", recs[1][1], got)
	}
	if !math.IsNaN(res.Residual(1, 0)) {
		t.Fatal("empty row residual not NaN")
	}
}

func TestStatedTestsTooFew(t *testing.T) {
	tab, _ := ReadCSV(strings.NewReader("v,x,y\na,1,2\nb,3,1\nc,5,5\n"), "t")
	if _, err := Analyze(tab, Options{Tests: 2}); err == nil || !strings.Contains(err.Error(), "2 tests stated, but a family has 3") {
		t.Fatalf("err %v", err)
	}
	res, err := Analyze(tab, Options{Tests: 3307})
	if err != nil || res.Tests != 3307 || !res.TestsStated || math.Abs(float64(res.BonferroniThreshold)-4.3269) > 1e-3 {
		t.Fatalf("%v %+v", err, res.Summary)
	}
}

// A run folder's [analysis] section, read through package config (which
// owns the checks and their messages, tested there), gives each table's
// options; a floor set to 0 stays 0 and an unset one is the default.
func TestReadRunSettings(t *testing.T) {
	dir := t.TempDir()
	if s, err := ReadRunSettings(dir); err != nil || s.Floor() != DefaultFloor || s.Tables != nil {
		t.Fatalf("no config: %+v %v", s, err)
	}
	os.WriteFile(filepath.Join(dir, "config.orig.toml"), []byte(`
[analysis]
correction = "holm"
tests = 3307
min_conversations = 2

[[analysis.table]]
name = "by topic"
rows = "ai_values"
cols = "topic"
min_users = 0

[[analysis.table]]
rows = "ai_values"
cols = "meta.model"
family = "table"
`), 0o644)
	// The resolved config of an older run says 0 for an unset floor: the
	// config as written wins.
	os.WriteFile(filepath.Join(dir, "config.toml"), []byte("[analysis]\nmin_conversations = 0\nmin_users = 0\n"), 0o644)
	s, err := ReadRunSettings(dir)
	if err != nil || len(s.Tables) != 2 {
		t.Fatalf("%v %+v", err, s)
	}
	o, _ := s.Options(s.Tables[0])
	if o.Correction != Holm || o.Tests != 3307 || o.Floor != (Floor{MinConversations: 2}) || s.Tables[0].FileName() != "by_topic" {
		t.Fatalf("%+v %s", o, s.Tables[0].FileName())
	}
	o, _ = s.Options(s.Tables[1])
	if o.Family != WholeTable || o.Floor != (Floor{MinConversations: 2, MinUsers: 5}) || s.Tables[1].FileName() != "ai_values_by_meta.model" {
		t.Fatalf("%+v %s", o, s.Tables[1].FileName())
	}
	os.WriteFile(filepath.Join(dir, "config.orig.toml"), []byte("[analysis]\ncorection = \"holm\"\n"), 0o644)
	if _, err := ReadRunSettings(dir); err == nil || !strings.Contains(err.Error(), "config.orig.toml:2: analysis.corection: unknown key") {
		t.Errorf("bad key: %v", err)
	}
}

func TestParseTableFlag(t *testing.T) {
	for in, want := range map[string][3]string{
		"ai_values:topic":                 {"", "ai_values", "topic"},
		"n=ai_values:meta:model":          {"n", "ai_values", "meta:model"},
		"field:ai_values:meta.model":      {"", "field:ai_values", "meta.model"},
		" by = ai_values : response_type": {"by", "ai_values", "response_type"},
	} {
		got, err := ParseTableFlag(in)
		if err != nil || [3]string{got.Name, got.Rows, got.Cols} != want {
			t.Errorf("%q: %+v %v", in, got, err)
		}
	}
	for _, bad := range []string{"ai_values", "ai_values:", ":topic", "x="} {
		if _, err := ParseTableFlag(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestNumberJSON(t *testing.T) {
	b, _ := Number(math.NaN()).MarshalJSON()
	c, _ := Number(0.25).MarshalJSON()
	if string(b) != "null" || string(c) != "0.25" {
		t.Fatal(string(b), string(c))
	}
}
