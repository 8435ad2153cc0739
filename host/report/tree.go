package report

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/valuescope/valuescope/host/analysis"
	"github.com/valuescope/valuescope/host/taxonomy"
)

// Node is a tree node: a taxonomy cluster, a field, or a value.
type Node struct {
	Name string `json:"name"`
	// Conversations with at least one value under the node, and their share
	// of the field's annotated conversations.
	Conversations int     `json:"conversations"`
	Share         float64 `json:"share"`
	// ReferencePct is the reference tree's pct_total_occurrences.
	ReferencePct *float64 `json:"reference_pct,omitempty"`
	// Matched are the run's values placed on this leaf of the tree by
	// embedding rather than by name (those above the privacy floor, most
	// frequent first, at most Options.TreeLeaves).
	Matched  []string `json:"matched,omitempty"`
	Children []*Node  `json:"children,omitempty"`
	// Hidden counts the children not listed: under the privacy floor
	// (Suppressed) or past Options.TreeLeaves (More).
	Suppressed int `json:"suppressed,omitempty"`
	More       int `json:"more,omitempty"`
	// Open: shown expanded.
	Open bool `json:"-"`

	users map[string]bool
	convs map[int]bool
}

func (n *Node) countSuppressed() int {
	if n == nil {
		return 0
	}
	s := n.Suppressed
	for _, c := range n.Children {
		s += c.countSuppressed()
	}
	return s
}

// Sources of the report's tree (TreeInfo.Source).
const (
	// TreeReference: Options.Tree, a reference taxonomy such as the paper's.
	TreeReference = "reference"
	// TreeBuilt: the run's own taxonomy, clustered for this report.
	TreeBuilt = "built"
	// TreeReused: the run's own taxonomy, read from the file an earlier
	// report (or taxonomy build) wrote.
	TreeReused = "reused"
	// TreeFlat: no taxonomy; each item field's values listed under it.
	TreeFlat = "flat"
)

// TreeInfo says what the report's tree is.
type TreeInfo struct {
	// Source is TreeReference, TreeBuilt, TreeReused or TreeFlat.
	Source string `json:"source"`
	// Field is the field placed on the tree, or the one with no taxonomy
	// ("" when flat on request).
	Field string `json:"field,omitempty"`
	// File is the tree: Options.Tree, or the run's own taxonomy
	// (TreeFile).
	File string `json:"file,omitempty"`
	// Values is the number of the field's distinct values (by normalised
	// name, taxonomy.Key).
	Values int `json:"values,omitempty"`
	// Levels is the tree's number of nodes per level, 0 (its values) up.
	Levels []int `json:"levels,omitempty"`
	// Seconds is the time taken to build the tree (TreeBuilt).
	Seconds float64 `json:"seconds,omitempty"`
	// Placement counts how the field's values were placed on the tree: by
	// name, by embedding, or left unassigned.
	Placement *taxonomy.AssignSummary `json:"placement,omitempty"`
	// Note says why there is no taxonomy (a flat tree), and how to make one.
	Note string `json:"note,omitempty"`
}

// treeField is the field a taxonomy is of: name, or ai_values, or the first
// item field ("" when the run has none).
func treeField(r *analysis.Run, name string) string {
	if name != "" {
		return name
	}
	field := ""
	for _, f := range r.Fields {
		if f.Name == taxonomy.DefaultField {
			return f.Name
		}
		if field == "" && !f.Label {
			field = f.Name
		}
	}
	return field
}

// buildTree places a field's values on a taxonomy: the reference tree
// (o.Tree), else the run's own (see ownTree), else lists each item field's
// values under a root.
func buildTree(ctx context.Context, dir string, r *analysis.Run, o Options, pass func(int, int) bool) (*Node, *TreeInfo, error) {
	if o.Tree != "" {
		tree, err := taxonomy.ReadFile(o.Tree)
		if err != nil {
			return nil, nil, fmt.Errorf("tree: %w", err)
		}
		info := &TreeInfo{Source: TreeReference, File: o.Tree}
		return placeOnTree(ctx, r, tree, info, o, pass)
	}
	info := &TreeInfo{Source: TreeFlat}
	if field := treeField(r, o.TreeField); !o.Flat && field != "" {
		f, err := r.Field(field)
		if err != nil {
			return nil, nil, fmt.Errorf("tree: %w", err)
		}
		tree, own, err := ownTree(ctx, dir, r, f, o)
		if err != nil {
			return nil, nil, err
		}
		if tree != nil {
			return placeOnTree(ctx, r, tree, own, o, pass)
		}
		info = own
	}
	return flatTree(r, o, pass), info, nil
}

// flatTree lists each item field's values under a root.
func flatTree(r *analysis.Run, o Options, pass func(int, int) bool) *Node {
	root := &Node{Name: "all values", Open: true}
	for _, f := range r.Fields {
		if f.Label {
			continue
		}
		fn := &Node{Name: f.Name}
		leaves := map[string]*Node{}
		for i := range r.Conversations {
			if !f.Done[i] {
				continue
			}
			for _, v := range f.Values(i) {
				leaf := leaves[v]
				if leaf == nil {
					leaf = &Node{Name: v}
					leaves[v] = leaf
					fn.Children = append(fn.Children, leaf)
				}
				add(leaf, i, r.Conversations[i].User)
				add(fn, i, r.Conversations[i].User)
				add(root, i, r.Conversations[i].User)
			}
		}
		finish(fn, f.Annotated, pass, o.TreeLeaves)
		root.Children = append(root.Children, fn)
	}
	root.Conversations = len(root.convs)
	if n := len(r.Conversations); n > 0 {
		root.Share = float64(root.Conversations) / float64(n)
	}
	root.convs, root.users = nil, nil
	return root
}

// placeOnTree places the values of info.Field (the tree field when empty)
// on tree's leaves with a taxonomy.Mapper (a leaf of the same normalised
// name, else the nearest by embedding at or above the threshold), counts
// each node's conversations, and lists the values left unplaced under
// "unassigned". A reference tree's nodes carry its percentages.
func placeOnTree(ctx context.Context, r *analysis.Run, tree *taxonomy.Tree, info *TreeInfo, o Options, pass func(int, int) bool) (*Node, *TreeInfo, error) {
	f, err := r.Field(treeField(r, cmp.Or(info.Field, o.TreeField)))
	if err != nil {
		return nil, nil, fmt.Errorf("tree: %w", err)
	}
	info.Field, info.Levels = f.Name, tree.Sizes()
	root := &Node{Name: f.Name, Open: true}
	byID := make(map[string]*Node, len(tree.Nodes))
	for _, tn := range tree.Nodes {
		n := &Node{Name: cmp.Or(tn.Name, tn.ID)}
		if info.Source == TreeReference {
			n.ReferencePct = &tn.Pct
		}
		byID[tn.ID] = n
	}
	parent := make(map[*Node]*Node, len(tree.Nodes))
	// Tree order: nodes as the file lists them, placed under parents.
	for _, tn := range tree.Nodes {
		n, p := byID[tn.ID], byID[tn.Parent]
		if p == nil {
			p = root
		}
		p.Children = append(p.Children, n)
		parent[n] = p
	}

	// The field's distinct values, with their conversations, placed in one
	// batch.
	seen := newCounter()
	for i := range r.Conversations {
		if f.Done[i] {
			for _, v := range f.Values(i) {
				seen.add(v, r.Conversations[i].User)
			}
		}
	}
	dist := &Distribution{}
	seen.distribution(dist, func(int, int) bool { return true }, 0)
	vals := make([]taxonomy.Value, len(dist.Values))
	for i, v := range dist.Values {
		vals[i] = taxonomy.Value{Name: v.Value, Count: float64(v.Count)}
	}
	e := o.Embedder
	if e == nil {
		e = taxonomy.Offline{}
	}
	threshold := taxonomy.DefaultThreshold
	if o.Threshold != nil {
		threshold = *o.Threshold
	}
	m, err := taxonomy.NewMapper(tree, f.Name, 0, e, threshold)
	if err != nil {
		return nil, nil, fmt.Errorf("tree %s: %w", info.File, err)
	}
	as, sum, err := m.Prepare(ctx, vals)
	if err != nil {
		return nil, nil, fmt.Errorf("tree %s: placing the values of %s: %w", info.File, f.Name, err)
	}
	info.Placement = &sum
	leafOf := map[string]*Node{}
	for _, a := range as { // most frequent first
		if !a.Assigned {
			continue
		}
		leaf := byID[a.Leaf]
		leafOf[a.Value] = leaf
		if !a.Exact && len(leaf.Matched) < o.TreeLeaves && pass(seen.convs[a.Value], len(seen.users[a.Value])) {
			leaf.Matched = append(leaf.Matched, a.Value)
		}
	}

	unassigned := &Node{Name: "unassigned"}
	unplaced := map[string]*Node{}
	for i := range r.Conversations {
		if !f.Done[i] {
			continue
		}
		user := r.Conversations[i].User
		add(root, i, user)
		for _, v := range f.Values(i) {
			n := leafOf[v]
			if n == nil {
				leaf := unplaced[v]
				if leaf == nil {
					leaf = &Node{Name: v}
					unplaced[v] = leaf
					unassigned.Children = append(unassigned.Children, leaf)
				}
				add(leaf, i, user)
				add(unassigned, i, user)
				continue
			}
			for ; n != nil && n != root; n = parent[n] {
				add(n, i, user)
			}
		}
	}
	if len(unassigned.Children) > 0 {
		root.Children = append(root.Children, unassigned)
	}
	if info.Source != TreeReference {
		for _, c := range root.Children {
			guardNames(c, pass)
		}
	}
	finish(root, f.Annotated, pass, o.TreeLeaves)
	return root, info, nil
}

// guardNames renames the clusters of a tree built from the run that are
// named after one of their values under the privacy floor (the built-in
// namer names a cluster after a central member, which may be rare): to the
// value under them with the most conversations that passes the floor, else
// to "Values under the privacy floor". It returns the node's leaves.
func guardNames(n *Node, pass func(int, int) bool) []*Node {
	if len(n.Children) == 0 {
		return []*Node{n}
	}
	var leaves []*Node
	for _, c := range n.Children {
		leaves = append(leaves, guardNames(c, pass)...)
	}
	key := taxonomy.Key(n.Name)
	var best *Node
	leak := false
	for _, l := range leaves {
		if len(l.convs) == 0 {
			continue // not in the run (or counted under another spelling's leaf)
		}
		ok := pass(len(l.convs), len(l.users))
		if !ok && taxonomy.Key(l.Name) == key {
			leak = true
		}
		if ok && (best == nil || len(l.convs) > len(best.convs)) {
			best = l
		}
	}
	if leak {
		n.Name = "Values under the privacy floor"
		if best != nil {
			n.Name = best.Name
		}
	}
	return leaves
}

func add(n *Node, conv int, user string) {
	if n.convs == nil {
		n.convs = map[int]bool{}
	}
	n.convs[conv] = true
	if user != "" {
		if n.users == nil {
			n.users = map[string]bool{}
		}
		n.users[user] = true
	}
}

// finish sets counts and shares, drops empty nodes and those under the
// floor (counting them), and sorts children by count.
func finish(n *Node, annotated int, pass func(int, int) bool, leaves int) {
	n.Conversations = len(n.convs)
	if annotated > 0 {
		n.Share = float64(n.Conversations) / float64(annotated)
	}
	var kept []*Node
	for _, c := range n.Children {
		if len(c.convs) == 0 {
			continue
		}
		if !pass(len(c.convs), len(c.users)) {
			n.Suppressed++
			continue
		}
		finish(c, annotated, pass, leaves)
		kept = append(kept, c)
	}
	slices.SortStableFunc(kept, func(a, b *Node) int {
		if x := cmp.Compare(b.Conversations, a.Conversations); x != 0 {
			return x
		}
		return cmp.Compare(a.Name, b.Name)
	})
	if len(kept) > leaves {
		n.More = len(kept) - leaves
		kept = kept[:leaves]
	}
	n.Children = kept
	n.convs, n.users = nil, nil
}

// Summary says in a sentence what the tree is.
func (t *TreeInfo) Summary() string {
	clusters := func() string {
		if len(t.Levels) < 2 {
			return "no clusters"
		}
		s := make([]string, len(t.Levels)-1)
		for i, n := range t.Levels[1:] {
			s[i] = strconv.Itoa(n)
		}
		if len(s) == 1 {
			return s[0] + " clusters"
		}
		return strings.Join(s[:len(s)-1], ", ") + " and " + s[len(s)-1] + " clusters, finest level first"
	}
	placed := func() string {
		p := t.Placement
		if p == nil {
			return ""
		}
		return fmt.Sprintf("%d distinct values: %d placed by name, %d by embedding (cosine similarity at least %.2f), %d unassigned",
			p.Values, p.Exact, p.Assigned-p.Exact, p.Threshold, p.Unassigned)
	}
	switch t.Source {
	case TreeReference:
		return fmt.Sprintf("The values of %s on the taxonomy %s (%d values; %s). %s.", t.Field, t.File, t.Levels[0], clusters(), placed())
	case TreeBuilt:
		return fmt.Sprintf("The run's own taxonomy of %s: its %d distinct values in %s (k-means, seed %d; built in %.1f s), written to %s in the layout of the paper's values_tree.csv.",
			t.Field, t.Values, clusters(), taxonomy.DefaultSeed, t.Seconds, t.File)
	case TreeReused:
		return fmt.Sprintf("The run's own taxonomy of %s, %s (%d values; %s), reused: it is newer than the run's store (delete it to build it again). %s.",
			t.Field, t.File, t.Levels[0], clusters(), placed())
	}
	if t.Note != "" {
		return t.Note
	}
	return "Each field's values, listed flat (no taxonomy)."
}
