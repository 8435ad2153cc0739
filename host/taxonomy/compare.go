package taxonomy

import (
	"fmt"

	"github.com/valuescope/valuescope/host/taxonomy/cluster"
	"github.com/valuescope/valuescope/host/valuename"
)

// LevelAgreement is the agreement of two trees at one level over their shared leaves.
type LevelAgreement struct {
	Level int `json:"level"`
	cluster.Agreement
}

// Comparison is how far two trees agree.
type Comparison struct {
	LeavesA int `json:"leaves_a"`
	LeavesB int `json:"leaves_b"`
	// Shared leaves are matched by valuename.Canon of their names.
	Shared int              `json:"shared_leaves"`
	Levels []LevelAgreement `json:"levels"`
}

// CompareTrees measures the agreement of two trees at each level both have,
// over the leaves both have: each shared leaf is labelled with its ancestor at
// that level in each tree. AMI and ARI are corrected for chance (0 = chance);
// NMI is not, and is high at levels with many small clusters even at random.
func CompareTrees(a, b *Tree) (Comparison, error) {
	la, lb := leavesByCanon(a), leavesByCanon(b)
	cmp := Comparison{LeavesA: len(la), LeavesB: len(lb)}
	var shared []string
	for _, n := range a.Level(0) {
		c := valuename.Canon(n.ID)
		if _, ok := lb[c]; ok && la[c] == n.ID {
			shared = append(shared, c)
		}
	}
	cmp.Shared = len(shared)
	if len(shared) < 2 {
		return cmp, fmt.Errorf("the trees share %d leaves: nothing to compare", len(shared))
	}
	depth := min(a.Depth(), b.Depth())
	for l := 1; l <= depth; l++ {
		xa, xb := make([]string, len(shared)), make([]string, len(shared))
		for i, c := range shared {
			xa[i] = a.Ancestor(la[c], l)
			xb[i] = b.Ancestor(lb[c], l)
		}
		ag, err := cluster.Compare(xa, xb)
		if err != nil {
			return cmp, err
		}
		cmp.Levels = append(cmp.Levels, LevelAgreement{Level: l, Agreement: ag})
	}
	return cmp, nil
}

// leavesByCanon maps valuename.Canon(name) to leaf ID (the first leaf with that canon).
func leavesByCanon(t *Tree) map[string]string {
	m := map[string]string{}
	for _, n := range t.Level(0) {
		c := valuename.Canon(n.ID)
		if _, ok := m[c]; !ok {
			m[c] = n.ID
		}
	}
	return m
}
