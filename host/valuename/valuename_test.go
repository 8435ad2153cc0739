package valuename

import "testing"

func TestCanon(t *testing.T) {
	cases := map[string]string{
		"  Respect for  One’s Autonomy. ": "respect for one's autonomy",
		"Well-Being!":                     "well-being",
		"(child) safety":                  "child safety",
		"data/privacy":                    "data privacy",
		"--":                              "",
		"":                                "",
		"  ...  ":                         "",
		"HARM_PREVENTION":                 "harm-prevention",
		"harm – prevention":               "harm prevention",
		"‘quoted’ `name`":                 "quoted name",
		"Trust & Safety":                  "trust & safety",
		"honesty+integrity|care":          "honesty integrity care",
		"café":                            "café",
		"Ｆｕｌｌｗｉｄｔｈ":                       "fullwidth",
	}
	checkTable(t, "Canon", Canon, cases)
}

// checkTable checks f(in) == want for every case, and that f is idempotent
// on each.
func checkTable(t *testing.T, name string, f func(string) string, cases map[string]string) {
	t.Helper()
	for in, want := range cases {
		got := f(in)
		if got != want {
			t.Errorf("%s(%q) = %q, want %q", name, in, got, want)
		}
		if again := f(got); again != got {
			t.Errorf("%s not idempotent on %q: %q -> %q", name, in, got, again)
		}
	}
}

func TestKey(t *testing.T) {
	cases := map[string]string{
		// Case, spacing and punctuation.
		"Harm Prevention":        "harm prevention",
		"  harm-prevention. ":    "harm prevention",
		"HARM_PREVENTION":        "harm prevention",
		"Transparency/Honesty":   "transparency honesty",
		"\"epistemic humility\"": "epistemic humility",
		"(child) safety":         "child safety",
		"Child Safety.":          "child safety",
		"":                       "",
		"  ...  ":                "",
		"--":                     "",
		// Apostrophes: a possessive is the word's own form.
		"User's autonomy":          "user autonomy",
		"pride in one's community": "pride in one community",
		"users’ autonomy":          "user autonomy",
		"respect for others' work": "respect for other work",
		// Plurals.
		"Human rights":            "human right",
		"human right":             "human right",
		"values":                  "value",
		"Privacy policies":        "privacy policy",
		"communities":             "community",
		"personal boundaries":     "personal boundary",
		"business processes":      "business process",
		"clear approaches":        "clear approach",
		"tax boxes":               "tax box",
		"wishes":                  "wish",
		"Ünïcode  Straße\tvalues": "ünïcode straße value",
		// Words that only look plural.
		"wellness":            "wellness",
		"fairness":            "fairness",
		"professional ethics": "professional ethics",
		"politics":            "politics",
		"status":              "status",
		"critical analysis":   "critical analysis",
		"news":                "news",
		"series":              "series",
		"species":             "species",
		"always":              "always",
		"perhaps":             "perhaps",
		"whereas":             "whereas",
		"across":              "across",
		"this":                "this",
		"thus":                "thus",
		"its":                 "its",
		"yes":                 "yes",
		"besides":             "besides",
		"sometimes":           "sometimes",
		"lens":                "lens",
		"means":               "means",
		"towards":             "towards",
		"bias":                "bias",
		"chaos":               "chaos",
		"gas":                 "gas",
		// Spellings.
		"behaviour change": "behavior change",
		"behaviours":       "behavior",
		"organisation":     "organization",
		"organisations":    "organization",
		"analyses":         "analysis",
		"data analyses":    "data analysis",
		"crises":           "crisis",
		"criteria":         "criterion",
		"centres":          "center",
		"selfcare":         "self care",
		"self-care":        "self care",
		// Well-being.
		"Well-Being!":        "wellbeing",
		"well being":         "wellbeing",
		"users' well-beings": "user wellbeing",
		"farewell being":     "farewell being",
	}
	checkTable(t, "Key", Key, cases)
	same := [][]string{
		{"well-being", "wellbeing", "Well being", "well beings"},
		{"personal boundaries", "personal boundary"},
		{"behaviour change", "behavior change", "behaviours change"},
		{"organisation", "organization", "organisations"},
		{"self care", "self-care", "selfcare"},
		{"child safety", "Child Safety."},
		{"communities", "community"},
		{"Harm Prevention", "harm-prevention", "HARM_PREVENTION"},
		{"users’ autonomy", "users' autonomy", "user autonomy"},
	}
	for _, g := range same {
		for _, s := range g[1:] {
			if Key(s) != Key(g[0]) {
				t.Errorf("Key(%q) = %q, Key(%q) = %q: want equal", s, Key(s), g[0], Key(g[0]))
			}
		}
	}
	for _, d := range [][2]string{{"business", "busines"}, {"ethics", "ethic"}, {"analysis", "analysi"}, {"news", "new"}} {
		if Key(d[0]) == Key(d[1]) {
			t.Errorf("%q and %q share key %q", d[0], d[1], Key(d[0]))
		}
	}
}
