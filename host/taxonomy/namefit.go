package taxonomy

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/valuescope/valuescope/host/valuename"
)

// FitSimilarity is the cosine similarity (by the namer's embedder) from
// which a cluster's name is taken to speak for a member: the similarity at
// which a value is placed on a tree (DefaultThreshold).
const FitSimilarity = DefaultThreshold

// MinNameFit is the share of a cluster's count its name must speak for.
const MinNameFit = 0.5

// NameFit is the share of the members' count (or of the members, when
// none has a count) a
// cluster's name speaks for: a member whose name is one of the name's
// parts ("Epistemic humility, helpfulness and caution" names three), or
// whose embedding is at least FitSimilarity from the name's or from one of
// its parts'. A name that fits under MinNameFit misleads: "Empathy" over a
// cluster whose count is mostly epistemic humility and helpfulness.
func NameFit(ctx context.Context, e Embedder, name string, members []Member) (float64, error) {
	f, err := newFitter(ctx, e, members)
	if err != nil {
		return 0, err
	}
	return f.fit(ctx, name)
}

// fitter measures names against one cluster's members, embedded once.
type fitter struct {
	e       Embedder
	members []Member
	vecs    [][]float32
	named   map[string][]float32 // embeddings of names and parts
}

func newFitter(ctx context.Context, e Embedder, members []Member) (*fitter, error) {
	f := &fitter{e: e, members: members, named: map[string][]float32{}}
	texts := make([]string, len(members))
	for j, m := range members {
		texts[j] = strings.ToLower(m.Name)
	}
	vecs, err := embedTexts(ctx, e, texts)
	if err != nil {
		return nil, fmt.Errorf("embedding %d members of a cluster: %w", len(members), err)
	}
	f.vecs = vecs
	for j := range members {
		f.named[texts[j]] = vecs[j]
	}
	return f, nil
}

func embedTexts(ctx context.Context, e Embedder, texts []string) ([][]float32, error) {
	if len(texts) == 0 {
		return nil, nil
	}
	vecs, err := e.Embed(ctx, texts)
	if err != nil {
		return nil, err
	}
	if len(vecs) != len(texts) {
		return nil, fmt.Errorf("embedder returned %d vectors for %d texts", len(vecs), len(texts))
	}
	return vecs, nil
}

func (f *fitter) fit(ctx context.Context, name string) (float64, error) {
	if len(f.members) == 0 {
		return 0, nil
	}
	// Case says nothing of meaning (a name is capitalised, its members
	// are not), and the embedder's vocabulary is lower case.
	name = strings.ToLower(name)
	parts := nameParts(name)
	texts := append([]string{name}, parts...)
	var missing []string
	for _, t := range texts {
		if _, ok := f.named[t]; !ok && !slices.Contains(missing, t) {
			missing = append(missing, t)
		}
	}
	vecs, err := embedTexts(ctx, f.e, missing)
	if err != nil {
		return 0, fmt.Errorf("embedding the name %q: %w", name, err)
	}
	for i, t := range missing {
		f.named[t] = vecs[i]
	}
	keys := map[string]bool{}
	for _, p := range parts {
		keys[valuename.Key(p)] = true
	}
	weigh := slices.ContainsFunc(f.members, func(m Member) bool { return m.Count > 0 })
	total, fit := 0.0, 0.0
	for j, m := range f.members {
		w := 1.0 // members without counts weigh alike
		if weigh {
			w = max(m.Count, 0)
		}
		total += w
		if keys[valuename.Key(m.Name)] || slices.IndexFunc(nameParts(m.Name), func(p string) bool { return !keys[valuename.Key(p)] }) < 0 {
			fit += w
			continue
		}
		if slices.ContainsFunc(texts, func(t string) bool { return cosine32(f.named[t], f.vecs[j]) >= FitSimilarity }) {
			fit += w
		}
	}
	return fit / total, nil
}

// nameParts splits a name made of members' names ("A, B and C") into
// them; a name of one part is that part.
func nameParts(name string) []string {
	var out []string
	for _, p := range strings.Split(name, ", ") {
		for _, q := range strings.Split(p, " and ") {
			if q = strings.TrimSpace(q); q != "" {
				out = append(out, q)
			}
		}
	}
	return out
}

func cosine32(a, b []float32) float64 {
	x, y := make([]float64, len(a)), make([]float64, len(b))
	for i := range a {
		x[i] = float64(a[i])
	}
	for i := range b {
		y[i] = float64(b[i])
	}
	return cosine(x, y)
}
