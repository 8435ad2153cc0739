// Package valuename is how valuescope tells whether two value names are one
// value. Every part of valuescope — the analysis and its tables, the
// comparison of runs, the reports, the review, the taxonomy and the mapping
// of values onto it — counts a value under one name, so they must all agree
// on which spellings are the same value: they all go through Key.
//
// Canon is the written form a name is kept under (exact duplicates: case,
// spacing, punctuation, Unicode forms). Key is the normalisation key: names
// with one Key are one value ("Well-being", "wellbeing", "well beings";
// "behaviour", "behaviors"; "organisations", "organization"). Both are
// deliberately simple — no stemming, no synonyms: merging meanings is the
// taxonomy's work.
package valuename

import (
	"slices"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// Canon is the written form a name is kept under: Unicode NFKC, lower case,
// curly quotes and backquotes straightened to "'", dashes and underscores to
// "-", letters, digits, combining marks, hyphens, apostrophes and "&" kept,
// every other character (white space, punctuation, symbols) separating
// words ("honesty+integrity" is two words); "'" and "-" are kept only inside
// a word; spaces collapsed and trimmed. Names equal under Canon are exact duplicates.
func Canon(s string) string {
	s = strings.ToLower(norm.NFKC.String(s))
	var b strings.Builder
	b.Grow(len(s))
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
		case unicode.IsMark(r):
			b.WriteRune(r) // combining marks belong to their letter
		default: // white space, other punctuation and symbols separate words ("honesty+integrity")
			space = true
		}
	}
	words := strings.Fields(b.String())
	for i, w := range words {
		words[i] = strings.Trim(w, "-'")
	}
	return strings.Join(slices.DeleteFunc(words, func(w string) bool { return w == "" }), " ")
}

// Key is the normalisation key: names with one Key are one value. It is
// Canon with hyphens as spaces, then of each word: a British or variant
// spelling replaced ("behaviour" → "behavior", "centre" → "center"),
// "-isation(s)", "-ised", "-ising" spelt with "z", a possessive "'s"
// dropped ("user's" → "user"), and the word made singular (see singular
// and irregular: "analyses" → "analysis"), its spelling looked up again once singular
// ("behaviours" → "behavior"); last, "well being" is one word, "wellbeing".
// Key(Key(s)) == Key(s).
func Key(s string) string {
	words := strings.Fields(strings.ReplaceAll(Canon(s), "-", " "))
	for i, w := range words {
		w = spelling(w)
		for _, suf := range [][2]string{{"isation", "ization"}, {"isations", "izations"}, {"ised", "ized"}, {"ising", "izing"}} {
			if strings.HasSuffix(w, suf[0]) && len(w) > len(suf[0])+2 {
				w = w[:len(w)-len(suf[0])] + suf[1]
			}
		}
		// A possessive is the word's own form: "user's autonomy",
		// "users' autonomy" and "user autonomy" are one value.
		w = strings.TrimSuffix(w, "'s")
		if p, ok := irregular[w]; ok {
			w = p
		}
		words[i] = spelling(singular(w))
	}
	// "well being", "well-being" and "wellbeing" are one.
	for i := 0; i+1 < len(words); i++ {
		if words[i] == "well" && words[i+1] == "being" {
			words = slices.Replace(words, i, i+2, "wellbeing")
		}
	}
	return strings.Join(words, " ")
}

// spelling is w in its one spelling (see spellings), else w.
// irregular are plurals the -s rules get wrong: Greek "-ses" is "-sis"
// ("analyses" is not "analyse", which the spellings would make a verb).
var irregular = map[string]string{
	"analyses": "analysis", "crises": "crisis", "diagnoses": "diagnosis", "theses": "thesis",
	"hypotheses": "hypothesis", "syntheses": "synthesis", "emphases": "emphasis",
	"prognoses": "prognosis", "parentheses": "parenthesis", "criteria": "criterion",
	"phenomena": "phenomenon",
}

func spelling(w string) string {
	if v, ok := spellings[w]; ok {
		return v
	}
	return w
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

// notPlural are words ending in "s" that are not plurals, beyond those the
// suffix rules of singular already keep.
var notPlural = map[string]bool{
	"news": true, "series": true, "species": true, "means": true, "ethics": true,
	"politics": true, "economics": true, "physics": true, "mathematics": true, "logistics": true,
	"aesthetics": true, "athletics": true, "ergonomics": true, "dynamics": true, "analytics": true,
	"always": true, "perhaps": true, "towards": true, "whereabouts": true, "whereas": true,
	"across": true, "this": true, "thus": true, "its": true, "yes": true, "besides": true,
	"sometimes": true, "lens": true,
	"chaos": true, "ethos": true, "pathos": true, "logos": true, "kudos": true, "bias": true,
	"canvas": true, "atlas": true, "gas": true, "alias": true, "thesis": true, "basis": true,
	"crisis": true, "analysis": true, "emphasis": true, "diagnosis": true, "synthesis": true,
	"status": true, "focus": true, "consensus": true, "bonus": true, "campus": true,
	"virus": true, "genius": true, "versus": true, "corpus": true, "census": true, "process": true,
	"success": true, "progress": true, "business": true, "access": true, "fairness": true,
	"wellness": true,
}

// singular is w made singular by simple English rules: words of three
// letters or fewer, those in notPlural, those ending in "ss", "us", "is",
// "ics" (wellness, status, analysis, ethics) or "'s" (a possessive) are
// kept; "ies" → "y" (policies); "sses", "xes", "ches", "shes" lose "es"
// (processes, boxes, approaches); any other final "s" is dropped.
func singular(w string) string {
	switch {
	case notPlural[w] || len(w) <= 3 || strings.HasSuffix(w, "ss") || strings.HasSuffix(w, "us") ||
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
