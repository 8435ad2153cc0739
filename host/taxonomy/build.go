package taxonomy

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"gonum.org/v1/gonum/mat"

	"github.com/valuescope/valuescope/host/analysis"
	"github.com/valuescope/valuescope/host/privacy"
	"github.com/valuescope/valuescope/host/taxonomy/cluster"
)

// Embedder turns texts into vectors, one per text, all of one dimension. The
// offline embedder of package embed is one; a model provider's embeddings
// endpoint is another.
type Embedder interface {
	Embed(ctx context.Context, texts []string) ([][]float32, error)
}

// Methods of clustering.
const (
	// KMeans is k-means on the values (k-means++, restarts; mini-batch above
	// MiniBatchAbove values), then k-means on each level's centroids, as Clio
	// does. The default: against the paper's tree it is level with Ward at
	// the values (AMI 0.333 vs 0.345, mean of 6 seeds) and better above
	// (0.245 / 0.133 vs 0.238 / 0.111).
	KMeans = "kmeans"
	// Ward is one Ward tree over the values, cut at each level's size (above
	// MiniBatchAbove values: mini-batch k-means for the first level, Ward above).
	Ward = "ward"
)

// MaxSmooth bounds the number of values Options.Smooth accepts.
const MaxSmooth = 50000

// Options configure Build.
type Options struct {
	// Levels are the numbers of clusters per level, bottom-up (the paper:
	// 266, 26, 5). Nil: DefaultLevels.
	Levels []int
	// Method is KMeans (default) or Ward.
	Method string
	// Seed makes the clustering reproducible: same input, same seed, same tree.
	Seed uint64
	// Restarts of k-means++ per k-means (default 8 for the values, 16 for the levels above).
	Restarts int
	// MiniBatchAbove switches the value level to mini-batch k-means above this
	// many items, and Ward to k-means at the value level then Ward above it.
	// Default: 5,000 for KMeans (full k-means with restarts grows as n·k per
	// pass and k with n: 8,000 values took 36 s, 20,000 over 5 minutes, where
	// mini-batch takes seconds), 20,000 for Ward (its memory is n²).
	MiniBatchAbove int
	// Weighted lets counts weight the clustering (Ward: an item counts as its
	// count's worth of points; k-means: weighted means). By default items
	// count as equals (measured better against the paper's tree); counts
	// always give the percentages.
	Weighted bool
	// Smooth, when > 0, moves each value towards the mean of its Smooth
	// nearest neighbours before clustering (see smooth); 0 means off.
	Smooth      int
	SmoothAlpha float64
	// Upper is how the levels above the first are made: "" (the method's
	// own: Ward cuts one tree, k-means clusters centroids), "kmeans" or
	// "ward" (cluster the level below's centroids with that algorithm).
	Upper    string
	Embedder Embedder
	// Namer names clusters (default: the built-in RepresentativeNamer).
	Namer Namer
	// NamePass, when set, says which values (by Key) may name a cluster and
	// be shown to a namer: a run's privacy floor (NamePass), so that a
	// cluster shown because it is frequent is never named after one of its
	// rare values. nil: every value may.
	NamePass func(key string) bool
	// Field prefixes cluster IDs ("ai_values" as in the paper).
	Field string
}

// NamePass is the Options.NamePass of field's values in run r under floor
// f: a value (by Key, its spellings together) may name a cluster when it
// rests on enough distinct conversations and, where the data names users,
// distinct users — counted as every other output counts them, never by
// occurrences.
func NamePass(ctx context.Context, r *analysis.Run, field string, f privacy.Floor) (func(key string) bool, error) {
	fl, err := r.Field(field)
	if err != nil {
		return nil, err
	}
	// One pass, each user's conversations together (Run.Each): the last
	// user counted for a key tells a repeat, so memory grows with the keys.
	convs, users := map[string]int{}, map[string]int{}
	lastUser := map[string]string{}
	seen := map[string]bool{}
	err = r.Each(ctx, func(c *analysis.Conv) error {
		if !c.Done(fl) {
			return nil
		}
		clear(seen)
		for _, v := range c.Values(fl) {
			k := Key(v)
			if k == "" || seen[k] {
				continue
			}
			seen[k] = true
			convs[k]++
			if last, ok := lastUser[k]; c.User != "" && (!ok || last != c.User) {
				users[k]++
				lastUser[k] = c.User
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	known := r.UserKey != ""
	return func(key string) bool {
		return f.Pass(float64(convs[key]), float64(users[key]), known)
	}, nil
}

// DefaultLevels are the paper's proportions for n values: the first level
// with n·266/3307 clusters, the top with 5 (at most half the first level's),
// and between them Clio's geometric ratio (n_top/n_base)^(1/(L-1)). The
// paper steps down about 7x per level (266, 26, 5 over two steps); fewer
// values get fewer levels rather than chains of near-equal ones (90 values:
// 7, 3, not 7, 6, 5); three levels at most, as the paper.
func DefaultLevels(n int) []int {
	base := max(2, int(math.Round(float64(n)*266/3307)))
	top := min(5, base/2)
	if top < 2 {
		return []int{base}
	}
	steps := int(math.Round(math.Log(float64(base)/float64(top)) / math.Log(7.3)))
	return GeometricLevels(base, top, 1+min(max(steps, 1), 2))
}

// GeometricLevels gives depth level sizes from base to top with a constant
// ratio (top/base)^(1/(depth-1)), as Clio does; sizes strictly decrease.
func GeometricLevels(base, top, depth int) []int {
	if depth <= 1 {
		return []int{base}
	}
	ratio := math.Pow(float64(top)/float64(base), 1/float64(depth-1))
	out := []int{base}
	for l := 1; l < depth; l++ {
		k := int(math.Round(float64(base) * math.Pow(ratio, float64(l))))
		if l == depth-1 {
			k = top
		}
		k = min(k, out[l-1]-1)
		if k < 1 {
			break
		}
		out = append(out, k)
	}
	return out
}

// Info reports what Build did.
type Info struct {
	Values     int       `json:"values"`     // input rows
	Variants   int       `json:"variants"`   // distinct names after Canon (the tree's leaves)
	Items      int       `json:"items"`      // distinct after normalisation (what was clustered)
	Dropped    []string  `json:"dropped"`    // names empty after normalisation
	Unembedded int       `json:"unembedded"` // items the embedder could not place (zero vectors)
	Levels     []int     `json:"levels"`     // clusters per level, bottom-up
	Method     string    `json:"method"`     // kmeans, mini-batch kmeans, ward, ...
	Inertia    []float64 `json:"inertia"`    // k-means inertia per level (unit vectors)
	Seconds    struct {
		Embed, Cluster, Name float64
	} `json:"seconds"`
}

// Build makes a tree from values.
func Build(ctx context.Context, values []Value, o Options) (*Tree, Info, error) {
	var info Info
	info.Values = len(values)
	items, dropped := Normalize(values)
	for _, d := range dropped {
		info.Dropped = append(info.Dropped, d.Name)
	}
	info.Items = len(items)
	for _, it := range items {
		info.Variants += len(it.Variants)
	}
	if len(items) < 2 {
		return nil, info, fmt.Errorf("%d distinct values: need at least 2 to build a taxonomy", len(items))
	}
	if o.Embedder == nil {
		return nil, info, errors.New("no embedder")
	}
	if o.Method == "" {
		o.Method = KMeans
	}
	if o.Method != KMeans && o.Method != Ward {
		return nil, info, fmt.Errorf("method %q: expected %q or %q", o.Method, KMeans, Ward)
	}
	if o.Field == "" {
		o.Field = "ai_values"
	}
	if o.MiniBatchAbove <= 0 {
		o.MiniBatchAbove = 5000
		if o.Method == Ward {
			o.MiniBatchAbove = 20000
		}
	}
	if o.Namer == nil {
		o.Namer = RepresentativeNamer{}
	}
	levels := o.Levels
	if len(levels) == 0 {
		levels = DefaultLevels(len(items))
	}
	if err := checkLevels(levels, len(items)); err != nil {
		return nil, info, err
	}
	info.Levels = levels

	t0 := time.Now()
	x, unplaced, err := embedItems(ctx, o.Embedder, items)
	if err != nil {
		return nil, info, err
	}
	info.Unembedded = unplaced
	info.Seconds.Embed = time.Since(t0).Seconds()
	// k-means cannot make more clusters than there are distinct points, and
	// takes long to find out: values an embedder cannot tell apart (words of
	// other languages with the built-in vectors all embed alike) fail here.
	if d := distinctRows(x); d < levels[0] {
		return nil, info, &TooFewDistinctError{Items: len(items), Distinct: d, Clusters: levels[0]}
	}

	t0 = time.Now()
	xc := x
	if o.Smooth > 0 && len(items) > MaxSmooth {
		return nil, info, fmt.Errorf("smoothing %d values: its cost grows with n² (at most %d)", len(items), MaxSmooth)
	}
	if o.Smooth > 0 {
		a := o.SmoothAlpha
		if a <= 0 {
			a = 0.8
		}
		xc = smooth(x, o.Smooth, a)
	}
	w := make([]float64, len(items))
	for i, it := range items {
		w[i] = 1
		if o.Weighted && it.Count > 0 {
			w[i] = it.Count
		}
	}
	labels, method, inertia, err := clusterLevels(xc, w, levels, o)
	if err != nil {
		return nil, info, err
	}
	info.Method, info.Inertia = method, inertia
	info.Seconds.Cluster = time.Since(t0).Seconds()
	if err := ctx.Err(); err != nil {
		return nil, info, err
	}

	t0 = time.Now()
	t, err := assemble(ctx, items, x, labels, o)
	if err != nil {
		return nil, info, err
	}
	info.Seconds.Name = time.Since(t0).Seconds()
	return t, info, nil
}

// TooFewDistinctError is Build's error when the values have fewer distinct
// embeddings than the clusters of the finest level.
type TooFewDistinctError struct {
	Items, Distinct, Clusters int
}

func (e *TooFewDistinctError) Error() string {
	return fmt.Sprintf("%d values have %d distinct embeddings, fewer than the %d clusters of the finest level (values the embedder does not know, such as words of other languages than English with the built-in embedder, all embed alike)",
		e.Items, e.Distinct, e.Clusters)
}

// distinctRows counts x's distinct rows.
func distinctRows(x *mat.Dense) int {
	n, d := x.Dims()
	seen := make(map[string]bool, n)
	b := make([]byte, 0, 8*d)
	for i := range n {
		b = b[:0]
		for _, v := range x.RawRowView(i) {
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v))
		}
		seen[string(b)] = true
	}
	return len(seen)
}

func checkLevels(levels []int, n int) error {
	for i, k := range levels {
		if k < 1 {
			return fmt.Errorf("level %d: %d clusters; each level needs at least 1", i+1, k)
		}
		if i == 0 && k > n {
			return fmt.Errorf("level 1: %d clusters for %d distinct values", k, n)
		}
		if i > 0 && k >= levels[i-1] {
			return fmt.Errorf("levels %v: each level needs fewer clusters than the one below", levels)
		}
	}
	return nil
}

func embedItems(ctx context.Context, e Embedder, items []Item) (*mat.Dense, int, error) {
	texts := make([]string, len(items))
	for i, it := range items {
		texts[i] = it.Name
	}
	vecs, err := e.Embed(ctx, texts)
	if err != nil {
		return nil, 0, fmt.Errorf("embedding %d values: %w", len(texts), err)
	}
	if len(vecs) != len(texts) {
		return nil, 0, fmt.Errorf("embedder returned %d vectors for %d texts", len(vecs), len(texts))
	}
	d := len(vecs[0])
	if d == 0 {
		return nil, 0, errors.New("embedder returned empty vectors")
	}
	x := mat.NewDense(len(vecs), d, nil)
	unplaced := 0
	for i, v := range vecs {
		if len(v) != d {
			return nil, 0, fmt.Errorf("embedder returned vectors of %d and %d dimensions", d, len(v))
		}
		row := x.RawRowView(i)
		norm := 0.0
		for j, f := range v {
			row[j] = float64(f)
			norm += row[j] * row[j]
		}
		if norm == 0 {
			unplaced++
			continue
		}
		norm = math.Sqrt(norm) // cosine geometry: unit vectors
		for j := range row {
			row[j] /= norm
		}
	}
	return x, unplaced, nil
}

// clusterLevels returns, per level, each item's cluster (0..k-1).
func clusterLevels(x *mat.Dense, w []float64, levels []int, o Options) ([][]int, string, []float64, error) {
	n, _ := x.Dims()
	restarts := o.Restarts
	if restarts <= 0 {
		restarts = 8
	}
	out := make([][]int, len(levels))
	var inertia []float64
	method := o.Method
	upper := o.Upper
	if upper == "" {
		upper = o.Method
	}
	var base cluster.Result
	var err error
	switch {
	case o.Method == Ward && n <= o.MiniBatchAbove && n <= cluster.MaxWardPoints:
		link, err := cluster.Ward(x, w)
		if err != nil {
			return nil, "", nil, err
		}
		if o.Upper == "" {
			for l, k := range levels {
				out[l] = link.Cut(k)
			}
			return out, "ward", nil, nil
		}
		base.Labels = link.Cut(levels[0])
		method = "ward"
	case n > o.MiniBatchAbove:
		base, err = cluster.MiniBatchKMeans(x, cluster.MiniBatchOptions{K: levels[0], Seed: o.Seed, Weights: w})
		method = "mini-batch kmeans"
	default:
		base, err = cluster.KMeans(x, cluster.KMeansOptions{K: levels[0], Restarts: restarts, Seed: o.Seed, Weights: w})
		method = "kmeans"
	}
	if err != nil {
		return nil, "", nil, err
	}
	out[0] = compact(base.Labels)
	inertia = append(inertia, base.Inertia)
	if upper != method {
		method += " + " + upper
	}
	// levels above: cluster the centroids of the level below (weighted by
	// their members' total weight), as Clio does
	cur := base.Labels
	for l := 1; l < len(levels); l++ {
		c, cw := centroids(x, w, cur, maxLabel(cur)+1)
		var lab []int
		if upper == Ward {
			link, err := cluster.Ward(c, positive(cw))
			if err != nil {
				return nil, "", nil, err
			}
			lab = link.Cut(levels[l])
		} else {
			r, err := cluster.KMeans(c, cluster.KMeansOptions{K: levels[l], Restarts: 2 * restarts, Seed: o.Seed + uint64(l), Weights: positive(cw)})
			if err != nil {
				return nil, "", nil, err
			}
			lab = compact(r.Labels)
			inertia = append(inertia, r.Inertia)
		}
		next := make([]int, n)
		for i, c := range cur {
			next[i] = lab[c]
		}
		out[l] = next
		cur = next
	}
	return out, method, inertia, nil
}

// compact renumbers labels 0..m-1 in order of first appearance (a k-means
// cluster may end up empty).
func compact(labels []int) []int {
	ids := map[int]int{}
	out := make([]int, len(labels))
	for i, l := range labels {
		id, ok := ids[l]
		if !ok {
			id = len(ids)
			ids[l] = id
		}
		out[i] = id
	}
	return out
}

func maxLabel(labels []int) int {
	m := -1
	for _, l := range labels {
		m = max(m, l)
	}
	return m
}

func positive(w []float64) []float64 {
	out := slices.Clone(w)
	for i, v := range out {
		if v <= 0 {
			out[i] = 1e-9
		}
	}
	return out
}

// centroids are the weighted means of each cluster's members, renormalised
// to unit length (cosine geometry), and the clusters' total weights.
func centroids(x *mat.Dense, w []float64, labels []int, k int) (*mat.Dense, []float64) {
	_, d := x.Dims()
	c := mat.NewDense(k, d, nil)
	cw := make([]float64, k)
	for i, l := range labels {
		row := c.RawRowView(l)
		for j, v := range x.RawRowView(i) {
			row[j] += w[i] * v
		}
		cw[l] += w[i]
	}
	for l := 0; l < k; l++ {
		row := c.RawRowView(l)
		norm := 0.0
		for _, v := range row {
			norm += v * v
		}
		if norm > 0 {
			norm = math.Sqrt(norm)
			for j := range row {
				row[j] /= norm
			}
		}
	}
	return c, cw
}

// clusterID is a deterministic ID: field, level and a UUID-shaped hash of the
// cluster's member keys.
func clusterID(field string, level int, members []string) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%d\x00", field, level)
	for _, m := range members {
		h.Write([]byte(m))
		h.Write([]byte{0})
	}
	s := h.Sum(nil)
	s[6] = s[6]&0x0f | 0x80 // UUID version 8 (custom)
	s[8] = s[8]&0x3f | 0x80
	return fmt.Sprintf("%s:l%d:%x-%x-%x-%x-%x", field, level, s[0:4], s[4:6], s[6:8], s[8:10], s[10:16])
}

func capitalise(s string) string {
	if s == "" {
		return s
	}
	r := []rune(s)
	r[0] = []rune(strings.ToUpper(string(r[0])))[0]
	return string(r)
}
