package report_test

import (
	"maps"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/valuescope/valuescope/host/analysis"
	"github.com/valuescope/valuescope/host/report"
)

// zipfTable is a table of conversations, each one value (Zipf over values,
// exponent 1.1) in one context (uniform), values independent of contexts.
func zipfTable(t testing.TB, values, contexts, conversations int, seed uint64) *analysis.Table {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 14))
	z := rand.NewZipf(rng, 1.1, 1, uint64(values-1))
	counts := map[[2]int]float64{}
	for range conversations {
		counts[[2]int{int(z.Uint64()), rng.IntN(contexts)}]++
	}
	rows := make([]string, values)
	for i := range rows {
		rows[i] = "v" + itoa(i)
	}
	cols := make([]string, contexts)
	for j := range cols {
		cols[j] = "c" + itoa(j)
	}
	var cells []analysis.Cell
	for k, n := range counts {
		cells = append(cells, analysis.Cell{Row: int32(k[0]), Col: int32(k[1]), Count: n, Users: -1})
	}
	tab, err := analysis.NewTable(rows, cols, cells)
	if err != nil {
		t.Fatal(err)
	}
	return tab
}

func itoa(i int) string {
	const digits = "0123456789"
	if i < 10 {
		return digits[i : i+1]
	}
	return itoa(i/10) + digits[i%10:i%10+1]
}

// The attack on the analysis files and the report's heatmap of a synthetic
// table with many small cells: Zipf values × contexts. Full size (3,307 × 50, 100k conversations,
// the table) unless -short.
func TestSubtractionAttackSynthetic(t *testing.T) {
	values, contexts, convs := 3307, 50, 100_000
	if testing.Short() {
		values, contexts, convs = 400, 12, 8_000
	}
	tab := zipfTable(t, values, contexts, convs, 1)
	tab.Corner = "value"
	res, err := analysis.Analyze(tab, analysis.Options{Floor: analysis.Floor{MinConversations: 5}})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	rep := &analysis.Report{Name: "synthetic", Summary: res.Summary, Contexts: res.Contexts}
	if err := analysis.WriteFiles(dir, dir, rep, res); err != nil {
		t.Fatal(err)
	}
	// What the analysis files and the report's heatmap of the table give
	// together (report.json holds the heatmap with its margins).
	h := report.HeatmapOf(rep, res, report.Options{Top: values, MaxContexts: contexts}) // every row: the most an attacker could be given
	p := union(fromAnalysis(t, dir, "synthetic"), fromHeatmap(h))
	if len(h.Values) == 0 || len(fromHeatmap(h).known) == 0 {
		t.Fatalf("the heatmap shows nothing: %d values", len(h.Values))
	}
	e := extend(p, tab)
	sub, aud := e.subtract(t), e.audit()
	primary := 0
	for _, c := range tab.Cells() {
		if c.Count < 5 {
			primary++
		}
	}
	t.Logf("%d × %d, n %s: %d cells under the floor, %d not published; %d blanks; subtraction recovers %d, the margins determine %d",
		values, contexts, analysis.FormatFloat(res.N), primary, res.Suppressed.Cells, len(p.blank), len(sub), len(aud))
	if len(sub) > 0 || len(aud) > 0 {
		t.Errorf("suppressed counts recovered: by subtraction %d, determined %d", len(sub), len(aud))
	}
	// The control: the same files with the complementary suppressions
	// given (only the floor applied, as before issue #14) give counts away,
	// so the attack is able to find them.
	ctrl := newPublished(p.name)
	*ctrl = *p
	ctrl.known = maps.Clone(p.known)
	for _, c := range tab.Cells() {
		k := cellKey{tab.Rows[c.Row], tab.Cols[c.Col]}
		if p.blank[k] && c.Count >= 5 {
			ctrl.known[k] = c.Count
		}
	}
	ce := extend(ctrl, tab)
	csub, caud := ce.subtract(t), ce.audit()
	t.Logf("control, the floor alone: subtraction recovers %d, the margins determine %d; %d of %d values reported", len(csub), len(caud), len(p.rows), values)
	if len(caud) == 0 {
		t.Error("the control recovers nothing: the attack finds nothing to find")
	}
	if math.IsNaN(float64(res.ChiSquare)) {
		t.Fatal("no test")
	}
}
