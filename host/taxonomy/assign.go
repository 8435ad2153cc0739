package taxonomy

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"sync"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"

	"github.com/valuescope/valuescope/host/taxonomy/cluster"
	"github.com/valuescope/valuescope/host/valuename"
)

// DefaultThreshold is the cosine similarity under which a value is left
// unassigned by default.
const DefaultThreshold = 0.6

// Assignment places one value on a reference tree.
type Assignment struct {
	Value string  `json:"value"`
	Count float64 `json:"count"`
	// Leaf is the nearest leaf of the reference ("" when the embedder could
	// not place the value), with its cosine similarity; Exact when the value
	// normalises to the leaf's name.
	Leaf       string  `json:"leaf"`
	Similarity float64 `json:"similarity"`
	Exact      bool    `json:"exact"`
	// Assigned is false when Similarity is under the threshold.
	Assigned bool `json:"assigned"`
	// Clusters are the leaf's clusters, level 1 up (IDs), when assigned.
	Clusters []string `json:"clusters,omitempty"`
}

// AssignSummary counts what Assign did.
type AssignSummary struct {
	Values     int     `json:"values"`
	Assigned   int     `json:"assigned"`
	Exact      int     `json:"exact"`
	Unassigned int     `json:"unassigned"`
	Threshold  float64 `json:"threshold"`
	// CountAssigned is the share of the values' total count that was assigned.
	CountAssigned float64 `json:"count_share_assigned"`
}

// Assign places every value on the nearest leaf of the reference tree: the
// leaf whose name normalises to the same valuename.Key when there is one
// (similarity 1), else the leaf whose embedding is closest by cosine. A value under the
// threshold stays unassigned (its nearest leaf is still reported). With a nil
// embedder only exact names are placed.
func Assign(ctx context.Context, values []Value, ref *Tree, e Embedder, threshold float64) ([]Assignment, AssignSummary, error) {
	r, err := newReference(ref, e)
	if err != nil {
		return nil, AssignSummary{Values: len(values), Threshold: threshold}, err
	}
	as, err := r.assign(ctx, values, threshold)
	if err != nil {
		return nil, AssignSummary{Values: len(values), Threshold: threshold}, err
	}
	return as, summarize(as, threshold), nil
}

// reference is a tree's leaves made ready to place values on: indexed by
// Key, and embedded once, when a value first needs it. It is safe for
// concurrent use.
type reference struct {
	tree   *Tree
	leaves []Node
	byKey  map[string]int
	e      Embedder

	mu   sync.Mutex
	vecs [][]float32 // the leaves' embeddings, nil until needed
}

func newReference(tree *Tree, e Embedder) (*reference, error) {
	leaves := tree.Level(0)
	if len(leaves) == 0 {
		return nil, errors.New("the reference tree has no leaves")
	}
	r := &reference{tree: tree, leaves: leaves, byKey: map[string]int{}, e: e}
	// Spellings of one value (one Key) may be several leaves: a value goes
	// to the most frequent, so that a rare spelling neither names the
	// others nor gathers their counts.
	for i, l := range leaves {
		k := valuename.Key(l.ID)
		if j, ok := r.byKey[k]; !ok || l.Pct > leaves[j].Pct {
			r.byKey[k] = i
		}
	}
	return r, nil
}

// leafVectors embeds the leaves on first use.
func (r *reference) leafVectors(ctx context.Context) ([][]float32, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.vecs == nil {
		text := make([]string, len(r.leaves))
		for i, l := range r.leaves {
			text[i] = l.ID
		}
		v, err := r.e.Embed(ctx, text)
		if err != nil {
			return nil, fmt.Errorf("embedding the reference's %d leaves: %w", len(text), err)
		}
		r.vecs = v
	}
	return r.vecs, nil
}

// assign places values (see Assign).
func (r *reference) assign(ctx context.Context, values []Value, threshold float64) ([]Assignment, error) {
	out := make([]Assignment, len(values))
	var todo []int
	var texts []string
	for i, v := range values {
		out[i] = Assignment{Value: v.Name, Count: v.Count}
		if j, ok := r.byKey[valuename.Key(v.Name)]; ok {
			out[i].Leaf, out[i].Similarity, out[i].Exact = r.leaves[j].ID, 1, true
			continue
		}
		todo = append(todo, i)
		texts = append(texts, v.Name)
	}
	if len(todo) > 0 && r.e != nil {
		lv, err := r.leafVectors(ctx)
		if err != nil {
			return nil, err
		}
		vv, err := r.e.Embed(ctx, texts)
		if err != nil {
			return nil, fmt.Errorf("embedding %d values: %w", len(texts), err)
		}
		best, sim, err := nearest(vv, lv)
		if err != nil {
			return nil, err
		}
		for k, i := range todo {
			if best[k] >= 0 {
				out[i].Leaf, out[i].Similarity = r.leaves[best[k]].ID, sim[k]
			}
		}
	}
	for i := range out {
		a := &out[i]
		a.Assigned = a.Leaf != "" && (a.Exact || a.Similarity >= threshold)
		if a.Assigned {
			a.Clusters = r.tree.Path(a.Leaf)
		}
	}
	return out, nil
}

// summarize counts assignments.
func summarize(as []Assignment, threshold float64) AssignSummary {
	sum := AssignSummary{Values: len(as), Threshold: threshold}
	total, assigned := 0.0, 0.0
	for _, a := range as {
		total += a.Count
		if a.Assigned {
			sum.Assigned++
			assigned += a.Count
			if a.Exact {
				sum.Exact++
			}
		} else {
			sum.Unassigned++
		}
	}
	if total > 0 {
		sum.CountAssigned = assigned / total
	}
	return sum
}

// nearest returns, for each query, the index of the most cosine-similar
// reference (-1 for a zero query) and the similarity.
func nearest(q, ref [][]float32) ([]int, []float64, error) {
	if len(ref) == 0 {
		return nil, nil, errors.New("no reference vectors")
	}
	d := len(ref[0])
	r := make([]float32, len(ref)*d)
	for i, v := range ref {
		if len(v) != d {
			return nil, nil, fmt.Errorf("vectors of %d and %d dimensions", d, len(v))
		}
		copy(r[i*d:], unit(v))
	}
	for _, v := range q {
		if len(v) != d {
			return nil, nil, fmt.Errorf("vectors of %d and %d dimensions", d, len(v))
		}
	}
	best := make([]int, len(q))
	sim := make([]float64, len(q))
	const rows = 256
	type scratch struct{ qb, buf []float32 }
	newScratch := func() scratch {
		return scratch{qb: make([]float32, rows*d), buf: make([]float32, rows*len(ref))}
	}
	cluster.Chunks(len(q), rows, newScratch, func(sc scratch, lo, hi int) {
		m := hi - lo
		for k := 0; k < m; k++ {
			copy(sc.qb[k*d:], unit(q[lo+k]))
		}
		blas32.Implementation().Sgemm(blas.NoTrans, blas.Trans, m, len(ref), d, 1, sc.qb, d, r, d, 0, sc.buf, len(ref))
		for k := 0; k < m; k++ {
			row := sc.buf[k*len(ref) : (k+1)*len(ref)]
			bi := -1
			bv := float32(math.Inf(-1))
			zero := !slices.ContainsFunc(sc.qb[k*d:(k+1)*d], func(x float32) bool { return x != 0 })
			if !zero {
				for j, s := range row {
					if s > bv {
						bi, bv = j, s
					}
				}
			}
			best[lo+k], sim[lo+k] = bi, float64(bv)
			if bi < 0 {
				sim[lo+k] = 0
			}
		}
	})
	return best, sim, nil
}

func unit(v []float32) []float32 {
	s := 0.0
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	out := make([]float32, len(v))
	if s == 0 {
		return out
	}
	s = math.Sqrt(s)
	for i, x := range v {
		out[i] = float32(float64(x) / s)
	}
	return out
}

// WriteAssignmentsCSV writes one row per value: value, count, assigned,
// exact, leaf, similarity, then for each level of the reference its cluster's
// ID and name (empty when unassigned).
func WriteAssignmentsCSV(w io.Writer, ref *Tree, as []Assignment) error {
	cw := csv.NewWriter(w)
	head := []string{"value", "count", "assigned", "exact", "leaf", "similarity"}
	depth := ref.Depth()
	for l := 1; l <= depth; l++ {
		head = append(head, fmt.Sprintf("l%d_cluster_id", l), fmt.Sprintf("l%d_name", l))
	}
	if err := cw.Write(head); err != nil {
		return err
	}
	for _, a := range as {
		rec := []string{a.Value, strconv.FormatFloat(a.Count, 'f', -1, 64), strconv.FormatBool(a.Assigned),
			strconv.FormatBool(a.Exact), a.Leaf, strconv.FormatFloat(math.Round(a.Similarity*1e4)/1e4, 'f', -1, 64)}
		for l := 0; l < depth; l++ {
			id, name := "", ""
			if l < len(a.Clusters) {
				id = a.Clusters[l]
				if n, ok := ref.Node(id); ok {
					name = n.Name
				}
			}
			rec = append(rec, id, name)
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}
