package compare_test

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/valuescope/valuescope/host/analysis"
	"github.com/valuescope/valuescope/host/compare"
	"github.com/valuescope/valuescope/host/taxonomy"
	"github.com/valuescope/valuescope/host/valuename"
	"github.com/valuescope/valuescope/internal/oracle"
	"github.com/valuescope/valuescope/internal/shareddata"
	"github.com/valuescope/valuescope/internal/testruns"
)

// The offline hh-rlhf run beside the paper: the five top-level clusters
// with the paper's shares as its files give them, every share in the
// paper's unit, and the clusters' intervals those of R's survey::svyratio
// on the run's own per-conversation counts.
func TestComparePaperHHRLHF(t *testing.T) {
	p, err := compare.ReadPaper(shareddata.Path(t, "values-in-the-wild"))
	if err != nil {
		t.Fatal(err)
	}
	dir := testruns.Offline(t, "hh-rlhf")
	rep, err := compare.ComparePaper(context.Background(), dir, p, compare.PaperOptions{Floor: analysis.DefaultFloor})
	if err != nil {
		t.Fatal(err)
	}
	top := rep.Levels[0]
	want := map[string]float64{"Practical values": 0.31426, "Epistemic values": 0.22203, "Social values": 0.2141, "Protective values": 0.13862, "Personal values": 0.11099}
	if top.Level != 3 || len(top.Nodes) != 5 || top.Unit != compare.UnitOccurrences {
		t.Fatalf("top level: %+v", top)
	}
	sum, occ := 0.0, 0
	for _, n := range top.Nodes {
		if w, ok := want[n.Name]; !ok || math.Abs(n.Paper-w) > 1e-12 {
			t.Errorf("%s: paper %v, want %v", n.Name, n.Paper, w)
		}
		sum += float64(n.Share)
		occ += n.Occurrences
		if !n.Shown || !(n.CI.Low <= n.Share && n.Share <= n.CI.High) {
			t.Errorf("%s: share %v outside its interval %+v", n.Name, n.Share, n.CI)
		}
	}
	if math.Abs(sum-1) > 1e-12 || occ != rep.Occurrences {
		t.Errorf("top-level shares sum to %v over %d of %d occurrences", sum, occ, rep.Occurrences)
	}
	if l2 := rep.Levels[1]; l2.Level != 2 || len(l2.Nodes) != 26 {
		t.Errorf("level 2: %d nodes, %d suppressed", len(l2.Nodes), l2.Suppressed)
	}
	for _, v := range rep.Values {
		if float64(v.Share) != float64(v.Count)/float64(rep.WithValues) {
			t.Errorf("%s: share %v of %d/%d", v.Value, v.Share, v.Count, rep.WithValues)
		}
		if v.Exact && float64(v.Paper) != p.Freq[valuename.Key(v.Leaf)] {
			t.Errorf("%s: paper %v, file %v", v.Value, v.Paper, p.Freq[valuename.Key(v.Leaf)])
		}
	}
	if rep.Values[0].Value == "" || len(rep.Values) != 20 {
		t.Errorf("values: %+v", rep.Values)
	}

	// The oracle: per annotated conversation, its tree values (x) and
	// those under each top-level cluster (y), as the paper counts
	// occurrences; R's svyratio gives the ratio and its standard error.
	r, err := analysis.LoadRun(context.Background(), dir, analysis.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	f, err := r.Field("ai_values")
	if err != nil {
		t.Fatal(err)
	}
	var values []taxonomy.Value
	seen := map[string]bool{}
	for i := range r.Conversations {
		for _, v := range f.Values(i) {
			if !seen[v] {
				seen[v] = true
				values = append(values, taxonomy.Value{Name: v, Count: 1})
			}
		}
	}
	as, _, err := taxonomy.Assign(context.Background(), values, p.Tree, nil, taxonomy.DefaultThreshold)
	if err != nil {
		t.Fatal(err)
	}
	leaf := map[string]string{}
	for _, a := range as {
		if a.Assigned {
			leaf[a.Value] = a.Leaf
		}
	}
	var csv strings.Builder
	csv.WriteString("x")
	names := []string{}
	ids := []string{}
	for _, n := range top.Nodes {
		names = append(names, n.Name)
		ids = append(ids, n.ID)
		fmt.Fprintf(&csv, ",y%d", len(ids))
	}
	csv.WriteString("\n")
	for i := range r.Conversations {
		if !f.Done[i] {
			continue
		}
		leaves := map[string]bool{}
		for _, v := range f.Values(i) {
			if l, ok := leaf[v]; ok {
				leaves[l] = true
			}
		}
		under := make([]int, len(ids))
		for l := range leaves {
			for k, id := range ids {
				if p.Tree.Ancestor(l, 3) == id {
					under[k]++
				}
			}
		}
		fmt.Fprintf(&csv, "%d", len(leaves))
		for _, u := range under {
			fmt.Fprintf(&csv, ",%d", u)
		}
		csv.WriteString("\n")
	}
	data := filepath.Join(t.TempDir(), "occ.csv")
	if err := os.WriteFile(data, []byte(csv.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	out := oracle.R(t, fmt.Sprintf(`suppressMessages(library(survey))
d <- read.csv(%q)
des <- svydesign(ids = ~1, data = d)
for (k in 1:%d) {
  r <- svyratio(as.formula(paste0("~y", k)), ~x, des)
  ci <- confint(r)
  cat(sprintf("%%.15g %%.15g %%.15g\n", coef(r), ci[1], ci[2]))
}`, data, len(ids)))
	lines := strings.Fields(out)
	if len(lines) != 3*len(ids) {
		t.Fatalf("R said %q", out)
	}
	for k, n := range top.Nodes {
		for j, got := range []float64{float64(n.Share), float64(n.CI.Low), float64(n.CI.High)} {
			w, _ := strconv.ParseFloat(lines[3*k+j], 64)
			if math.Abs(got-w) > 1e-9*math.Abs(w) {
				t.Errorf("%s: %v, R's svyratio %v (ratio, low, high: %d)", names[k], got, w, j)
			}
		}
	}
}

// The paper's files, broken: each error names the file and line.
func TestReadPaperBad(t *testing.T) {
	src := shareddata.Path(t, "values-in-the-wild/values_tree.csv")
	tree, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, freq, want string }{
		{"header", "name,share\nhelpfulness,23.359\n", "line 1: header"},
		{"not a number", "value,pct_convos\nhelpfulness,23.359\nclarity,lots\n", "line 3"},
		{"over 100", "value,pct_convos\nhelpfulness,230.5\n", "line 2"},
		{"empty value", "value,pct_convos\n,3\n", "line 2"},
		{"no values", "value,pct_convos\n", "no values"},
		{"ragged", "value,pct_convos\nhelpfulness\n", "line 2"},
	} {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, compare.PaperTreeFile), tree, 0o644)
		os.WriteFile(filepath.Join(dir, compare.PaperFrequenciesFile), []byte(c.freq), 0o644)
		_, err := compare.ReadPaper(dir)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), compare.PaperFrequenciesFile) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
	if _, err := compare.ReadPaper(t.TempDir()); err == nil || !strings.Contains(err.Error(), compare.PaperTreeFile) {
		t.Errorf("no files: %v", err)
	}
}
