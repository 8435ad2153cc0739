package embed

import (
	"context"
	"math"
	"slices"
	"strings"
	"unicode"
)

// Offline embeds texts as the mean vector of their words, L2-normalised. It
// needs no network and is deterministic.
type Offline struct {
	V *Vectors
	// KeepStopwords keeps function words ("for", "of", "the" ...) that are
	// otherwise dropped when a text has other words.
	KeepStopwords bool
}

// NewOffline returns the built-in offline embedder.
func NewOffline() (*Offline, error) {
	v, err := Builtin()
	if err != nil {
		return nil, err
	}
	return &Offline{V: v}, nil
}

// Dims is the vectors' dimension.
func (o *Offline) Dims() int { return o.V.Dims }

// Embed returns one unit vector per text (a zero vector when no word of the
// text, nor any part of one, could be placed).
func (o *Offline) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	out := make([][]float32, len(texts))
	for i, t := range texts {
		if i%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		out[i] = o.embedOne(t)
	}
	return out, nil
}

var stopwords = map[string]bool{
	"a": true, "an": true, "the": true, "of": true, "for": true, "to": true, "and": true,
	"in": true, "on": true, "with": true, "by": true, "at": true, "from": true, "as": true,
	"or": true, "into": true, "about": true, "one's": true, "ones": true, "one": true,
	"their": true, "its": true, "s": true, "'s": true,
}

// Tokens splits text into lower-case word tokens (letters, digits, inner
// hyphens and apostrophes).
func Tokens(text string) []string {
	text = strings.ToLower(text)
	var toks []string
	var b strings.Builder
	flush := func() {
		t := strings.Trim(b.String(), "-'")
		if t != "" {
			toks = append(toks, t)
		}
		b.Reset()
	}
	for _, r := range text {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		case r == '-' || r == '\'' || r == '’':
			if r == '’' {
				r = '\''
			}
			b.WriteRune(r)
		default:
			flush()
		}
	}
	flush()
	return toks
}

func (o *Offline) embedOne(text string) []float32 {
	toks := Tokens(text)
	if !o.KeepStopwords {
		content := slices.DeleteFunc(slices.Clone(toks), func(t string) bool { return stopwords[t] })
		if len(content) > 0 {
			toks = content
		}
	}
	acc := make([]float64, o.V.Dims)
	n := 0
	for _, t := range toks {
		if v := o.V.Lookup(t); v != nil {
			for j, x := range v {
				acc[j] += float64(x)
			}
			n++
		}
	}
	out := make([]float32, o.V.Dims)
	norm := 0.0
	for _, x := range acc {
		norm += x * x
	}
	if n == 0 || norm == 0 {
		return out
	}
	norm = math.Sqrt(norm)
	for j, x := range acc {
		out[j] = float32(x / norm)
	}
	return out
}

// Lookup returns a vector for a word: its own; for a compound
// ("solution-focused", "one's") the mean of its parts'; for an unseen word, a
// morphological variant's ("constructiveness" -> "constructive"); else the
// weighted mean of the vocabulary words closest in character trigrams. Nil
// when nothing fits.
func (v *Vectors) Lookup(word string) []float32 {
	if x := v.Vector(word); x != nil {
		return x
	}
	if w := strings.ToLower(word); w != word {
		if x := v.Vector(w); x != nil {
			return x
		}
	}
	w := strings.TrimSuffix(strings.TrimSuffix(word, "'s"), "'")
	if w != word && w != "" {
		return v.Lookup(w)
	}
	if strings.ContainsAny(word, "-'") {
		parts := strings.FieldsFunc(word, func(r rune) bool { return r == '-' || r == '\'' })
		var vecs [][]float32
		for _, p := range parts {
			if stopwords[p] && len(parts) > 1 {
				continue
			}
			if x := v.Lookup(p); x != nil {
				vecs = append(vecs, x)
			}
		}
		return mean(vecs, v.Dims)
	}
	for _, c := range variants(word) {
		if x := v.Vector(c); x != nil {
			return x
		}
	}
	return v.subword(word)
}

func mean(vecs [][]float32, dims int) []float32 {
	if len(vecs) == 0 {
		return nil
	}
	if len(vecs) == 1 {
		return vecs[0]
	}
	out := make([]float32, dims)
	for _, x := range vecs {
		for j, y := range x {
			out[j] += y / float32(len(vecs))
		}
	}
	return out
}

// suffixes are derivational endings tried, longest first, with what may
// replace them ("relatability" -> "relatable", "proactiveness" -> "proactive").
var suffixes = []struct{ from, to string }{
	{"abilities", "able"}, {"ability", "able"}, {"ability", "e"}, {"ability", ""}, {"ibility", "ible"},
	{"able", "e"}, {"able", ""}, {"iveness", "ive"},
	{"fulness", "ful"}, {"ousness", "ous"}, {"iness", "y"}, {"ness", ""},
	{"icity", "ic"}, {"ity", ""}, {"ity", "e"}, {"isation", "ize"}, {"ization", "ize"},
	{"ation", "e"}, {"ation", ""}, {"ment", ""}, {"ism", ""}, {"ist", ""}, {"ists", ""},
	{"ies", "y"}, {"es", ""}, {"s", ""}, {"ing", ""}, {"ing", "e"}, {"ed", ""}, {"ed", "e"},
	{"ly", ""}, {"al", ""}, {"ic", ""}, {"ive", "e"}, {"ive", ""},
	{"ise", "ize"}, {"ised", "ized"}, {"our", "or"}, {"ence", "ent"}, {"ance", "ant"},
}

func variants(w string) []string {
	var out []string
	for _, s := range suffixes {
		if strings.HasSuffix(w, s.from) && len(w)-len(s.from) >= 3 {
			out = append(out, w[:len(w)-len(s.from)]+s.to)
		}
	}
	return out
}

func trigrams(w string) []string {
	r := []rune("<" + w + ">")
	if len(r) < 3 {
		return []string{string(r)}
	}
	seen := map[string]bool{}
	var out []string
	for i := 0; i+3 <= len(r); i++ {
		g := string(r[i : i+3])
		if !seen[g] {
			seen[g] = true
			out = append(out, g)
		}
	}
	return out
}

// subword places an unseen word at the weighted mean of the (up to 3)
// vocabulary words sharing most of its character trigrams, with a Dice
// coefficient of at least 0.5; nil when none is that close.
func (v *Vectors) subword(w string) []float32 {
	v.once.Do(func() {
		v.tri = map[string][]int32{}
		v.ntri = make([]int32, len(v.Words))
		for i, word := range v.Words {
			gs := trigrams(word)
			v.ntri[i] = int32(len(gs))
			for _, g := range gs {
				v.tri[g] = append(v.tri[g], int32(i))
			}
		}
	})
	grams := trigrams(w)
	shared := map[int32]int{}
	for _, g := range grams {
		for _, i := range v.tri[g] {
			shared[i]++
		}
	}
	type cand struct {
		i    int32
		dice float64
	}
	var cs []cand
	for i, s := range shared {
		d := 2 * float64(s) / float64(len(grams)+int(v.ntri[i]))
		if d >= 0.5 {
			cs = append(cs, cand{i, d})
		}
	}
	if len(cs) == 0 {
		return nil
	}
	slices.SortFunc(cs, func(a, b cand) int {
		if a.dice != b.dice {
			if a.dice > b.dice {
				return -1
			}
			return 1
		}
		return int(a.i - b.i)
	})
	cs = cs[:min(3, len(cs))]
	out := make([]float32, v.Dims)
	tot := 0.0
	for _, c := range cs {
		tot += c.dice
	}
	for _, c := range cs {
		x := v.data[int(c.i)*v.Dims : (int(c.i)+1)*v.Dims]
		for j, y := range x {
			out[j] += float32(c.dice/tot) * y
		}
	}
	return out
}
