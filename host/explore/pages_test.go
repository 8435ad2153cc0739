package explore

import (
	"net/url"
	"testing"

	"github.com/valuescope/valuescope/host/report"
)

// TestClusterURLStable: a cluster's URL names it by its names from the
// top, so it stays the same, and opens the same cluster, when a count
// change reorders the children (sorted by count); a "/" in a name is
// escaped, not a level.
func TestClusterURLStable(t *testing.T) {
	leaf := func(name string, n int) *report.Node { return &report.Node{Name: name, Conversations: n} }
	tree := func(swap bool) *report.Node {
		epi := &report.Node{Name: "Epistemic", Conversations: 10, Children: []*report.Node{leaf("Honesty", 6), leaf("Rigor/precision", 4)}}
		soc := &report.Node{Name: "Social", Conversations: 8, Children: []*report.Node{leaf("Care", 8)}}
		root := &report.Node{Name: "all values", Children: []*report.Node{epi, soc}}
		if swap { // counts changed: Social and Rigor now first
			root.Children = []*report.Node{soc, epi}
			epi.Children = []*report.Node{epi.Children[1], epi.Children[0]}
		}
		return root
	}
	e := &Explorer{opts: Options{Text: true}}
	r := &Run{Slug: "run"}
	urls := func(root *report.Node) map[string]string {
		d := &report.Data{Tree: root, Taxonomy: &report.TreeInfo{Source: report.TreeBuilt, Field: "ai_values"}}
		out := map[string]string{}
		var walk func(*NodeView)
		walk = func(n *NodeView) {
			out[n.Name] = n.URL
			for _, c := range n.Children {
				walk(c)
			}
		}
		walk(e.nodeView(r, d, root, nil))
		return out
	}
	before, after := urls(tree(false)), urls(tree(true))
	for _, name := range []string{"Epistemic", "Honesty", "Rigor/precision", "Care"} {
		if before[name] == "" || before[name] != after[name] {
			t.Errorf("%s: URL %q, after the counts changed %q", name, before[name], after[name])
		}
		u, err := url.Parse(after[name])
		if err != nil {
			t.Fatal(err)
		}
		if n := findNode(tree(true), u.Query().Get("node")); n == nil || n.Name != name {
			t.Errorf("%s: %s opens node %v", name, after[name], n)
		}
	}
	if want := "/r/run/conversations?field=ai_values&node=Epistemic%2FHonesty"; before["Honesty"] != want {
		t.Errorf("Honesty: %s, want %s", before["Honesty"], want)
	}
	for _, bad := range []string{"0", "Epistemic/Nope", "Epistemic/Rigor/precision", "%zz", ""} {
		if n := findNode(tree(false), bad); n != nil {
			t.Errorf("node=%q found %s", bad, n.Name)
		}
	}
}
