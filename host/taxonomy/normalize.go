package taxonomy

import (
	"slices"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// Value is a value name with how often it was seen (or a weight).
type Value struct {
	Name  string  `json:"value"`
	Count float64 `json:"count"`
}

// Item is one distinct value after normalisation: the names that differ only
// in case, spacing, punctuation, a simple plural or a spelling variant
// ("Well-being", "wellbeing", "well being") with their counts summed. Items
// are what is embedded and clustered; every variant stays a leaf of the tree.
type Item struct {
	Key      string    `json:"key"`
	Name     string    `json:"name"` // the most frequent variant
	Count    float64   `json:"count"`
	Variants []Variant `json:"variants"`
}

// Variant is one written form of an item (after Canon).
type Variant struct {
	Name  string  `json:"name"`
	Count float64 `json:"count"`
}

// Canon is the written form a name is kept under: Unicode NFKC, lower case,
// curly quotes straightened, characters other than letters, digits, spaces,
// hyphens, apostrophes and "&" dropped (kept between word characters: "'"
// and "-"), spaces collapsed. Names equal under Canon are exact duplicates.
func Canon(s string) string {
	s = strings.ToLower(norm.NFKC.String(s))
	var b strings.Builder
	space := false
	for _, r := range s {
		switch r {
		case '’', '‘', '`':
			r = '\''
		case '‐', '‑', '–', '—', '_':
			r = '-'
		}
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-' || r == '\'' || r == '&':
			if space && b.Len() > 0 {
				b.WriteByte(' ')
			}
			space = false
			b.WriteRune(r)
		case unicode.IsSpace(r) || r == '/' || r == ',' || r == ';' || r == ':' || r == '.' || r == '(' || r == ')':
			space = true
		}
	}
	words := strings.Fields(b.String())
	for i, w := range words {
		words[i] = strings.Trim(w, "-'")
	}
	return strings.Join(slices.DeleteFunc(words, func(w string) bool { return w == "" }), " ")
}

// spellings maps British and other variant spellings to one form.
var spellings = map[string]string{
	"behaviour": "behavior", "behavioural": "behavioral", "colour": "color", "honour": "honor",
	"favour": "favor", "labour": "labor", "neighbour": "neighbor", "humour": "humor",
	"harbour": "harbor", "rumour": "rumor", "vigour": "vigor", "valour": "valor",
	"endeavour": "endeavor", "candour": "candor", "splendour": "splendor", "rigour": "rigor",
	"centre": "center", "theatre": "theater", "judgement": "judgment", "defence": "defense",
	"offence": "offense", "licence": "license", "practise": "practice", "programme": "program",
	"ageing": "aging", "acknowledgement": "acknowledgment", "fulfil": "fulfill",
	"fulfilment": "fulfillment", "skilful": "skillful", "wilful": "willful", "counselling": "counseling",
	"modelling": "modeling", "travelling": "traveling", "catalogue": "catalog", "dialogue": "dialog",
	"analyse": "analyze", "paralyse": "paralyze", "enrolment": "enrollment", "sceptical": "skeptical",
	"scepticism": "skepticism", "selfcare": "self care",
}

// noSingular are words ending in s that are not plurals.
var noSingular = map[string]bool{
	"news": true, "series": true, "species": true, "means": true, "ethics": true,
	"politics": true, "economics": true, "physics": true, "mathematics": true, "logistics": true,
	"aesthetics": true, "athletics": true, "ergonomics": true, "dynamics": true, "analytics": true,
	"always": true, "perhaps": true, "towards": true, "whereabouts": true, "lens": true,
	"chaos": true, "ethos": true, "pathos": true, "logos": true, "kudos": true, "bias": true,
	"canvas": true, "atlas": true, "gas": true, "alias": true, "thesis": true, "basis": true,
	"crisis": true, "analysis": true, "emphasis": true, "diagnosis": true, "synthesis": true,
	"status": true, "focus": true, "consensus": true, "bonus": true, "campus": true,
	"virus": true, "genius": true, "versus": true, "corpus": true, "census": true, "process": true,
	"success": true, "progress": true, "business": true, "access": true, "fairness": true,
	"wellness": true, "sportsmanship": true,
}

func singular(w string) string {
	switch {
	case noSingular[w] || len(w) <= 3 || strings.HasSuffix(w, "ss") || strings.HasSuffix(w, "us") ||
		strings.HasSuffix(w, "is") || strings.HasSuffix(w, "ics") || strings.HasSuffix(w, "'s"):
		return w
	case strings.HasSuffix(w, "ies") && len(w) > 4:
		return w[:len(w)-3] + "y"
	case strings.HasSuffix(w, "sses"), strings.HasSuffix(w, "xes"), strings.HasSuffix(w, "ches"), strings.HasSuffix(w, "shes"):
		return w[:len(w)-2]
	case strings.HasSuffix(w, "s"):
		return w[:len(w)-1]
	}
	return w
}

// Key is the normalisation key: Canon, then hyphens and spaces unified,
// spelling variants ("-isation" -> "-ization", "behaviour" -> "behavior",
// "wellbeing" -> "well-being") and plurals (of every word) reduced. Names
// with one key are one item.
func Key(s string) string {
	words := strings.Fields(strings.ReplaceAll(Canon(s), "-", " "))
	for i, w := range words {
		if v, ok := spellings[w]; ok {
			w = v
		}
		for _, suf := range [][2]string{{"isation", "ization"}, {"isations", "izations"}, {"ised", "ized"}, {"ising", "izing"}} {
			if strings.HasSuffix(w, suf[0]) && len(w) > len(suf[0])+2 {
				w = w[:len(w)-len(suf[0])] + suf[1]
			}
		}
		w = singular(w)
		words[i] = w
	}
	// "well being" and "well-being" and "wellbeing" are one
	return strings.ReplaceAll(strings.Join(words, " "), "well being", "wellbeing")
}

// Normalize groups values into items: exact duplicates (equal Canon) merge
// with their counts summed into one variant, variants with one Key into one
// item. Values whose name is empty after Canon are returned as dropped. Items
// come sorted by count (descending), then key.
func Normalize(values []Value) (items []Item, dropped []Value) {
	byKey := map[string]*Item{}
	var order []*Item
	for _, v := range values {
		c := Canon(v.Name)
		if c == "" {
			dropped = append(dropped, v)
			continue
		}
		k := Key(c)
		it := byKey[k]
		if it == nil {
			it = &Item{Key: k}
			byKey[k] = it
			order = append(order, it)
		}
		it.Count += v.Count
		found := false
		for i := range it.Variants {
			if it.Variants[i].Name == c {
				it.Variants[i].Count += v.Count
				found = true
				break
			}
		}
		if !found {
			it.Variants = append(it.Variants, Variant{Name: c, Count: v.Count})
		}
	}
	items = make([]Item, len(order))
	for i, it := range order {
		slices.SortFunc(it.Variants, func(a, b Variant) int {
			if a.Count != b.Count {
				if a.Count > b.Count {
					return -1
				}
				return 1
			}
			return strings.Compare(a.Name, b.Name)
		})
		it.Name = it.Variants[0].Name
		items[i] = *it
	}
	slices.SortFunc(items, func(a, b Item) int {
		if a.Count != b.Count {
			if a.Count > b.Count {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Key, b.Key)
	})
	return items, dropped
}
