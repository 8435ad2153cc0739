package share_test

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/valuescope/valuescope/internal/testruns"

	"github.com/valuescope/valuescope/host/analysis"
	"github.com/valuescope/valuescope/host/report"
	"github.com/valuescope/valuescope/host/runfolder"
	"github.com/valuescope/valuescope/host/share"
	"github.com/valuescope/valuescope/host/taxonomy"
)

// hhRun runs the offline quickstart's stages over the hh-rlhf data (which
// writes the report and the run's taxonomy of ai_values), then analyze.
func hhRun(t *testing.T) string {
	t.Helper()
	out := testruns.Offline(t, "hh-rlhf")
	if _, err := analysis.AnalyzeFolder(context.Background(), out, analysis.FolderOptions{}); err != nil {
		t.Fatal(err)
	}
	return out
}

// Export writes exactly the shareable files, the tree without the values
// under the floor (as many as the report counts under it), and a README
// naming the floor; it refuses a folder with files or inside the run.
func TestExportHH(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the quickstart over hh-rlhf")
	}
	dir := hhRun(t)
	out := filepath.Join(t.TempDir(), "share")
	s, err := share.Export(context.Background(), dir, out)
	if err != nil {
		t.Fatal(err)
	}
	want, err := runfolder.Folder(dir).ShareableFiles()
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Files) != len(want)+1 || len(s.Skipped) != 0 {
		t.Fatalf("wrote %v (skipped %v), shareable %v", s.Files, s.Skipped, want)
	}
	var written []string
	filepath.WalkDir(out, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(out, p)
			written = append(written, filepath.ToSlash(rel))
		}
		return err
	})
	for _, rel := range written {
		if rel != share.ReadmeFile && !runfolder.Shareable(rel) && !runfolder.FlooredOnExport(rel) {
			t.Errorf("private file exported: %s", rel)
		}
	}
	if len(written) != len(s.Files) {
		t.Errorf("files on disk %v, summary %v", written, s.Files)
	}

	// The tree: its values under the floor are those the report counts.
	var d report.Data
	b, _ := os.ReadFile(filepath.Join(dir, report.JSONFile))
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	under := -1
	for _, f := range d.Fields {
		if f.Name == "ai_values" {
			under = f.Suppressed.Values
		}
	}
	tree := "taxonomy/ai_values.tree.csv"
	if under <= 0 || s.Withheld[tree] != under {
		t.Fatalf("tree rows withheld %d, the report has %d values under the floor", s.Withheld[tree], under)
	}
	count := func(path string) int {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		tr, err := taxonomy.ReadCSV(f)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, node := range tr.Nodes {
			if node.Level == 0 {
				n++
			}
		}
		return n
	}
	if before, after := count(filepath.Join(dir, tree)), count(filepath.Join(out, tree)); after != before-under {
		t.Fatalf("tree leaves: %d in the run, %d exported, %d under the floor", before, after, under)
	}
	// The margin attack on the tree: a cluster's share less its children's
	// would be what its withheld values hold; it is nothing (to rounding).
	f, err := os.Open(filepath.Join(out, tree))
	if err != nil {
		t.Fatal(err)
	}
	exported, err := taxonomy.ReadCSV(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	children := map[string]float64{}
	kids := map[string]int{}
	for _, n := range exported.Nodes {
		children[n.Parent] += n.Pct
		kids[n.Parent]++
	}
	for _, n := range exported.Nodes {
		if n.Level == 0 {
			continue
		}
		if rest := n.Pct - children[n.ID]; math.Abs(rest) > 0.0005*float64(kids[n.ID]+1) {
			t.Errorf("cluster %s: %.3f%% less its children's leaves %.4f%% for withheld values", n.ID, n.Pct, rest)
		}
	}
	if top := children[""]; math.Abs(top-100) > 0.01 {
		t.Errorf("top level sums to %.3f%%", top)
	}
	readme, _ := os.ReadFile(filepath.Join(out, share.ReadmeFile))
	if !strings.Contains(string(readme), "fewer than 5 distinct conversations") {
		t.Errorf("README:\n%s", readme)
	}
	if _, err := share.Export(context.Background(), dir, out); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("export into a folder with files: %v", err)
	}
	if _, err := share.Export(context.Background(), dir, filepath.Join(dir, "share")); err == nil || !strings.Contains(err.Error(), "inside the run") {
		t.Errorf("export inside the run: %v", err)
	}
	t.Logf("exported %d files; %d tree values under the floor withheld", len(s.Files), under)
}
