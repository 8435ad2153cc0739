package analysis_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/valuescope/valuescope/host/analysis"
	"github.com/valuescope/valuescope/host/analysis/analysistest"
)

// The [analysis] method and monte_carlo keys reach each table, the
// command line's overrides replace them, the table's JSON says which test
// ran and its Monte Carlo p-value and small-expected counts, and an unknown
// method is an options error.
func TestAnalyzeFolderMethod(t *testing.T) {
	dir := t.TempDir()
	var convs []analysistest.Conv
	for k := 0; k < 40; k++ {
		convs = append(convs, analysistest.Conv{ID: fmt.Sprint("c", k), Text: fmt.Sprint("q", k),
			Meta: map[string]any{"model": []string{"m1", "m2"}[k%2]}, Label: "support",
			Values: []string{[]string{"honesty", "care", "clarity"}[k%3]}})
	}
	analysistest.Write(t, dir, convs)
	os.WriteFile(filepath.Join(dir, "config.toml"), []byte("[analysis]\nmin_conversations = 0\nmethod = \"normal\"\nmonte_carlo = 300\n[[analysis.table]]\nname = \"t\"\nrows = \"ai_values\"\ncols = \"meta.model\"\n"), 0o644)
	ctx := context.Background()
	out := t.TempDir()
	reports, err := analysis.AnalyzeFolder(ctx, dir, analysis.FolderOptions{Out: out})
	if err != nil {
		t.Fatal(err)
	}
	s := reports[0].Summary
	if s.Method != analysis.Normal || s.MonteCarlo != 300 || !(s.MonteCarloP > 0 && s.MonteCarloP <= 1) {
		t.Fatalf("from the config: method %s, %d tables, p %v", s.Method, s.MonteCarlo, s.MonteCarloP)
	}
	var file struct {
		Method        string                 `json:"method"`
		MonteCarloP   float64                `json:"monte_carlo_p"`
		SmallExpected analysis.SmallExpected `json:"small_expected"`
	}
	b, err := os.ReadFile(filepath.Join(out, "t.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &file); err != nil {
		t.Fatal(err)
	}
	if file.Method != "normal" || file.MonteCarloP != float64(s.MonteCarloP) || file.SmallExpected.Cells != 6 {
		t.Fatalf("t.json: %+v", file)
	}
	exact, none := "exact", 0
	reports, err = analysis.AnalyzeFolder(ctx, dir, analysis.FolderOptions{Out: out, Method: &exact, MonteCarlo: &none})
	if err != nil {
		t.Fatal(err)
	}
	if s := reports[0].Summary; s.Method != analysis.Exact || s.MonteCarlo != 0 {
		t.Fatalf("overridden: method %s, %d tables", s.Method, s.MonteCarlo)
	}
	bad := "wald"
	if _, err := analysis.AnalyzeFolder(ctx, dir, analysis.FolderOptions{Out: out, Method: &bad}); !analysis.IsOptionsError(err) {
		t.Fatalf("method %q: %v, want an OptionsError", bad, err)
	}
}
