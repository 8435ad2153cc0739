package taxonomy

import (
	"context"
	"fmt"
	"sync"

	"github.com/valuescope/valuescope/host/analysis"
	"github.com/valuescope/valuescope/host/valuename"
)

// DefaultField is the annotation field a tree applies to when none is named.
const DefaultField = "ai_values"

// Mapper places the values of one annotation field on one level of a tree,
// for the residual analysis and the comparison of runs: it is an
// analysis.Mapper. A value goes to a leaf as Assign places it (the leaf with
// its valuename.Key, else the nearest leaf by embedding at or above the
// threshold), then up to the mapper's level. Values of other fields keep their
// normalised names (analysis.Normalized).
//
// Nodes are named for reading: a node's name when no other node of its
// level has that name (and it has one), otherwise "name [cluster_id]" (the
// paper's level 1 names two clusters "Environmental stewardship"), or the
// cluster_id alone when the name is empty. At level 0 the node is the leaf
// itself, named by its cluster_id, which for a leaf is the value's name.
//
// Placements are cached per normalised value (valuename.Key) and the tree's
// leaves are embedded once, when a value first needs it. Prepare places a run's
// distinct values in one batch, with a context and an error, and counts
// them; Node places a value not seen before on its own (context.Background;
// an embedding error leaves it unplaced and is kept for Err). A Mapper is
// safe for concurrent use.
type Mapper struct {
	ref       *reference
	field     string
	level     int
	threshold float64
	labels    map[string]string // node ID at level -> its name in tables

	mu     sync.RWMutex
	placed map[string]Assignment // by valuename.Key(value); Value and Count of the first
	err    error
}

var _ analysis.Mapper = (*Mapper)(nil)

// NewMapper returns a mapper of field's values ("": DefaultField) onto level
// of tree (0 the leaves, 1 to tree.Depth() the cluster levels, as the tree
// CSV's level column). With a nil embedder only values whose Key is a leaf's
// are placed; threshold is the cosine similarity under which a value stays
// unplaced (DefaultThreshold is the usual one).
func NewMapper(tree *Tree, field string, level int, e Embedder, threshold float64) (*Mapper, error) {
	if level < 0 || level > tree.Depth() {
		return nil, fmt.Errorf("level %d: the tree has levels 0 (its values) to %d", level, tree.Depth())
	}
	if field == "" {
		field = DefaultField
	}
	ref, err := newReference(tree, e)
	if err != nil {
		return nil, err
	}
	nodes := tree.Level(level)
	uses := map[string]int{}
	for _, n := range nodes {
		uses[n.Name]++
	}
	labels := make(map[string]string, len(nodes))
	for _, n := range nodes {
		switch {
		case n.Name == "" || level == 0:
			labels[n.ID] = n.ID
		case uses[n.Name] > 1:
			labels[n.ID] = n.Name + " [" + n.ID + "]"
		default:
			labels[n.ID] = n.Name
		}
	}
	return &Mapper{ref: ref, field: field, level: level, threshold: threshold, labels: labels, placed: map[string]Assignment{}}, nil
}

// Field is the field the mapper places on its tree.
func (m *Mapper) Field() string { return m.field }

// Level is the tree level values are mapped to.
func (m *Mapper) Level() int { return m.level }

// Nodes is the number of nodes at the mapper's level.
func (m *Mapper) Nodes() int { return len(m.labels) }

// Node returns the name of value's node at the mapper's level, false when
// the value is not placed (under the threshold, or not embeddable). Values
// of other fields than the mapper's are analysis.Normalized.
func (m *Mapper) Node(field, value string) (string, bool) {
	if field != m.field {
		return analysis.Normalized{}.Node(field, value)
	}
	m.mu.RLock()
	a, ok := m.placed[valuename.Key(value)]
	m.mu.RUnlock()
	if !ok {
		as, err := m.place(context.Background(), []Value{{Name: value, Count: 1}})
		if err != nil {
			m.mu.Lock()
			if m.err == nil {
				m.err = err
			}
			m.mu.Unlock()
			return "", false
		}
		a = as[0]
	}
	return m.node(a)
}

// node is the label of an assignment's node at the mapper's level.
func (m *Mapper) node(a Assignment) (string, bool) {
	if !a.Assigned {
		return "", false
	}
	n, ok := m.labels[m.ref.tree.Ancestor(a.Leaf, m.level)]
	return n, ok
}

// Err is the first error met placing a value in Node (Prepare returns its
// own).
func (m *Mapper) Err() error {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.err
}

// Prepare places values of the mapper's field (such as ReadRun gives: a
// run's distinct values with their counts) in one batch, and returns each
// one's assignment and their summary. Values already placed are not placed
// again.
func (m *Mapper) Prepare(ctx context.Context, values []Value) ([]Assignment, AssignSummary, error) {
	as, err := m.place(ctx, values)
	if err != nil {
		return nil, AssignSummary{Values: len(values), Threshold: m.threshold}, err
	}
	return as, summarize(as, m.threshold), nil
}

// place returns the assignments of values, placing (and caching) those whose
// Key has not been placed yet, each Key once.
func (m *Mapper) place(ctx context.Context, values []Value) ([]Assignment, error) {
	keys := make([]string, len(values))
	var todo []Value
	seen := map[string]bool{}
	m.mu.RLock()
	for i, v := range values {
		keys[i] = valuename.Key(v.Name)
		if _, ok := m.placed[keys[i]]; !ok && !seen[keys[i]] {
			seen[keys[i]] = true
			todo = append(todo, v)
		}
	}
	m.mu.RUnlock()
	if len(todo) > 0 {
		as, err := m.ref.assign(ctx, todo, m.threshold)
		if err != nil {
			return nil, err
		}
		m.mu.Lock()
		for _, a := range as {
			m.placed[valuename.Key(a.Value)] = a
		}
		m.mu.Unlock()
	}
	out := make([]Assignment, len(values))
	m.mu.RLock()
	defer m.mu.RUnlock()
	for i, v := range values {
		out[i] = m.placed[keys[i]]
		out[i].Value, out[i].Count = v.Name, v.Count
	}
	return out, nil
}

// Label is the name of a node of the mapper's level as Node returns it
// (false when id is not a node of that level).
func (m *Mapper) Label(id string) (string, bool) {
	l, ok := m.labels[id]
	return l, ok
}
