package analysis_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/valuescope/valuescope/host/analysis"
	"github.com/valuescope/valuescope/host/analysis/analysistest"
)

// AnalyzeFolder takes the run config's [analysis], then the overrides, and
// writes each table's files; bad options are OptionsErrors.
func TestAnalyzeFolder(t *testing.T) {
	dir := t.TempDir()
	var convs []analysistest.Conv
	for k := 0; k < 30; k++ {
		convs = append(convs, analysistest.Conv{ID: fmt.Sprint("c", k), Text: fmt.Sprint("q", k),
			Meta: map[string]any{"model": []string{"m1", "m2"}[k%2]}, Label: "support", Values: []string{[]string{"honesty", "care"}[k%2]}})
	}
	analysistest.Write(t, dir, convs)
	os.WriteFile(filepath.Join(dir, "config.toml"), []byte("[analysis]\nmin_conversations = 0\n[[analysis.table]]\nname = \"t\"\nrows = \"ai_values\"\ncols = \"meta.model\"\n"), 0o644)
	ctx := context.Background()
	out := t.TempDir()
	reports, err := analysis.AnalyzeFolder(ctx, dir, analysis.FolderOptions{Out: out, Rows: []string{"ai_values"}, Cols: []string{"response_type"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(reports) != 2 || reports[0].Name != "t" || reports[1].Name != "ai_values_by_response_type" {
		t.Fatalf("%d reports", len(reports))
	}
	if reports[0].Suppressed.Floor.MinConversations != 0 || reports[0].Suppressed.Floor.MinUsers != 5 {
		t.Errorf("floor %+v, want the config's 0 conversations and the default users", reports[0].Suppressed.Floor)
	}
	for _, f := range []string{"t.json", "t.cells.csv", "ai_values_by_response_type.json"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Error(err)
		}
	}
	five := 5
	reports, err = analysis.AnalyzeFolder(ctx, dir, analysis.FolderOptions{Out: out, MinConversations: &five})
	if err != nil || reports[0].Suppressed.Floor.MinConversations != 5 {
		t.Fatalf("override: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "other.toml"), []byte("[run]\nname = \"x\"\n"), 0o644)
	bad := -1
	for name, o := range map[string]analysis.FolderOptions{
		"rows alone":  {Rows: []string{"ai_values"}},
		"floor":       {MinUsers: &bad},
		"same name":   {Tables: []analysis.TableSpec{{Name: "t", Rows: "ai_values", Cols: "source"}}},
		"no analysis": {SettingsFile: filepath.Join(dir, "other.toml")},
	} {
		if _, err := analysis.AnalyzeFolder(ctx, dir, o); !analysis.IsOptionsError(err) {
			t.Errorf("%s: %v, want an OptionsError", name, err)
		}
	}
	if _, err := analysis.AnalyzeFolder(ctx, t.TempDir(), analysis.FolderOptions{}); err == nil || analysis.IsOptionsError(err) {
		t.Errorf("not a run: %v", err)
	}
}
