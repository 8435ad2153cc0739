package share

import (
	"testing"

	"github.com/valuescope/valuescope/host/taxonomy"
)

// A value under the floor is withheld from the leaves, and from the name
// and description of the cluster it names; other clusters are unchanged.
func TestFloorTree(t *testing.T) {
	tree, err := taxonomy.NewTree([]taxonomy.Node{
		{ID: "honesty", Name: "honesty", Level: 0, Parent: "c1", Pct: 60},
		{ID: "Lone Value", Name: "Lone Value", Level: 0, Parent: "c1", Pct: 30},
		{ID: "care", Name: "care", Level: 0, Parent: "c2", Pct: 10},
		{ID: "rare", Name: "rare", Level: 0, Parent: "c3", Pct: 5},
		{ID: "c1", Name: "Lone value", Description: "2 values: lone value, honesty.", Level: 1, Pct: 85},
		{ID: "c2", Name: "Care", Description: "1 value: care.", Level: 1, Pct: 10},
		{ID: "c3", Name: "Rare", Description: "1 value: rare.", Level: 1, Pct: 5},
	})
	if err != nil {
		t.Fatal(err)
	}
	out, withheld, err := floorTree(tree, func(k string) bool { return k != taxonomy.Key("lone value") && k != "rare" })
	if err != nil {
		t.Fatal(err)
	}
	// c3 has no value left and goes; the shares are of the values shown
	// (60 and 10 of 70), so c1's no longer tells what "Lone Value" held.
	if withheld != 2 || len(out.Nodes) != 4 {
		t.Fatalf("withheld %d, kept %+v", withheld, out.Nodes)
	}
	for _, n := range out.Nodes {
		switch n.ID {
		case "Lone Value":
			t.Errorf("leaf under the floor kept: %+v", n)
		case "c1":
			if n.Name != WithheldName || n.Description != "" || n.Pct != 600.0/7 {
				t.Errorf("cluster naming the value: %+v", n)
			}
		case "honesty":
			if n.Pct != 600.0/7 {
				t.Errorf("kept value's share %v, want 60 of the 70 shown", n.Pct)
			}
		case "c3", "rare":
			t.Errorf("withheld: %+v", n)
		case "c2":
			if n.Name != "Care" || n.Description != "1 value: care." || n.Pct != 100.0/7 {
				t.Errorf("other cluster changed: %+v", n)
			}
		}
	}
	if out, _, _ := floorTree(tree, func(string) bool { return false }); out != nil {
		t.Errorf("every value under the floor: %+v", out.Nodes)
	}
}
