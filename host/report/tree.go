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

	// Distinct conversations and users counted so far, in a pass that
	// gives each user's conversations together (analysis.Run.Each): the
	// last conversation (seq+1) and user counted tell a repeat, so a node
	// keeps two counters, not the sets.
	convs, users int
	lastConv     int64
	lastUser     string
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
	root, err := flatTree(ctx, r, o, pass)
	return root, info, err
}

// flatTree lists each item field's values under a root.
func flatTree(ctx context.Context, r *analysis.Run, o Options, pass func(int, int) bool) (*Node, error) {
	root := &Node{Name: "all values", Open: true}
	var fields []*analysis.Field
	var nodes []*Node
	var leaves []map[string]*Node
	for _, f := range r.Fields {
		if f.Label {
			continue
		}
		fn := &Node{Name: f.Name}
		fields = append(fields, f)
		nodes = append(nodes, fn)
		leaves = append(leaves, map[string]*Node{})
	}
	err := r.Each(ctx, func(c *analysis.Conv) error {
		for k, f := range fields {
			if !c.Done(f) {
				continue
			}
			fn := nodes[k]
			for _, v := range c.Values(f) {
				leaf := leaves[k][v]
				if leaf == nil {
					leaf = &Node{Name: v}
					leaves[k][v] = leaf
					fn.Children = append(fn.Children, leaf)
				}
				add(leaf, c.Seq, c.User)
				add(fn, c.Seq, c.User)
				add(root, c.Seq, c.User)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for k, f := range fields {
		finish(nodes[k], f.Annotated, pass, o.TreeLeaves)
		root.Children = append(root.Children, nodes[k])
	}
	root.Conversations = root.convs
	if n := r.Len(); n > 0 {
		root.Share = float64(root.Conversations) / float64(n)
	}
	return root, nil
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
	err = r.Each(ctx, func(c *analysis.Conv) error {
		if c.Done(f) {
			for _, v := range c.Values(f) {
				seen.add(v, c.User)
			}
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
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
		if !a.Exact && len(leaf.Matched) < o.TreeLeaves && pass(seen.convs[a.Value], seen.users[a.Value]) {
			leaf.Matched = append(leaf.Matched, a.Value)
		}
	}

	unassigned := &Node{Name: "unassigned"}
	unplaced := map[string]*Node{}
	err = r.Each(ctx, func(c *analysis.Conv) error {
		if !c.Done(f) {
			return nil
		}
		i, user := c.Seq, c.User
		add(root, i, user)
		for _, v := range c.Values(f) {
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
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	if err := recountShown(ctx, r, f, root, parent, leafOf, unplaced, unassigned, pass); err != nil {
		return nil, nil, err
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

// recountShown counts each cluster again over the leaves that pass the
// floor, when some do not: a cluster's conversations less its shown leaves'
// would otherwise be its withheld leaves' (the exact count of the one, where
// one was withheld). The root keeps every annotated conversation, which
// the field's total publishes anyway.
func recountShown(ctx context.Context, r *analysis.Run, f *analysis.Field, root *Node, parent map[*Node]*Node,
	leafOf, unplaced map[string]*Node, unassigned *Node, pass func(int, int) bool) error {
	shown := func(l *Node) bool { return l.convs == 0 || pass(l.convs, l.users) }
	withheld := false
	for _, l := range leafOf {
		withheld = withheld || !shown(l)
	}
	for _, l := range unplaced {
		withheld = withheld || !shown(l)
	}
	if !withheld {
		return nil
	}
	clusters := map[*Node]bool{unassigned: true}
	for _, p := range parent {
		if p != root {
			clusters[p] = true
		}
	}
	for c := range clusters {
		c.convs, c.users, c.lastConv, c.lastUser = 0, 0, 0, ""
	}
	return r.Each(ctx, func(c *analysis.Conv) error {
		if !c.Done(f) {
			return nil
		}
		for _, v := range c.Values(f) {
			if l := unplaced[v]; l != nil {
				if shown(l) {
					add(unassigned, c.Seq, c.User)
				}
				continue
			}
			l := leafOf[v]
			if l == nil || !shown(l) {
				continue
			}
			for n := parent[l]; n != nil && n != root; n = parent[n] {
				add(n, c.Seq, c.User)
			}
		}
		return nil
	})
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
		if l.convs == 0 {
			continue // not in the run (or counted under another spelling's leaf)
		}
		ok := pass(l.convs, l.users)
		if !ok && taxonomy.Key(l.Name) == key {
			leak = true
		}
		if ok && (best == nil || l.convs > best.convs) {
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

// add counts conversation seq of user in n, once: a conversation is given
// once in a pass (its values may hit n several times, together), a user's
// conversations together.
func add(n *Node, seq int64, user string) {
	if n.lastConv != seq+1 {
		n.convs++
		n.lastConv = seq + 1
	}
	if user != "" && (n.users == 0 || n.lastUser != user) {
		n.users++
		n.lastUser = user
	}
}

// finish sets counts and shares, drops empty nodes and those under the
// floor (counting them), and sorts children by count.
func finish(n *Node, annotated int, pass func(int, int) bool, leaves int) {
	n.Conversations = n.convs
	if annotated > 0 {
		n.Share = float64(n.Conversations) / float64(annotated)
	}
	var kept []*Node
	for _, c := range n.Children {
		if c.convs == 0 {
			continue
		}
		if !pass(c.convs, c.users) {
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
