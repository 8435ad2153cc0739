package report_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/valuescope/valuescope/host/analysis"
	"github.com/valuescope/valuescope/host/compare"
	"github.com/valuescope/valuescope/host/report"
	"github.com/valuescope/valuescope/internal/paperattack"
	"github.com/valuescope/valuescope/internal/shareddata"
	"github.com/valuescope/valuescope/internal/testruns"
)

// report.json's "Compared with the paper", attacked by subtraction: the
// offline hh-rlhf run on the paper's tree (Personal values 295 less its
// shown level-2 clusters gave away the one under the floor); and no
// private path in it (the run by its folder name).
func TestReportPaperSubtraction(t *testing.T) {
	paperDir := shareddata.Path(t, "values-in-the-wild")
	tree := filepath.Join(paperDir, compare.PaperTreeFile)
	dir := testruns.Offline(t, "hh-rlhf")
	if _, err := report.Generate(context.Background(), dir, report.Options{Tree: tree}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, report.JSONFile))
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Paper json.RawMessage `json:"paper"`
	}
	if err := json.Unmarshal(b, &d); err != nil || len(d.Paper) == 0 {
		t.Fatalf("report.json: no paper (%v)", err)
	}
	p, err := compare.ReadPaper(paperDir)
	if err != nil {
		t.Fatal(err)
	}
	all, err := compare.ComparePaper(context.Background(), dir, p, compare.PaperOptions{})
	if err != nil {
		t.Fatal(err)
	}
	leaks, err := paperattack.Leaks(d.Paper, paperattack.TruthOf(all, analysis.DefaultFloor.MinConversations))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range leaks {
		t.Errorf("report.json leaks: %s", l)
	}
	if strings.Contains(string(d.Paper), dir) {
		t.Errorf("report.json's paper names the run's path %s", dir)
	}
	if strings.Contains(string(b), filepath.Dir(tree)) {
		t.Errorf("report.json names the tree's folder %s", filepath.Dir(tree))
	}
}
