package analysis

import (
	"strings"
	"unicode"
)

// Mapper places value names on one level of a taxonomy: it is where a
// taxonomy (host/taxonomy: clusters, or the paper's tree) plugs into the
// analysis and the comparison of runs. Both runs of a comparison go through
// the same Mapper, so their values are counted on one shared set of nodes.
type Mapper interface {
	// Node returns the node of a value of field at the mapper's level, and
	// false when the value has no place (it is then left out, and counted).
	Node(field, value string) (node string, ok bool)
}

// Normalized is the default Mapper, level 0 of every taxonomy: the value's
// normalised name (see NormalizeValue). Empty names have no node.
type Normalized struct{}

// Node returns NormalizeValue(value).
func (Normalized) Node(_, value string) (string, bool) {
	n := NormalizeValue(value)
	return n, n != ""
}

// MapperFunc adapts a function to a Mapper.
type MapperFunc func(field, value string) (string, bool)

// Node calls f.
func (f MapperFunc) Node(field, value string) (string, bool) { return f(field, value) }

// NormalizeValue is the canonical form of a value name, so that spellings of
// one value count as one: lower case; an apostrophe dropped ("user's" →
// "users", then singular: "user"); every other punctuation or symbol (hyphens, underscores,
// slashes, quotes, full stops) a space; white space collapsed and trimmed;
// then each word of four letters or more made singular by simple English
// rules: "ies" → "y" (policies), "sses"/"xes"/"ches"/"shes" lose "es"
// (processes, boxes, approaches), a final "s" is dropped unless the word
// ends in "ss", "us", "is" or "ics" (wellness, status, analysis, ethics) or
// is one of a few words that only look plural (news, series, species,
// always, perhaps, whereas, across, this, thus, its, yes). It is
// deliberately simple — no stemming, no synonyms: merging meanings is the
// taxonomy's work.
func NormalizeValue(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for _, r := range s {
		switch {
		case r == '\'' || r == '’' || r == '`':
			continue
		case unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r):
			if space && b.Len() > 0 {
				b.WriteByte(' ')
			}
			space = false
			b.WriteRune(unicode.ToLower(r))
		default: // white space, punctuation, symbols, controls
			space = true
		}
	}
	words := strings.Split(b.String(), " ")
	for i, w := range words {
		words[i] = singular(w)
	}
	return strings.Join(words, " ")
}

var notPlural = map[string]bool{
	"news": true, "series": true, "species": true, "always": true, "perhaps": true,
	"whereas": true, "across": true, "this": true, "thus": true, "its": true, "yes": true,
	"besides": true, "sometimes": true, "lens": true,
}

func singular(w string) string {
	if len(w) < 4 || notPlural[w] || !strings.HasSuffix(w, "s") {
		return w
	}
	switch {
	case strings.HasSuffix(w, "ies") && len(w) > 4:
		return w[:len(w)-3] + "y"
	case strings.HasSuffix(w, "sses"), strings.HasSuffix(w, "xes"),
		strings.HasSuffix(w, "ches"), strings.HasSuffix(w, "shes"):
		return w[:len(w)-2]
	case strings.HasSuffix(w, "ss"), strings.HasSuffix(w, "us"),
		strings.HasSuffix(w, "is"), strings.HasSuffix(w, "ics"):
		return w
	}
	return w[:len(w)-1]
}
