package analysis

import "testing"

func TestNormalizeValue(t *testing.T) {
	for in, want := range map[string]string{
		"Harm Prevention":          "harm prevention",
		"  harm-prevention. ":      "harm prevention",
		"HARM_PREVENTION":          "harm prevention",
		"User's autonomy":          "user autonomy",
		"users’ autonomy":          "user autonomy",
		"Human rights":             "human right",
		"human right":              "human right",
		"Privacy policies":         "privacy policy",
		"business processes":       "business process",
		"clear approaches":         "clear approach",
		"wellness":                 "wellness",
		"professional ethics":      "professional ethics",
		"status":                   "status",
		"critical analysis":        "critical analysis",
		"news":                     "news",
		"values":                   "value",
		"Transparency/Honesty":     "transparency honesty",
		"\"epistemic humility\"":   "epistemic humility",
		"gas":                      "gas",
		"":                         "",
		"  ...  ":                  "",
		"Ünïcode  Straße\tvalues":  "ünïcode straße value",
		"respect for others' work": "respect for other work",
	} {
		if got := NormalizeValue(in); got != want {
			t.Errorf("NormalizeValue(%q) = %q, want %q", in, got, want)
		}
	}
	// Idempotent.
	for _, s := range []string{"Privacy policies", "business processes", "users' autonomy"} {
		n := NormalizeValue(s)
		if NormalizeValue(n) != n {
			t.Errorf("not idempotent on %q: %q -> %q", s, n, NormalizeValue(n))
		}
	}
}
