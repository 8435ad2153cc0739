package taxonomy_test

import (
	"context"
	"testing"

	"github.com/valuescope/valuescope/host/analysis"
	"github.com/valuescope/valuescope/host/runfolder"
	"github.com/valuescope/valuescope/host/taxonomy"
	"github.com/valuescope/valuescope/internal/testruns"
)

// The cluster, from the offline hh-rlhf run: "Empathy" over a
// count that is mostly epistemic humility and helpfulness. NameFit must
// catch it, and the namer must name it otherwise.
func TestNameFitCatchesEmpathy(t *testing.T) {
	ctx := context.Background()
	members := []taxonomy.Member{
		{Name: "empathy", Count: 1.795, Similarity: 0.9},
		{Name: "epistemic humility", Count: 12.349, Similarity: 0.5},
		{Name: "helpfulness", Count: 12.306, Similarity: 0.5},
		{Name: "playfulness", Count: 1.7, Similarity: 0.4},
		{Name: "caution", Count: 0.898, Similarity: 0.4},
		{Name: "emotional support", Count: 1.927, Similarity: 0.8},
		{Name: "compassion", Count: 0.263, Similarity: 0.8},
		{Name: "courtesy", Count: 0.547, Similarity: 0.6},
	}
	fit, err := taxonomy.NameFit(ctx, taxonomy.Offline{}, "Empathy", members)
	if err != nil {
		t.Fatal(err)
	}
	if fit >= taxonomy.MinNameFit {
		t.Errorf("\"Empathy\" fits %.2f of a cluster mostly of epistemic humility and helpfulness", fit)
	}
	names, err := taxonomy.RepresentativeNamer{}.Name(ctx, []taxonomy.ClusterToName{{Level: 1, Members: members}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := taxonomy.NameFit(ctx, taxonomy.Offline{}, names[0].Name, members)
	if err != nil {
		t.Fatal(err)
	}
	if got < taxonomy.MinNameFit {
		t.Errorf("namer: %q fits %.2f", names[0].Name, got)
	}
	t.Logf("%q fits %.2f (\"Empathy\" %.2f)", names[0].Name, got, fit)
	// A cluster its representative names well keeps that name.
	close := []taxonomy.Member{{Name: "harm prevention", Count: 9, Similarity: 0.9}, {Name: "harm reduction", Count: 1, Similarity: 0.8}, {Name: "safety", Count: 2, Similarity: 0.7}}
	if n, _ := (taxonomy.RepresentativeNamer{}).Name(ctx, []taxonomy.ClusterToName{{Level: 1, Members: close}}); n[0].Name != "Harm prevention" {
		t.Errorf("a fitting representative renamed: %q", n[0].Name)
	}
}

// Every cluster name of the offline runs' own taxonomies fits its members
// that the privacy floor lets name it (a value extracted fewer than
// analysis.DefaultFloor.MinConversations times is never shown to the namer,
// so that a name cannot disclose it; the tree does not show it either).
func TestRunTreeNamesFit(t *testing.T) {
	ctx := context.Background()
	for _, data := range []string{"hh-rlhf", "chatbot-arena"} {
		dir := testruns.Offline(t, data)
		tree, err := taxonomy.ReadFile(runfolder.Folder(dir).TreeFile(taxonomy.DefaultField))
		if err != nil {
			t.Fatal(err)
		}
		vals, err := taxonomy.ReadRun(ctx, dir, taxonomy.DefaultField)
		if err != nil {
			t.Fatal(err)
		}
		times := map[string]float64{}
		for _, v := range vals {
			times[taxonomy.Key(v.Name)] += v.Count
		}
		children := map[string][]taxonomy.Member{}
		for _, n := range tree.Nodes {
			if n.Level == 0 && times[taxonomy.Key(n.Name)] < float64(analysis.DefaultFloor.MinConversations) {
				continue
			}
			if n.Parent != "" {
				children[n.Parent] = append(children[n.Parent], taxonomy.Member{Name: n.Name, Count: n.Pct})
			}
		}
		checked := 0
		for _, n := range tree.Nodes {
			if n.Level == 0 || n.Name == "Less frequent values" {
				continue
			}
			fit, err := taxonomy.NameFit(ctx, taxonomy.Offline{}, n.Name, children[n.ID])
			if err != nil {
				t.Fatal(err)
			}
			checked++
			if fit < taxonomy.MinNameFit {
				t.Errorf("%s: level %d %q fits %.2f of its %d members: %v", data, n.Level, n.Name, fit, len(children[n.ID]), children[n.ID])
			} else {
				t.Logf("%s: level %d %q fits %.2f", data, n.Level, n.Name, fit)
			}
		}
		if checked == 0 {
			t.Errorf("%s: no cluster checked", data)
		}
	}
}
