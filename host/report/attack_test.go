package report_test

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io/fs"
	"maps"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/valuescope/valuescope/internal/testruns"

	"github.com/valuescope/valuescope/host/analysis"
	"github.com/valuescope/valuescope/host/analysis/analysistest"
	"github.com/valuescope/valuescope/host/privacy"
	"github.com/valuescope/valuescope/host/report"
	"github.com/valuescope/valuescope/host/runfolder"
)

// The disclosure attack of issue #14: a reviewer holding a run's shareable
// files (the analysis tables and report.json) tries to recover the counts
// the privacy floor suppressed, by subtraction from published margins.

type cellKey struct{ value, ctx string }

// published is what one table's files give an attacker.
type published struct {
	name   string
	rows   []string // named rows (values), in order of first sight
	cols   []string // named contexts
	rowTot map[string]float64
	colTot map[string]float64
	n      float64
	known  map[cellKey]float64
	blank  map[cellKey]bool // named cells whose count is not given
}

func newPublished(name string) *published {
	return &published{name: name, rowTot: map[string]float64{}, colTot: map[string]float64{}, known: map[cellKey]float64{}, blank: map[cellKey]bool{}}
}

func (p *published) row(v string) {
	if _, ok := p.rowTot[v]; !ok {
		p.rows = append(p.rows, v)
		p.rowTot[v] = math.NaN()
	}
}

// fromAnalysis reads NAME.json, NAME.cells.csv and NAME.residuals.csv of an
// analysis folder: counts and expected values of shown cells, context
// counts, n; row totals from E·n/c_j; zero cells' counts from their
// residuals (O = E + z·sqrt(V)).
func fromAnalysis(t *testing.T, dir, name string) *published {
	t.Helper()
	p := newPublished(name)
	var rep struct {
		Summary  analysis.Summary
		N        float64 `json:"n"`
		Contexts []struct {
			Context            string
			Count              float64
			Positive, Negative []struct {
				Value, Context  string
				Count, Expected float64
			}
		} `json:"contexts"`
	}
	b, err := os.ReadFile(filepath.Join(dir, name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	p.n = rep.N
	expected := map[cellKey]float64{}
	see := func(v, c string, count, e float64) {
		p.row(v)
		k := cellKey{v, c}
		p.known[k] = count
		expected[k] = e
		if ct := p.colTot[c]; ct > 0 && e > 0 {
			p.rowTot[v] = math.Round(e * p.n / ct)
		}
	}
	for _, c := range rep.Contexts {
		p.cols = append(p.cols, c.Context)
		p.colTot[c.Context] = c.Count
	}
	for _, c := range rep.Contexts {
		for _, a := range append(c.Positive, c.Negative...) {
			see(a.Value, a.Context, a.Count, a.Expected)
		}
	}
	recs := readCSV(t, filepath.Join(dir, name+".cells.csv"))
	for _, r := range recs[1:] {
		count, _ := strconv.ParseFloat(r[2], 64)
		e, _ := strconv.ParseFloat(r[3], 64)
		see(r[0], r[1], count, e)
	}
	recs = readCSV(t, filepath.Join(dir, name+".residuals.csv"))
	if recs == nil {
		return p
	}
	header := recs[0][1:]
	for _, r := range recs[1:] {
		v := r[0]
		p.row(v)
		for j, s := range r[1:] {
			k := cellKey{v, header[j]}
			if _, ok := p.known[k]; ok {
				continue
			}
			z, err := strconv.ParseFloat(s, 64)
			ri, cj := p.rowTot[v], p.colTot[header[j]]
			if s == "" || err != nil || math.IsNaN(ri) || cj == 0 {
				p.blank[k] = true
				continue
			}
			e := ri * cj / p.n
			o := e + z*math.Sqrt(e*(1-ri/p.n)*(1-cj/p.n))
			p.known[k] = math.Round(o)
		}
	}
	return p
}

// fromHeatmap reads one heatmap of report.json: value_counts and
// context_counts are the margins, null cells the blanks.
func fromHeatmap(h *report.Heatmap) *published {
	p := newPublished("report.json:" + h.Table)
	p.n = h.Summary.N
	p.cols = h.Contexts
	for j, c := range h.Contexts {
		p.colTot[c] = h.ContextCounts[j]
	}
	for i, v := range h.Values {
		p.rows = append(p.rows, v)
		p.rowTot[v] = h.ValueCounts[i]
		for j, c := range h.Contexts {
			if cell := h.Cells[i][j]; cell != nil {
				p.known[cellKey{v, c}] = cell.Count
			} else {
				p.blank[cellKey{v, c}] = true
			}
		}
	}
	return p
}

// union is what two publications of one table give together: every count
// and margin either gives.
func union(a, b *published) *published {
	u := newPublished(a.name + "+" + b.name)
	u.n = max(a.n, b.n)
	for _, p := range []*published{a, b} {
		for _, v := range p.rows {
			u.row(v)
			if !math.IsNaN(p.rowTot[v]) {
				u.rowTot[v] = p.rowTot[v]
			}
		}
		for _, c := range p.cols {
			if _, ok := u.colTot[c]; !ok {
				u.cols = append(u.cols, c)
			}
			u.colTot[c] = p.colTot[c]
		}
		maps.Copy(u.known, p.known)
	}
	for _, p := range []*published{a, b} {
		for k := range p.blank {
			if _, ok := u.known[k]; !ok {
				u.blank[k] = true
			}
		}
	}
	return u
}

func readCSV(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// extended is a published table as the attacker's equations see it: the
// named rows and contexts, an "other" row and column (the rows and contexts
// not named: under the floor, or cut from a heatmap) when there are any, and
// a margin column and row whose cells are the totals (the corner is n). Each
// row and column of it sums to zero once margins are negated, so every row
// and column is one equation.
type extended struct {
	rows, cols int
	cells      []privacy.Cell
	named      []cellKey // per cell: the named cell it is, or zero
	truth      []float64
	unknown    []bool // not given by the files
}

// extend builds the equations of p; truth gives every named cell's true
// count and the true totals (for the aggregates and checking).
func extend(p *published, truth *analysis.Table) *extended {
	ri := map[string]int{}
	for i, v := range p.rows {
		ri[v] = i
	}
	cj := map[string]int{}
	for j, c := range p.cols {
		cj[c] = j
	}
	R, C := len(p.rows), len(p.cols)
	other, margin := R, R+1 // row indices; columns likewise C, C+1
	ex := make([][]float64, R+2)
	for i := range ex {
		ex[i] = make([]float64, C+2)
	}
	for _, c := range truth.Cells() {
		i, ok := ri[truth.Rows[c.Row]]
		if !ok {
			i = other
		}
		j, ok := cj[truth.Cols[c.Col]]
		if !ok {
			j = C
		}
		ex[i][j] += c.Count
		ex[i][C+1] += c.Count
		ex[margin][j] += c.Count
		ex[margin][C+1] += c.Count
	}
	e := &extended{rows: R + 2, cols: C + 2}
	for i := range R + 2 {
		for j := range C + 2 {
			var k cellKey
			unknown := true
			switch {
			case i < R && j < C:
				k = cellKey{p.rows[i], p.cols[j]}
				_, given := p.known[k]
				unknown = !given
			case i < R && j == C+1:
				unknown = math.IsNaN(p.rowTot[p.rows[i]])
			case i == margin && j < C:
				_, given := p.colTot[p.cols[j]]
				unknown = !given
			case i == margin && j == C+1:
				unknown = p.n == 0
			}
			if ex[i][j] == 0 && !unknown {
				continue
			}
			e.cells = append(e.cells, privacy.Cell{Row: i, Col: j, Count: ex[i][j], Hidden: unknown})
			e.named = append(e.named, k)
			e.truth = append(e.truth, ex[i][j])
			e.unknown = append(e.unknown, unknown)
		}
	}
	return e
}

// subtract is the attack by subtraction from the files alone: a row or
// column equation with one unknown gives it, repeatedly. It does not know
// which blanks are zero. It returns the named cells recovered.
func (e *extended) subtract(t *testing.T) map[cellKey]float64 {
	val := map[[2]int]float64{}
	unk := map[[2]int]bool{}
	for k, c := range e.cells {
		if e.unknown[k] {
			unk[[2]int{c.Row, c.Col}] = true
		} else {
			val[[2]int{c.Row, c.Col}] = c.Count
		}
	}
	// Every position not listed is either a known zero or an unknown
	// blank; the attacker knows only what the files say: a listed unknown,
	// or, for positions the truth had zero and the files left blank, also
	// unknown. extend lists those (unknown and zero) as cells too.
	signOf := func(i, j int) float64 {
		if (i == e.rows-1) != (j == e.cols-1) {
			return -1 // a margin, negated
		}
		return 1
	}
	got := map[cellKey]float64{}
	for progress := true; progress; {
		progress = false
		for line := range e.rows + e.cols {
			var miss [][2]int
			total := 0.0
			for x := range max(e.rows, e.cols) {
				var pos [2]int
				if line < e.rows {
					if x >= e.cols {
						break
					}
					pos = [2]int{line, x}
				} else {
					if x >= e.rows {
						break
					}
					pos = [2]int{x, line - e.rows}
				}
				if unk[pos] {
					miss = append(miss, pos)
				} else {
					total += signOf(pos[0], pos[1]) * val[pos]
				}
			}
			if len(miss) > 1 && total == 0 && signOf(miss[0][0], miss[0][1]) == signOf(miss[1][0], miss[1][1]) {
				same := true
				for _, pos := range miss {
					same = same && signOf(pos[0], pos[1]) == signOf(miss[0][0], miss[0][1])
				}
				if same { // non-negative unknowns summing to zero are all zero
					for _, pos := range miss {
						val[pos] = 0
						delete(unk, pos)
					}
					progress = true
					continue
				}
			}
			if len(miss) != 1 {
				continue
			}
			pos := miss[0]
			v := -total * signOf(pos[0], pos[1])
			val[pos] = v
			delete(unk, pos)
			progress = true
			for k, c := range e.cells {
				if c.Row == pos[0] && c.Col == pos[1] && e.named[k] != (cellKey{}) {
					if v != e.truth[k] {
						t.Errorf("subtraction gave %v for %v, the count is %v", v, e.named[k], e.truth[k])
					}
					got[e.named[k]] = v
				}
			}
		}
	}
	return got
}

// audit is the worst case: an attacker who also knows which blanks are
// zero. It returns the named non-zero hidden cells whose counts follow from
// the margins by any linear combination (privacy.Determined).
func (e *extended) audit() []cellKey {
	var cells []privacy.Cell
	var named []cellKey
	for k, c := range e.cells {
		if c.Hidden && c.Count == 0 {
			continue // known zero in the worst case
		}
		cells = append(cells, c)
		named = append(named, e.named[k])
	}
	var out []cellKey
	for _, k := range privacy.Determined(e.rows, e.cols, cells) {
		if named[k] != (cellKey{}) {
			out = append(out, named[k])
		}
	}
	return out
}

// hhRun runs the offline quickstart's stages over the hh-rlhf data, then
// analyze, into a temporary run folder.
func hhRun(t *testing.T) string {
	t.Helper()
	out := testruns.Offline(t, "hh-rlhf")
	if _, err := analysis.AnalyzeFolder(context.Background(), out, analysis.FolderOptions{}); err != nil {
		t.Fatal(err)
	}
	return out
}

// truthTables analyses every default table of a run without a floor.
func truthTables(t *testing.T, dir string) map[string]*analysis.Table {
	t.Helper()
	return analysistest.Tables(t, dir)
}

// TestSubtractionAttack attacks every analysis table and report heatmap of
// the offline hh-rlhf run, each alone and a table's analysis files and
// heatmap together. It fails while any suppressed count can be recovered by
// subtraction (the files alone) or derived from the published margins (the
// worst case: an attacker who also knows which blanks are zero). Before
// complementary suppression it recovered 8 counts of ai_values ×
// response_type, 7 of ai_values × hh_variant and 5 in report.json.
func TestSubtractionAttack(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the quickstart over hh-rlhf")
	}
	dir := hhRun(t)
	truth := truthTables(t, dir)
	var d report.Data
	b, err := os.ReadFile(filepath.Join(dir, report.JSONFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	var tables []*published
	for name := range truth {
		tables = append(tables, fromAnalysis(t, runfolder.Folder(dir).Analysis(), name))
	}
	byName := map[string]*published{}
	for _, p := range tables {
		byName[p.name] = p
	}
	for _, h := range d.Heatmaps {
		hp := fromHeatmap(h)
		tables = append(tables, hp)
		// The heatmap and the analysis files of one table read together.
		if a := byName[h.Table]; a != nil {
			tables = append(tables, union(a, hp))
		}
	}
	controlSub, controlAud := 0, 0
	for _, p := range tables {
		name, _, _ := strings.Cut(strings.TrimPrefix(p.name, "report.json:"), "+")
		tt := truth[name]
		if tt == nil {
			t.Fatalf("no table %s", name)
		}
		e := extend(p, tt)
		sub := e.subtract(t)
		aud := e.audit()
		t.Logf("%s: %d blanks; subtraction recovers %d suppressed counts, the margins determine %d", p.name, len(p.blank), len(sub), len(aud))
		if len(sub) > 0 || len(aud) > 0 {
			t.Errorf("%s: suppressed counts recovered: by subtraction %v; determined %v", p.name, sub, aud)
		}
		// The control: the complementary suppressions given back (the
		// floor alone, as before) must let the attack recover counts.
		ctrl := newPublished(p.name)
		*ctrl = *p
		ctrl.known = maps.Clone(p.known)
		for _, c := range tt.Cells() {
			if k := (cellKey{tt.Rows[c.Row], tt.Cols[c.Col]}); p.blank[k] && c.Count >= 5 {
				ctrl.known[k] = c.Count
			}
		}
		ce := extend(ctrl, tt)
		controlSub += len(ce.subtract(t))
		controlAud += len(ce.audit())
	}
	// Before complementary suppression the attack recovered 8 counts of
	// ai_values × response_type, 7 of ai_values × hh_variant and 5 in
	// report.json, by subtraction alone (issue #14).
	t.Logf("control, the floor alone: subtraction recovers %d counts, the margins determine %d, over all tables", controlSub, controlAud)
	if controlSub == 0 {
		t.Error("the control recovers nothing: the attack finds nothing to find")
	}
}

// The margin attack on the report's tree: a cluster with values withheld
// counts the conversations of its values shown only, so it is never more
// than the sum of its shown children (it was: hh-rlhf's "Clear
// communication" counted 42 conversations beside shown values summing to
// 35, the 7 of its three values withheld).
func TestTreeSectionHidesWithheld(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the quickstart over hh-rlhf")
	}
	var d report.Data
	b, err := os.ReadFile(filepath.Join(hhRun(t), report.JSONFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	checked := 0
	var walk func(n *report.Node, depth int)
	walk = func(n *report.Node, depth int) {
		sum := 0
		for _, c := range n.Children {
			sum += c.Conversations
			walk(c, depth+1)
		}
		if depth > 0 && n.Suppressed > 0 && n.More == 0 && len(n.Children) > 0 {
			checked++
			if n.Conversations > sum {
				t.Errorf("%s: %d conversations, its shown children %d: %d for its %d withheld", n.Name, n.Conversations, sum, n.Conversations-sum, n.Suppressed)
			}
		}
	}
	if d.Tree == nil {
		t.Fatal("no tree in report.json")
	}
	walk(d.Tree, 0)
	if checked == 0 {
		t.Fatal("no cluster with values withheld: the test checks nothing")
	}
	t.Logf("%d clusters with values withheld checked", checked)
}
