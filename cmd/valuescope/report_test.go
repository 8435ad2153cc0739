package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The run's own taxonomy through the command line: `run` builds it, the
// next `report` reuses it, and it is the tree `taxonomy build RUN` makes.
func TestReportTaxonomy(t *testing.T) {
	run := t.TempDir()
	code, stdout, errs := valuescope(t, "run", "--quiet", "--out", run, filepath.Join("..", "..", "configs", "quickstart.toml"))
	own := filepath.Join(run, "taxonomy", "ai_values.tree.csv")
	// The report names the tree by its place in the run (the report is shareable).
	if code != 0 || !strings.Contains(stdout, "taxonomy: The run's own taxonomy of ai_values") || !strings.Contains(stdout, "taxonomy/ai_values.tree.csv") {
		t.Fatalf("run: exit %d\n%s%s", code, stdout, errs)
	}
	if code, stdout, errs := valuescope(t, "report", run); code != 0 || !strings.Contains(stdout, "reused") {
		t.Fatalf("report: exit %d\n%s%s", code, stdout, errs)
	}
	built := filepath.Join(t.TempDir(), "tree.csv")
	if code, _, errs := valuescope(t, "taxonomy", "build", run, "--out", built); code != 0 {
		t.Fatalf("taxonomy build: exit %d: %s", code, errs)
	}
	if a, b := mustRead(t, own), mustRead(t, built); !bytes.Equal(a, b) {
		t.Errorf("the report's tree differs from taxonomy build's:\n%.300s\n%.300s", a, b)
	}

	var d struct {
		Tree struct {
			Name string `json:"name"`
		} `json:"tree"`
		Taxonomy struct {
			Source string `json:"source"`
		} `json:"taxonomy"`
	}
	code, stdout, errs = valuescope(t, "report", run, "--flat", "--json")
	if err := json.Unmarshal([]byte(stdout), &d); code != 0 || err != nil || d.Taxonomy.Source != "flat" || d.Tree.Name != "all values" {
		t.Fatalf("--flat: exit %d, %v, %+v\n%s", code, err, d, errs)
	}

	// --vectors: word vectors of one's own place values by their meaning.
	dir := t.TempDir()
	tree := filepath.Join(dir, "tree.csv")
	os.WriteFile(tree, []byte("cluster_id,description,name,level,parent_cluster_id,pct_total_occurrences\r\n"+
		"honesty,,honesty,0,c1,50\r\nsafety,,safety,0,c2,50\r\nc1,,Truth,1,top,50\r\nc2,,Care,1,top,50\r\ntop,,Values,2,,100"), 0o644)
	vectors := filepath.Join(dir, "vectors.txt")
	os.WriteFile(vectors, []byte("honesty 1 0 0\npracticality 0.99 0.1 0\nsafety 0 1 0\nhelpfulness 0 0.98 0.1\n"), 0o644)
	var ref struct {
		Tree     node `json:"tree"`
		Taxonomy struct {
			Source string `json:"source"`
		} `json:"taxonomy"`
	}
	code, stdout, errs = valuescope(t, "report", run, "--tree", tree, "--vectors", vectors, "--json")
	if err := json.Unmarshal([]byte(stdout), &ref); code != 0 || err != nil || ref.Taxonomy.Source != "reference" {
		t.Fatalf("--tree --vectors: exit %d, %v\n%s", code, err, errs)
	}
	matched := map[string][]string{}
	ref.Tree.walk(func(n node) { matched[n.Name] = n.Matched })
	if !slices.Contains(matched["honesty"], "practicality") || !slices.Contains(matched["safety"], "helpfulness") {
		t.Errorf("placed by --vectors: %v", matched)
	}

	for _, argv := range [][]string{
		{"report", run, "--flat", "--tree", tree},
		{"report", run, "--threshold", "1.5"},
	} {
		if code, _, _ := valuescope(t, argv...); code != 2 {
			t.Errorf("%v: exit %d, want 2", argv, code)
		}
	}
	if code, _, errs := valuescope(t, "report", run, "--vectors", filepath.Join(dir, "none.txt")); code != 1 || !strings.Contains(errs, "none.txt") {
		t.Errorf("--vectors of no file: exit %d: %s", code, errs)
	}
}

// node is a node of report.json's tree.
type node struct {
	Name     string   `json:"name"`
	Matched  []string `json:"matched"`
	Children []node   `json:"children"`
}

func (n node) walk(f func(node)) {
	f(n)
	for _, c := range n.Children {
		c.walk(f)
	}
}
