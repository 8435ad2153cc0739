package report

import "testing"

// A cluster of a tree built from the run is not shown under the name of one
// of its values the privacy floor hides.
func TestGuardNames(t *testing.T) {
	leaf := func(name string, n int) *Node { return &Node{Name: name, convs: n} }
	rare, common := leaf("rare secret value", 1), leaf("honesty", 9)
	inner := &Node{Name: "Rare secret value", Children: []*Node{rare, common}}
	lonely := &Node{Name: "Another rare one", Children: []*Node{leaf("another rare one", 2)}}
	fine := &Node{Name: "Honesty", Children: []*Node{leaf("honesty", 9), leaf("candour", 1)}}
	top := &Node{Name: "Rare secret value", Children: []*Node{inner, lonely, fine}}
	pass := func(c, _ int) bool { return c >= 5 }
	guardNames(top, pass)
	for _, c := range []struct {
		n    *Node
		want string
	}{{inner, "honesty"}, {top, "honesty"}, {lonely, "Values under the privacy floor"}, {fine, "Honesty"}} {
		if c.n.Name != c.want {
			t.Errorf("cluster named %q, want %q", c.n.Name, c.want)
		}
	}
}
