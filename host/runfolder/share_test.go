package runfolder

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestShareable(t *testing.T) {
	for rel, want := range map[string]bool{
		"report.json": true, "report.html": true,
		"analysis/ai_values_by_topic.cells.csv": true, "analysis/ai_values_by_topic.residuals.csv": true,
		"analysis/ai_values_by_topic.json": true, "taxonomy/ai_values.tree.csv": false,
		"store.sqlite": false, "store.sqlite-wal": false, "annotations.csv": false, "annotations.parquet": false,
		"conversations.csv": false, "errors.csv": false, "plugins.log": false, "manifest.json": false,
		"config.toml": false, "config.orig.toml": false, "review/review.csv": false, "review/review.html": false,
		"analysis/taxonomy/assignments.csv": false, "analysis/paper.level1/taxonomy.json": false,
		"analysis/paper.level1/ai_values_by_topic.cells.csv": true, "analysis/paper.level1/t.json": true,
		"analysis/a/b/t.json": false, "analysis/taxonomy.json": false, "analysis/assignments.csv": false, "analysis/.json": false,
		"taxonomy/.tree.csv": false, "taxonomy/ai_values.json": false, "other/report.json": false, "../report.json": false,
	} {
		if got := Shareable(rel); got != want {
			t.Errorf("Shareable(%q) = %v, want %v", rel, got, want)
		}
	}
	for rel, want := range map[string]bool{
		"taxonomy/ai_values.tree.csv": true, "taxonomy/./human_values.tree.csv": true,
		"taxonomy/.tree.csv": false, "taxonomy/ai_values.json": false, "analysis/ai_values.tree.csv": false,
		"ai_values.tree.csv": false, "taxonomy/x/ai_values.tree.csv": false, "report.json": false,
	} {
		if got := FlooredOnExport(rel); got != want {
			t.Errorf("FlooredOnExport(%q) = %v, want %v", rel, got, want)
		}
	}
}

func TestShareableFiles(t *testing.T) {
	dir := t.TempDir()
	for _, p := range []string{"store.sqlite", "report.json", "analysis/t.cells.csv", "analysis/x/assignments.csv", "taxonomy/v.tree.csv", "conversations.csv"} {
		os.MkdirAll(filepath.Dir(filepath.Join(dir, p)), 0o755)
		os.WriteFile(filepath.Join(dir, p), nil, 0o644)
	}
	got, err := Folder(dir).ShareableFiles()
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"analysis/t.cells.csv", "report.json", "taxonomy/v.tree.csv"}; !slices.Equal(got, want) {
		t.Fatalf("%v, want %v", got, want)
	}
}
