package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/valuescope/valuescope/host/taxonomy"
	"github.com/valuescope/valuescope/internal/shareddata"
)

// treeNames are the names of one level of a tree file.
func treeNames(t *testing.T, path string, level int) []string {
	t.Helper()
	tr, err := taxonomy.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, n := range tr.Level(level) {
		out = append(out, n.Name)
	}
	return out
}

type treeReport struct {
	Name  string  `json:"name"`
	Rows  int     `json:"rows"`
	N     float64 `json:"n"`
	Input struct {
		InTable  int `json:"in_table"`
		Unplaced int `json:"unplaced_values"`
	} `json:"input"`
	Contexts []struct {
		Context  string `json:"context"`
		Positive []struct {
			Value    string  `json:"value"`
			Residual float64 `json:"residual"`
			Count    float64 `json:"count"`
		} `json:"positive"`
	} `json:"contexts"`
	Files []string `json:"files"`
}

func analyzeTree(t *testing.T, run string, argv ...string) []treeReport {
	t.Helper()
	code, out, errs := valuescope(t, append([]string{"analyze", run, "--table", "ai_values:topic", "--min-conversations", "2", "--json"}, argv...)...)
	if code != 0 {
		t.Fatalf("analyze %v: exit %d\n%s%s", argv, code, out, errs)
	}
	var reps []treeReport
	if err := json.Unmarshal([]byte(out), &reps); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if len(reps) != 1 || !strings.Contains(errs, "taxonomy: ") {
		t.Fatalf("%+v\nstderr: %s", reps, errs)
	}
	return reps
}

// analyze and compare on a level of the paper's tree, of a tree built from
// the run, and of a small tree most values are far from.
func TestAnalyzeAndCompareOnTree(t *testing.T) {
	paper := shareddata.Path(t, "values-in-the-wild/values_tree.csv")
	run := quickstartRun(t, "")

	// The paper's level 1 (266 clusters): coding conversations express
	// "Technical expertise" (technical excellence, ...) more than expected.
	l1 := treeNames(t, paper, 1)
	rep := analyzeTree(t, run, "--tree", paper)[0]
	if rep.N == 0 || rep.Rows < 20 || rep.Input.InTable == 0 || rep.Input.Unplaced != 0 {
		t.Fatalf("%+v", rep)
	}
	found := false
	for _, c := range rep.Contexts {
		for _, a := range c.Positive {
			if !slices.Contains(l1, a.Value) {
				t.Errorf("%s: %q is not a level-1 node of the paper's tree", c.Context, a.Value)
			}
			if c.Context == "coding" && a.Value == "Technical expertise" && a.Residual > 4 && a.Count >= 5 {
				found = true
			}
		}
	}
	if !found {
		t.Errorf("no Technical expertise in coding: %+v", rep.Contexts)
	}
	dir := filepath.Join(run, "analysis", "values_tree.level1")
	for _, f := range rep.Files {
		if !strings.HasPrefix(filepath.Join(run, f), dir) {
			t.Errorf("file %s outside %s", f, dir)
		}
	}
	var tm struct {
		Tree  string `json:"tree"`
		Level int    `json:"level"`
		Nodes int    `json:"nodes"`
		Runs  []struct {
			Summary taxonomy.AssignSummary `json:"summary"`
		} `json:"runs"`
	}
	b, err := os.ReadFile(filepath.Join(dir, "taxonomy.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &tm); err != nil || tm.Tree != paper || tm.Level != 1 || tm.Nodes != 266 || len(tm.Runs) != 1 || tm.Runs[0].Summary.Assigned < 50 {
		t.Fatalf("taxonomy.json: %v\n%s", err, b)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "assignments.csv")); err != nil || !strings.Contains(string(b), "technical excellence,") {
		t.Errorf("assignments.csv: %v\n%.300s", err, b)
	}

	// The top level (5 clusters), as text.
	code, out, errs := valuescope(t, "analyze", run, "--table", "ai_values:topic", "--min-conversations", "1", "--tree", paper, "--tree-level", "3")
	if code != 0 || !strings.Contains(out, "taxonomy: "+paper+", level 3 (5 nodes), for ai_values") ||
		!strings.Contains(out, "0 unassigned under similarity 0.60") || !strings.Contains(out, "; 0 annotations left unplaced)") ||
		!strings.Contains(out, "table: 5 values x 8 contexts") || !strings.Contains(out, "Practical values") {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}

	// A tree built from the run itself, on its level 2 (3 clusters).
	built := filepath.Join(t.TempDir(), "tree.csv")
	if code, _, errs := valuescope(t, "taxonomy", "build", run, "--levels", "8,3", "--out", built); code != 0 {
		t.Fatalf("build: %s", errs)
	}
	rep = analyzeTree(t, run, "--tree", built, "--tree-level", "2", "--min-conversations", "1")[0]
	l2 := treeNames(t, built, 2)
	if rep.Rows != 3 || rep.Input.Unplaced != 0 {
		t.Fatalf("built tree: %+v", rep)
	}
	for _, c := range rep.Contexts {
		for _, a := range c.Positive {
			if !slices.Contains(l2, a.Value) {
				t.Errorf("%q is not a level-2 node of the built tree %v", a.Value, l2)
			}
		}
	}

	// A small tree: values far from its two leaves are unplaced, and counted.
	small := filepath.Join(t.TempDir(), "small.csv")
	os.WriteFile(small, []byte("cluster_id,description,name,level,parent_cluster_id,pct_total_occurrences\n"+
		"technical excellence,,technical excellence,0,c1,50\nhonesty,,honesty,0,c1,50\nc1,,Craft and candour,1,,100\n"), 0o644)
	rep = analyzeTree(t, run, "--tree", small, "--min-conversations", "1")[0]
	if rep.Rows != 1 || rep.Input.Unplaced == 0 || rep.Input.InTable == 0 {
		t.Fatalf("small tree: %+v", rep)
	}

	// compare: two runs on one shared level of the paper's tree.
	b2 := quickstartRun(t, "min_turn_chars = 900")
	outDir := filepath.Join(t.TempDir(), "cmp")
	code, out, errs = valuescope(t, "compare", run, b2, "--tree", paper, "--json", "--min-conversations", "1", "--out", outDir)
	if code != 0 {
		t.Fatalf("compare: exit %d\n%s%s", code, out, errs)
	}
	var cmp compareJSON
	if err := json.Unmarshal([]byte(out), &cmp); err != nil {
		t.Fatal(err)
	}
	var vals []string
	for _, f := range cmp.Pairs[0].Fields {
		if f.Field != "ai_values" {
			continue
		}
		for _, v := range f.Values {
			vals = append(vals, v.Value)
			if !slices.Contains(l1, v.Value) {
				t.Errorf("compare: %q is not a level-1 node", v.Value)
			}
		}
		if !(*f.JSD > 0) || f.Agreement.MeanJaccard >= 1 {
			t.Errorf("compare on the tree: %+v", f)
		}
	}
	if !slices.Contains(vals, "Technical expertise") {
		t.Errorf("compare values: %v", vals)
	}
	if !strings.Contains(errs, "level 1 (266 nodes)") || strings.Count(errs, "unassigned under similarity") != 2 {
		t.Errorf("stderr: %s", errs)
	}
	if err := json.Unmarshal(mustRead(t, filepath.Join(outDir, "taxonomy.json")), &tm); err != nil || len(tm.Runs) != 2 {
		t.Errorf("compare taxonomy.json: %v %+v", err, tm)
	}
	code, out, _ = valuescope(t, "compare", run, b2, "--tree", paper, "--tree-level", "2")
	if code != 0 || !strings.Contains(out, "level 2 (26 nodes)") || !strings.Contains(out, "Professional and technical excellence") {
		t.Fatalf("compare text: exit %d\n%s", code, out)
	}

	// Usage errors.
	for _, c := range []struct {
		argv []string
		want string
	}{
		{[]string{"analyze", run, "--tree", paper, "--tree-level", "4"}, "levels 0 (its values) to 3"},
		{[]string{"analyze", run, "--tree-level", "2"}, "--tree-level needs --tree"},
		{[]string{"compare", run, b2, "--threshold", "0.5"}, "--threshold needs --tree"},
		{[]string{"compare", run, b2, "--tree", paper, "--threshold", "2"}, "between -1 and 1"},
	} {
		if code, _, errs := valuescope(t, c.argv...); code != 2 || !strings.Contains(errs, c.want) {
			t.Errorf("%v: exit %d, %s", c.argv, code, errs)
		}
	}
	if code, _, errs := valuescope(t, "analyze", run, "--tree", paper, "--tree-field", "human_values"); code != 1 || !strings.Contains(errs, "no human_values annotations") {
		t.Errorf("--tree-field human_values: exit %d, %s", code, errs)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
