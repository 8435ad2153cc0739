package report_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/valuescope/valuescope/host/report"
	"github.com/valuescope/valuescope/host/runfolder"
	"github.com/valuescope/valuescope/host/store"
	"github.com/valuescope/valuescope/host/taxonomy"
)

// readReport reads a run folder's report.json.
func readReport(t *testing.T, dir string) *report.Data {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, report.JSONFile))
	if err != nil {
		t.Fatal(err)
	}
	d := &report.Data{}
	if err := json.Unmarshal(b, d); err != nil {
		t.Fatal(err)
	}
	return d
}

// checkTree checks every node of a tree: a name, conversations at least
// each child's, the share its conversations over annotated, and returns
// the tree's depth (the root alone: 0).
func checkTree(t *testing.T, n *report.Node, annotated int) int {
	t.Helper()
	if strings.TrimSpace(n.Name) == "" {
		t.Errorf("a node without a name: %+v", n)
	}
	if want := float64(n.Conversations) / float64(annotated); n.Share < want-1e-9 || n.Share > want+1e-9 {
		t.Errorf("%q: share %v, want %d/%d", n.Name, n.Share, n.Conversations, annotated)
	}
	depth := 0
	for _, c := range n.Children {
		if c.Conversations > n.Conversations {
			t.Errorf("%q (%d conversations) under %q (%d)", c.Name, c.Conversations, n.Name, n.Conversations)
		}
		depth = max(depth, 1+checkTree(t, c, annotated))
	}
	return depth
}

// The quickstart run's report shows the run's own taxonomy: built at the
// end of the run, written in the paper's layout, reused by the next report
// while the store has not changed, built again once it has.
func TestQuickstartTaxonomy(t *testing.T) {
	dir := quickstart(t)
	d := readReport(t, dir)
	tx := d.Taxonomy
	file := runfolder.Folder(dir).TreeFile("ai_values")
	if tx == nil || tx.Source != report.TreeBuilt || tx.Field != "ai_values" || tx.File != "taxonomy/ai_values.tree.csv" || len(tx.Levels) < 3 || tx.Values < taxonomy.MinRunValues {
		t.Fatalf("taxonomy: %+v", tx)
	}
	if p := tx.Placement; p == nil || p.Values == 0 || p.Exact != p.Values {
		t.Errorf("the run's values on their own tree: %+v", p)
	}
	fi, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	head, _ := os.ReadFile(file)
	if !strings.HasPrefix(string(head), "cluster_id,description,name,level,parent_cluster_id,pct_total_occurrences\r\n") {
		t.Errorf("%s: not the paper's layout: %.100q", file, head)
	}
	var annotated int
	for _, f := range d.Fields {
		if f.Name == "ai_values" {
			annotated = f.Annotated
		}
	}
	if d.Tree.Name != "ai_values" || d.Tree.Conversations != annotated || len(d.Tree.Children) < 2 {
		t.Fatalf("tree root: %q, %d conversations of %d, %d children", d.Tree.Name, d.Tree.Conversations, annotated, len(d.Tree.Children))
	}
	// root, then each cluster level, then the values
	if depth := checkTree(t, d.Tree, annotated); depth != len(tx.Levels) {
		t.Errorf("tree depth %d, want %d (levels %v)", depth, len(tx.Levels), tx.Levels)
	}
	page, _ := os.ReadFile(filepath.Join(dir, report.HTMLFile))
	if !strings.Contains(string(page), filepath.Join("taxonomy", "ai_values.tree.csv")) {
		t.Error("the page does not name the tree file")
	}
	checkJSON(t, dir)

	// Again: the tree file is newer than the store, so it is reused as is.
	again, err := report.Build(context.Background(), dir, report.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if again.Taxonomy.Source != report.TreeReused {
		t.Errorf("second report: %+v", again.Taxonomy)
	}
	if fi2, err := os.Stat(file); err != nil || !fi2.ModTime().Equal(fi.ModTime()) {
		t.Errorf("the tree file was written again: %v", err)
	}
	a, _ := json.Marshal(d.Tree)
	b, _ := json.Marshal(again.Tree)
	if string(a) != string(b) {
		t.Error("the reused tree differs from the built one")
	}

	// The store changed since: built again.
	later := fi.ModTime().Add(time.Second)
	if err := os.Chtimes(filepath.Join(dir, "store.sqlite"), later, later); err != nil {
		t.Fatal(err)
	}
	if d, err := report.Build(context.Background(), dir, report.Options{}); err != nil || d.Taxonomy.Source != report.TreeBuilt {
		t.Errorf("after the store changed: %v %+v", err, d.Taxonomy)
	}

	// Flat on request.
	flat, err := report.Build(context.Background(), dir, report.Options{Flat: true})
	if err != nil {
		t.Fatal(err)
	}
	if flat.Taxonomy.Source != report.TreeFlat || flat.Tree.Name != "all values" || flat.Tree.Children[0].Name != "ai_values" {
		t.Errorf("--flat: %+v, root %q", flat.Taxonomy, flat.Tree.Name)
	}

	// Too many values to cluster in the report: flat, and says how to build it.
	os.Remove(file)
	big, err := report.Build(context.Background(), dir, report.Options{BuildMax: 50})
	if err != nil {
		t.Fatal(err)
	}
	if big.Taxonomy.Source != report.TreeFlat || !strings.Contains(big.Taxonomy.Note, "valuescope taxonomy build "+dir+" --field ai_values --out "+file) {
		t.Errorf("over BuildMax: %+v", big.Taxonomy)
	}
	if _, err := os.Stat(file); err == nil {
		t.Error("over BuildMax: a tree was written")
	}
}

// writeRun writes a run store whose conversations have the values given:
// values[v] conversations each express value v.
func writeRun(t *testing.T, dir string, values map[string]int) {
	t.Helper()
	c, err := runfolder.Claim(dir, "test")
	if err != nil {
		t.Fatal(err)
	}
	c.Release()
	st, err := store.Open(c.Store())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.SetStages([]store.Stage{{Name: "values", Fingerprint: "a"}}); err != nil {
		t.Fatal(err)
	}
	var batch []store.Result
	names := slices.Sorted(func(yield func(string) bool) {
		for v := range values {
			if !yield(v) {
				return
			}
		}
	})
	for _, v := range names {
		for range values[v] {
			i := len(batch)
			conv := store.Conversation{Seq: int64(i + 1), ID: fmt.Sprintf("c%03d", i), Source: "test.jsonl", ContentSHA: fmt.Sprint(i), MetaJSON: "{}"}
			batch = append(batch, store.Result{Conv: conv, Stage: "values", Items: []store.Annotation{{Field: "ai_values", Value: v}}})
		}
	}
	if err := st.Write(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
}

// On a reference tree a value is placed on the leaf of its normalised
// name, else on the nearest leaf by meaning (the offline embedder), else,
// under the threshold, under "unassigned".
func TestReferenceTreeByEmbedding(t *testing.T) {
	dir := t.TempDir()
	writeRun(t, dir, map[string]int{"Honesty": 5, "truthfulness": 5, "Honesty and transparency": 6, "empathy": 5, "zqxjv": 5, "fairness": 2})
	tree := filepath.Join(dir, "tree.csv")
	os.WriteFile(tree, []byte("cluster_id,description,name,level,parent_cluster_id,pct_total_occurrences\r\n"+
		"honesty,,honesty,0,c-ethics,10.5\r\nfairness,,fairness,0,c-ethics,5\r\ncompassion,,compassion,0,c-care,8\r\nsustainability,,sustainability,0,c-care,2\r\n"+
		"c-ethics,,Ethics,1,top,15.5\r\nc-care,,Care,1,top,10\r\ntop,,Moral values,2,,25.5"), 0o644)

	place := func(o report.Options) (*report.Data, map[string]*report.Node) {
		t.Helper()
		o.Tree = tree
		d, err := report.Build(context.Background(), dir, o)
		if err != nil {
			t.Fatal(err)
		}
		nodes := map[string]*report.Node{}
		var walk func(*report.Node)
		walk = func(n *report.Node) {
			nodes[n.Name] = n
			for _, c := range n.Children {
				walk(c)
			}
		}
		walk(d.Tree)
		return d, nodes
	}
	d, nodes := place(report.Options{})
	if d.Taxonomy.Source != report.TreeReference || d.TreeReference != filepath.Base(tree) {
		t.Errorf("taxonomy: %+v", d.Taxonomy)
	}
	honesty := nodes["honesty"]
	if honesty == nil || honesty.Conversations != 16 || !slices.Equal(honesty.Matched, []string{"Honesty and transparency", "truthfulness"}) {
		t.Fatalf("honesty: %+v", honesty)
	}
	if honesty.ReferencePct == nil || *honesty.ReferencePct != 10.5 || nodes["Moral values"] == nil || *nodes["Moral values"].ReferencePct != 25.5 {
		t.Errorf("reference percentages: %+v", honesty)
	}
	if c := nodes["compassion"]; c == nil || c.Conversations != 5 || !slices.Equal(c.Matched, []string{"empathy"}) {
		t.Errorf("compassion: %+v", c)
	}
	if e := nodes["Ethics"]; e == nil || e.Conversations != 16 || e.Suppressed != 1 { // fairness: its 2 conversations are under the floor, and not counted (recountShown)
		t.Errorf("Ethics: %+v", e)
	}
	un := nodes["unassigned"]
	if un == nil || len(un.Children) != 1 || un.Children[0].Name != "zqxjv" {
		t.Errorf("unassigned: %+v", un)
	}
	if p := d.Taxonomy.Placement; p == nil || p.Values != 6 || p.Exact != 2 || p.Assigned != 5 || p.Unassigned != 1 {
		t.Errorf("placement: %+v", p)
	}
	if err := report.Write(dir, d); err != nil {
		t.Fatal(err)
	}
	page, _ := os.ReadFile(filepath.Join(dir, report.HTMLFile))
	if !strings.Contains(string(page), "also: Honesty and transparency, truthfulness") {
		t.Error("the page does not list the values placed by meaning")
	}

	// A strict threshold leaves them unassigned.
	_, nodes = place(report.Options{Threshold: ptr(0.99)})
	if n := nodes["honesty"]; n == nil || n.Conversations != 5 || len(n.Matched) != 0 || len(nodes["unassigned"].Children) != 4 {
		t.Errorf("threshold 0.99: honesty %+v, unassigned %+v", n, nodes["unassigned"])
	}
}

func ptr[T any](v T) *T { return &v }
