package config

import "slices"

// Analysis is the [analysis] section: the defaults for the residual
// analysis of `valuescope analyze`, and its tables ([[analysis.table]]). See
// package analysis for what each setting means.
type Analysis struct {
	Alpha            float64         `toml:"alpha,omitempty"`
	Correction       string          `toml:"correction,omitempty"` // bonferroni | holm | bh | none
	Family           string          `toml:"family,omitempty"`     // context | table
	Tests            int             `toml:"tests,omitempty"`
	Top              int             `toml:"top,omitempty"`
	MinConversations int             `toml:"min_conversations,omitempty"`
	MinUsers         int             `toml:"min_users,omitempty"`
	UserKeys         []string        `toml:"user_keys,omitempty"`
	Tables           []AnalysisTable `toml:"table,omitempty"`
}

// AnalysisTable is one contingency table to analyse: an annotation field
// (rows) against a context (another field, "source", or "meta.KEY").
type AnalysisTable struct {
	Name             string  `toml:"name,omitempty"`
	Rows             string  `toml:"rows"`
	Cols             string  `toml:"cols"`
	Alpha            float64 `toml:"alpha,omitempty"`
	Correction       string  `toml:"correction,omitempty"`
	Family           string  `toml:"family,omitempty"`
	Tests            int     `toml:"tests,omitempty"`
	Top              int     `toml:"top,omitempty"`
	MinConversations int     `toml:"min_conversations,omitempty"`
	MinUsers         int     `toml:"min_users,omitempty"`
}

var (
	corrections = []string{"bonferroni", "holm", "bh", "none"}
	families    = []string{"context", "table"}
)

func (a *Analysis) validate(v scope) {
	checkTest(v, a.Alpha, a.Correction, a.Family, a.Tests, a.Top, a.MinConversations, a.MinUsers)
}

func (t *AnalysisTable) validate(v scope) {
	if t.Rows == "" {
		v.field("rows").missing("an annotation field, like ai_values")
	}
	if t.Cols == "" {
		v.field("cols").missing(`a context: a field, "source" or "meta.KEY"`)
	}
	checkTest(v, t.Alpha, t.Correction, t.Family, t.Tests, t.Top, t.MinConversations, t.MinUsers)
}

// checkTest checks the settings a table shares with the section's defaults.
func checkTest(v scope, alpha float64, correction, family string, ints ...int) {
	if alpha != 0 && (alpha <= 0 || alpha >= 1) {
		v.field("alpha").errorf("must be between 0 and 1, got %g", alpha)
	}
	if correction != "" && !slices.Contains(corrections, correction) {
		v.field("correction").errorf("unknown correction %q (known: %s)", correction, list(corrections))
	}
	if family != "" && !slices.Contains(families, family) {
		v.field("family").errorf("unknown family %q (known: %s)", family, list(families))
	}
	for i, name := range []string{"tests", "top", "min_conversations", "min_users"} {
		if ints[i] < 0 {
			v.field(name).errorf("must be >= 0, got %d", ints[i])
		}
	}
}
