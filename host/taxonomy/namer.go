package taxonomy

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"

	"gonum.org/v1/gonum/mat"

	"github.com/valuescope/valuescope/host/taxonomy/embed"
	"github.com/valuescope/valuescope/sdk/naming"
)

// Member is a value (at level 1) or a child cluster (above) of a cluster to
// name. It is the protocol's type: a namer plugin receives it as JSON.
type Member = naming.Member

// ClusterToName is what a Namer sees of a cluster: its members, closest to
// the centroid first, and (when the namer asks) the nearest non-members, for
// contrast. A namer plugin receives it as its request's meta_json
// (sdk/naming, sdk/ABI.md "Namer plugins").
type ClusterToName = naming.Cluster

// Naming is a cluster's name and description.
type Naming struct {
	Name        string `json:"name"`
	Description string `json:"description"`
}

// Namer names the clusters of one level at a time, bottom-up.
type Namer interface {
	Name(ctx context.Context, clusters []ClusterToName) ([]Naming, error)
	// Contrast is how many nearest non-members each cluster should come with (0: none).
	Contrast() int
}

// RepresentativeNamer, the built-in namer, names a cluster after its most
// representative member: the one closest to the centroid, with a bonus for
// being frequent — when that name fits the cluster (NameFit: it speaks
// for at least MinNameFit of the cluster's count, by name or by meaning).
// When it does not, the name is the member that fits best, and, while
// the name still fits under MinNameFit, the members that add most to it,
// up to MaxNameParts ("Epistemic humility, helpfulness and empathy"): a
// cluster is never named after a small part of it.
type RepresentativeNamer struct {
	// Embedder measures the fit (nil: the built-in offline embedder).
	Embedder Embedder
}

// MaxNameParts bounds the members a name is made of.
const MaxNameParts = 4

// Contrast implements Namer.
func (RepresentativeNamer) Contrast() int { return 0 }

// Name implements Namer.
func (n RepresentativeNamer) Name(ctx context.Context, cs []ClusterToName) ([]Naming, error) {
	e := n.Embedder
	if e == nil {
		e = Offline{}
	}
	out := make([]Naming, len(cs))
	for i, c := range cs {
		maxc := 0.0
		for _, m := range c.Members {
			maxc = max(maxc, m.Count)
		}
		best, bs := 0, math.Inf(-1)
		for j, m := range c.Members {
			s := m.Similarity
			if maxc > 0 {
				s += 0.1 * math.Log1p(m.Count) / math.Log1p(maxc)
			}
			if s > bs {
				best, bs = j, s
			}
		}
		name, err := fittingName(ctx, e, c.Members, c.Members[best].Name)
		if err != nil {
			return nil, err
		}
		out[i] = Naming{Name: capitalise(name), Description: describe(c)}
	}
	return out, nil
}

// fittingName is rep when it fits the members, else a name built of the
// members that fit them best (see RepresentativeNamer).
func fittingName(ctx context.Context, e Embedder, members []Member, rep string) (string, error) {
	f, err := newFitter(ctx, e, members)
	if err != nil {
		return "", err
	}
	fit, err := f.fit(ctx, rep)
	if err != nil || fit >= MinNameFit {
		return rep, err
	}
	// Candidates: the most frequent members (a name is read as what the
	// cluster mostly holds).
	cands := make([]string, 0, len(members))
	for _, m := range members {
		cands = append(cands, m.Name)
	}
	counts := map[string]float64{}
	for _, m := range members {
		counts[m.Name] = m.Count
	}
	slices.SortStableFunc(cands, func(a, b string) int {
		if counts[a] != counts[b] {
			if counts[a] > counts[b] {
				return -1
			}
			return 1
		}
		return strings.Compare(a, b)
	})
	cands = cands[:min(len(cands), 12)]
	if !slices.Contains(cands, rep) {
		cands = append(cands, rep)
	}
	var parts []string
	for len(parts) < MaxNameParts && fit < MinNameFit {
		// The first part is the best single name, even if no better
		// than rep alone; each next one must add to the fit.
		bestName, bestFit := "", fit
		if len(parts) == 0 {
			bestFit = -1
		}
		for _, c := range cands {
			if slices.Contains(parts, c) {
				continue
			}
			name := joinParts(append(slices.Clone(parts), c))
			g, err := f.fit(ctx, name)
			if err != nil {
				return "", err
			}
			if g > bestFit {
				bestName, bestFit = c, g
			}
		}
		if bestName == "" {
			break
		}
		parts = append(parts, bestName)
		fit = bestFit
	}
	if len(parts) == 0 {
		return rep, nil
	}
	return joinParts(parts), nil
}

// joinParts writes "A", "A and B", "A, B and C".
func joinParts(parts []string) string {
	if len(parts) == 1 {
		return parts[0]
	}
	return strings.Join(parts[:len(parts)-1], ", ") + " and " + parts[len(parts)-1]
}

// WordsNamer names a cluster after the most frequent words of its members'
// names, weighted by count ("Safety and protection").
type WordsNamer struct{}

// Contrast implements Namer.
func (WordsNamer) Contrast() int { return 0 }

// Name implements Namer.
func (WordsNamer) Name(_ context.Context, cs []ClusterToName) ([]Naming, error) {
	out := make([]Naming, len(cs))
	for i, c := range cs {
		freq := map[string]float64{}
		for _, m := range c.Members {
			seen := map[string]bool{}
			for _, t := range embed.Tokens(m.Name) {
				if stop[t] || seen[t] {
					continue
				}
				seen[t] = true
				freq[t] += 1 + math.Log1p(m.Count)
			}
		}
		words := make([]string, 0, len(freq))
		for w := range freq {
			words = append(words, w)
		}
		slices.SortFunc(words, func(a, b string) int {
			if freq[a] != freq[b] {
				if freq[a] > freq[b] {
					return -1
				}
				return 1
			}
			return strings.Compare(a, b)
		})
		name := c.Members[0].Name
		switch {
		case len(words) >= 2 && freq[words[1]] >= 0.5*freq[words[0]]:
			name = words[0] + " and " + words[1]
		case len(words) >= 1:
			name = words[0]
		}
		out[i] = Naming{Name: capitalise(name), Description: describe(c)}
	}
	return out, nil
}

var stop = map[string]bool{"a": true, "an": true, "the": true, "of": true, "for": true, "to": true,
	"and": true, "in": true, "on": true, "with": true, "one's": true, "by": true}

func describe(c ClusterToName) string {
	kind := "values"
	if c.Level > 1 {
		kind = "groups"
	}
	ms := slices.Clone(c.Members)
	slices.SortStableFunc(ms, func(a, b Member) int {
		if a.Count != b.Count {
			if a.Count > b.Count {
				return -1
			}
			return 1
		}
		return 0
	})
	names := make([]string, 0, 6)
	for _, m := range ms[:min(6, len(ms))] {
		names = append(names, m.Name)
	}
	if len(ms) == 1 {
		kind = strings.TrimSuffix(kind, "s")
	}
	if len(ms) > len(names) {
		return fmt.Sprintf("%d %s, the most frequent: %s.", len(ms), kind, strings.Join(names, ", "))
	}
	return fmt.Sprintf("%d %s: %s.", len(ms), kind, strings.Join(names, ", "))
}

// assemble names the clusters level by level and lays out the tree.
func assemble(ctx context.Context, items []Item, x *mat.Dense, labels [][]int, o Options) (*Tree, error) {
	n, d := x.Dims()
	total := 0.0
	for _, it := range items {
		total += it.Count
	}
	pct := func(c float64) float64 {
		if total <= 0 {
			return 0
		}
		return 100 * c / total
	}
	// units of the level below: items at level 1, clusters of level l-1 above
	unitNames := make([]string, n)
	unitCounts := make([]float64, n)
	unitVecs := x
	unitKeys := make([][]string, n) // member item keys, sorted
	for i, it := range items {
		unitNames[i], unitCounts[i] = it.Name, it.Count
		unitKeys[i] = []string{it.Key}
	}
	unitOf := make([]int, n) // item -> unit of the level below
	for i := range unitOf {
		unitOf[i] = i
	}
	var levelNodes [][]Node
	for l, lab := range labels {
		k := 0
		for _, c := range lab {
			k = max(k, c+1)
		}
		// unit -> cluster
		nu, _ := unitVecs.Dims()
		clusterOfUnit := make([]int, nu)
		for i := range items {
			clusterOfUnit[unitOf[i]] = lab[i]
		}
		cent := mat.NewDense(k, d, nil)
		counts := make([]float64, k)
		members := make([][]int, k)
		keys := make([][]string, k)
		for u := 0; u < nu; u++ {
			c := clusterOfUnit[u]
			members[c] = append(members[c], u)
			keys[c] = append(keys[c], unitKeys[u]...)
			counts[c] += unitCounts[u]
			row := cent.RawRowView(c)
			wu := max(unitCounts[u], 1e-9)
			if !o.Weighted {
				wu = 1
			}
			for j, v := range unitVecs.RawRowView(u) {
				row[j] += wu * v
			}
		}
		for c := 0; c < k; c++ {
			normalise(cent.RawRowView(c))
			slices.Sort(keys[c])
		}
		toName := make([]ClusterToName, k)
		for c := 0; c < k; c++ {
			ms := make([]Member, len(members[c]))
			for j, u := range members[c] {
				ms[j] = Member{Name: unitNames[u], Count: unitCounts[u], Similarity: cosine(unitVecs.RawRowView(u), cent.RawRowView(c))}
			}
			slices.SortStableFunc(ms, func(a, b Member) int {
				if a.Similarity != b.Similarity {
					if a.Similarity > b.Similarity {
						return -1
					}
					return 1
				}
				return strings.Compare(a.Name, b.Name)
			})
			toName[c] = ClusterToName{Level: l + 1, Members: ms}
		}
		if nc := o.Namer.Contrast(); nc > 0 {
			for c := 0; c < k; c++ {
				toName[c].Contrast = nearestOutside(unitVecs, unitNames, clusterOfUnit, c, cent.RawRowView(c), nc)
			}
		}
		var rare func(Member) bool
		if l == 0 && o.NamePass != nil {
			rare = func(m Member) bool { return !o.NamePass(Key(m.Name)) }
		}
		names, err := nameClusters(ctx, o.Namer, toName, unitCounts, unitNames, rare)
		if err != nil {
			return nil, fmt.Errorf("naming level %d: %w", l+1, err)
		}
		ids := make([]string, k)
		nodes := make([]Node, k)
		for c := 0; c < k; c++ {
			ids[c] = clusterID(o.Field, l+1, keys[c])
			nodes[c] = Node{ID: ids[c], Name: names[c].Name, Description: names[c].Description, Level: l + 1, Pct: pct(counts[c]), Count: counts[c]}
		}
		// children's parents
		if l == 0 {
			var leaves []Node
			for i, it := range items {
				for _, v := range it.Variants {
					leaves = append(leaves, Node{ID: v.Name, Name: v.Name, Level: 0, Parent: ids[lab[i]], Pct: pct(v.Count), Count: v.Count})
				}
			}
			levelNodes = append(levelNodes, leaves)
		} else {
			for u := range levelNodes[l] {
				levelNodes[l][u].Parent = ids[clusterOfUnit[u]]
			}
		}
		levelNodes = append(levelNodes, nodes)
		// the clusters become the units of the next level
		unitVecs = cent
		unitNames = make([]string, k)
		unitCounts = counts
		unitKeys = keys
		for c := 0; c < k; c++ {
			unitNames[c] = names[c].Name
		}
		for i := range items {
			unitOf[i] = lab[i]
		}
	}
	var all []Node
	for _, ns := range levelNodes {
		slices.SortStableFunc(ns, func(a, b Node) int {
			if c := strings.Compare(a.Parent, b.Parent); c != 0 {
				return c
			}
			return strings.Compare(a.ID, b.ID)
		})
		all = append(all, ns...)
	}
	return NewTree(all)
}

// rareName names a cluster all of whose values are under
// Options.NamePass.
const rareName = "Less frequent values"

// nameClusters has namer name the clusters, keeping the members rare
// reports true for (values under a run's privacy floor) out of the names:
// they are not shown to the namer, as members or as contrast, and a cluster
// of rare values only is named rareName. Above the values, members are
// clusters, whose names are already safe, and rare is nil.
func nameClusters(ctx context.Context, namer Namer, cs []ClusterToName, counts []float64, names []string, rare func(Member) bool) ([]Naming, error) {
	if rare == nil {
		out, err := namer.Name(ctx, cs)
		if err == nil && len(out) != len(cs) {
			err = fmt.Errorf("%d names for %d clusters", len(out), len(cs))
		}
		return out, err
	}
	hidden := map[string]bool{}
	for u, n := range names {
		if rare(Member{Name: n, Count: counts[u]}) {
			hidden[n] = true
		}
	}
	var shown []ClusterToName
	var of []int
	for c, cl := range cs {
		cl.Members = slices.DeleteFunc(slices.Clone(cl.Members), rare)
		if len(cl.Members) == 0 {
			continue
		}
		cl.Contrast = slices.DeleteFunc(slices.Clone(cl.Contrast), func(n string) bool { return hidden[n] })
		shown = append(shown, cl)
		of = append(of, c)
	}
	out := make([]Naming, len(cs))
	for c, cl := range cs {
		out[c] = Naming{Name: rareName, Description: fmt.Sprintf("%d value(s), each under the privacy floor, so none names the cluster.", len(cl.Members))}
	}
	if len(shown) == 0 {
		return out, nil
	}
	got, err := nameClusters(ctx, namer, shown, nil, nil, nil)
	if err != nil {
		return nil, err
	}
	for j, c := range of {
		out[c] = got[j]
		if n := len(cs[c].Members) - len(shown[j].Members); n > 0 {
			out[c].Description = strings.TrimSpace(fmt.Sprintf("%s (%d more under the privacy floor, not shown.)", out[c].Description, n))
		}
	}
	return out, nil
}

func normalise(v []float64) {
	s := 0.0
	for _, x := range v {
		s += x * x
	}
	if s > 0 {
		s = math.Sqrt(s)
		for i := range v {
			v[i] /= s
		}
	}
}

func cosine(a, b []float64) float64 {
	var ab, aa, bb float64
	for i := range a {
		ab += a[i] * b[i]
		aa += a[i] * a[i]
		bb += b[i] * b[i]
	}
	if aa == 0 || bb == 0 {
		return 0
	}
	return ab / math.Sqrt(aa*bb)
}

func nearestOutside(v *mat.Dense, names []string, cl []int, c int, cent []float64, m int) []string {
	type cand struct {
		i int
		s float64
	}
	var cs []cand
	for u := range cl {
		if cl[u] != c {
			cs = append(cs, cand{u, cosine(v.RawRowView(u), cent)})
		}
	}
	slices.SortStableFunc(cs, func(a, b cand) int {
		if a.s != b.s {
			if a.s > b.s {
				return -1
			}
			return 1
		}
		return a.i - b.i
	})
	out := make([]string, 0, m)
	for _, x := range cs[:min(m, len(cs))] {
		out = append(out, names[x.i])
	}
	return out
}
