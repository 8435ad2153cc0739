package report_test

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/valuescope/valuescope/host/analysis"
	"github.com/valuescope/valuescope/host/analysis/analysistest"
	"github.com/valuescope/valuescope/host/report"
	"github.com/valuescope/valuescope/host/runfolder"
	"github.com/valuescope/valuescope/host/share"
	"github.com/valuescope/valuescope/host/taxonomy"
	"github.com/valuescope/valuescope/internal/shareddata"
)

// syntheticRun writes a run folder of n conversations with the margins of
// real runs: one to three values each, Zipf over the paper's 3,307 values in
// the order of their frequency, a response type of six, a topic of 40 and a
// user of n/5, all independent of each other.
func syntheticRun(t *testing.T, n int) string {
	t.Helper()
	f, err := os.Open(shareddata.Path(t, "values-in-the-wild/values_frequencies.csv"))
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(f).ReadAll()
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range recs[1:] {
		names = append(names, r[0])
	}
	rng := rand.New(rand.NewPCG(7, 14))
	z := rand.NewZipf(rng, 1.1, 1, uint64(len(names)-1))
	labels := []string{"strong support", "mild support", "neutral", "reframing", "mild resistance", "no values"}
	convs := make([]analysistest.Conv, n)
	for i := range convs {
		vals := make([]string, 1+rng.IntN(3))
		for k := range vals {
			vals[k] = names[z.Uint64()]
		}
		convs[i] = analysistest.Conv{ID: fmt.Sprint("c", i), Text: "hello", Label: labels[rng.IntN(len(labels))], Values: vals,
			Meta: map[string]any{"topic": fmt.Sprint("topic ", rng.IntN(40)), "user_id": fmt.Sprint("u", rng.IntN(max(n/5, 1)))}}
	}
	dir := t.TempDir()
	analysistest.Write(t, dir, convs)
	return dir
}

// The attack on every shareable file of a synthetic run at 100k
// conversations (20k with -short): the analysis tables and the report's
// heatmaps as export --shareable writes them, each table's files alone and
// with its heatmap; no suppressed count comes out.
func TestSubtractionAttackSyntheticRun(t *testing.T) {
	n := 100_000
	if testing.Short() {
		n = 20_000
	}
	dir := syntheticRun(t, n)
	ctx := context.Background()
	if _, err := analysis.AnalyzeFolder(ctx, dir, analysis.FolderOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := report.Generate(ctx, dir, report.Options{}); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "share")
	if _, err := share.Export(ctx, dir, out); err != nil {
		t.Fatal(err)
	}
	truth := truthTables(t, dir)
	var d report.Data
	b, err := os.ReadFile(filepath.Join(out, report.JSONFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	var tables []*published
	byName := map[string]*published{}
	controlFound := 0
	for name := range truth {
		p := fromAnalysis(t, filepath.Join(out, runfolder.AnalysisDir), name)
		tables = append(tables, p)
		byName[name] = p
	}
	for _, h := range d.Heatmaps {
		hp := fromHeatmap(h)
		tables = append(tables, hp)
		if a := byName[h.Table]; a != nil {
			tables = append(tables, union(a, hp))
		}
	}
	if len(truth) < 3 || len(d.Heatmaps) == 0 {
		t.Fatalf("%d tables, %d heatmaps: the attack has little to attack", len(truth), len(d.Heatmaps))
	}
	for _, p := range tables {
		name, _, _ := strings.Cut(strings.TrimPrefix(p.name, "report.json:"), "+")
		tt := truth[name]
		e := extend(p, tt)
		sub, aud := e.subtract(t), e.audit()
		t.Logf("%s: %d blanks; subtraction recovers %d, the margins determine %d", p.name, len(p.blank), len(sub), len(aud))
		if len(sub) > 0 || len(aud) > 0 {
			t.Errorf("%s: suppressed counts recovered: by subtraction %d, determined %d", p.name, len(sub), len(aud))
		}
		// The control: the complementary suppressions given back.
		ctrl := newPublished(p.name)
		*ctrl = *p
		ctrl.known = maps.Clone(p.known)
		for _, c := range tt.Cells() {
			if k := (cellKey{tt.Rows[c.Row], tt.Cols[c.Col]}); p.blank[k] && c.Count >= 5 {
				ctrl.known[k] = c.Count
			}
		}
		ce := extend(ctrl, tt)
		controlFound += len(ce.subtract(t)) + len(ce.audit())
	}
	if controlFound == 0 {
		t.Error("the control, the floor alone, recovers nothing: the attack finds nothing to find")
	}

	// The run's own tree, published: each cluster's share is its
	// children's, so nothing is left for the values withheld.
	tree, err := taxonomy.ReadFile(filepath.Join(out, runfolder.TreeDir, "ai_values.tree.csv"))
	if err != nil {
		t.Fatalf("the exported tree: %v", err)
	}
	sum := map[string]float64{}
	kids := map[string]int{}
	for _, n := range tree.Nodes {
		sum[n.Parent] += n.Pct
		kids[n.Parent]++
	}
	for _, n := range tree.Nodes {
		if n.Level > 0 && math.Abs(n.Pct-sum[n.ID]) > 0.0005*float64(kids[n.ID]+1) {
			t.Errorf("cluster %s: %.3f%%, its children %.3f%%", n.ID, n.Pct, sum[n.ID])
		}
	}
	t.Logf("control (the floor alone) recovers %d; the exported tree has %d values", controlFound, len(tree.Level(0)))
}
