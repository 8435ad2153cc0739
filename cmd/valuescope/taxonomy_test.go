package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/valuescope/valuescope/internal/shareddata"
)

// The taxonomy commands end to end: build a 4-level tree from the paper's
// 3,307 values offline, compare it with the paper's tree, and assign a run's
// values onto the paper's tree.
func TestTaxonomyCommands(t *testing.T) {
	values := shareddata.Path(t, "values-in-the-wild/values_frequencies.csv")
	paper := shareddata.Path(t, "values-in-the-wild/values_tree.csv")
	dir := t.TempDir()
	tree := filepath.Join(dir, "tree.csv")
	if code, _, errs := valuescope(t, "taxonomy", "build", "--values", values, "--levels", "266,26,5", "--out", tree); code != 0 {
		t.Fatalf("build: exit %d: %s", code, errs)
	}
	code, out, errs := valuescope(t, "taxonomy", "compare", tree, paper, "--json")
	if code != 0 {
		t.Fatalf("compare: exit %d: %s", code, errs)
	}
	var cmp any
	if err := json.Unmarshal([]byte(out), &cmp); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if !strings.Contains(out, "ami") && !strings.Contains(out, "AMI") {
		t.Fatalf("no AMI in %s", out)
	}
	run := t.TempDir()
	if code, _, errs := valuescope(t, "run", "--quiet", "--no-report", "--out", run, filepath.Join("..", "..", "configs", "quickstart.toml")); code != 0 {
		t.Fatal(errs)
	}
	assigned := filepath.Join(dir, "assigned.csv")
	if code, _, errs := valuescope(t, "taxonomy", "assign", run, "--reference", paper, "--out", assigned); code != 0 {
		t.Fatalf("assign: exit %d: %s", code, errs)
	}
	b, err := os.ReadFile(assigned)
	if err != nil || strings.Count(string(b), "\n") < 10 {
		t.Fatalf("assigned: %v\n%s", err, b)
	}
	if code, _, _ := valuescope(t, "taxonomy", "build"); code != 2 {
		t.Fatalf("build with no input: exit %d, want 2", code)
	}
}
