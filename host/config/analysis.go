package config

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
)

// Analysis is the [analysis] section: the defaults for the residual
// analysis of `valuescope analyze`, and its tables ([[analysis.table]]). See
// package analysis for what each setting means.
//
// A zero value means "not set" for every key but the privacy floor, whose
// zero turns the floor off; so the floor keys are pointers, nil when the
// file does not set them. The tags keep that distinction when a Config is
// encoded again (the run folder's resolved config.toml): unset keys are
// left out, and a floor set to any value, its default included, is written.
type Analysis struct {
	Alpha            float64         `toml:"alpha,omitzero"`
	Correction       string          `toml:"correction,omitempty"` // bonferroni | holm | bh | none
	Family           string          `toml:"family,omitempty"`     // context | table
	Tests            int             `toml:"tests,omitzero"`
	Top              int             `toml:"top,omitzero"`
	Method           string          `toml:"method,omitempty"`     // normal | exact
	MonteCarlo       int             `toml:"monte_carlo,omitzero"` // random tables for the table's p-value (0: none)
	MinConversations *int            `toml:"min_conversations,omitempty"`
	MinUsers         *int            `toml:"min_users,omitempty"`
	UserKeys         []string        `toml:"user_keys,omitempty"`
	Tables           []AnalysisTable `toml:"table,omitempty"`
}

// AnalysisTable is one contingency table to analyse: an annotation field
// (rows) against a context (another field, "source", or "meta.KEY"), with
// optional overrides of the section's settings (zero or nil: not set).
// It is also the analysis package's TableSpec; in JSON (a report's data)
// only what names the table is written.
type AnalysisTable struct {
	Name             string  `toml:"name,omitempty" json:"name"`
	Rows             string  `toml:"rows" json:"rows"`
	Cols             string  `toml:"cols" json:"cols"`
	Alpha            float64 `toml:"alpha,omitzero" json:"-"`
	Correction       string  `toml:"correction,omitempty" json:"-"`
	Family           string  `toml:"family,omitempty" json:"-"`
	Tests            int     `toml:"tests,omitzero" json:"-"`
	Top              int     `toml:"top,omitzero" json:"-"`
	MinConversations *int    `toml:"min_conversations,omitempty" json:"-"`
	MinUsers         *int    `toml:"min_users,omitempty" json:"-"`
}

var nameRE = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

// FileName is the name of the table's files (in RUN/analysis): its name, or
// ROWS_by_COLS, with anything but letters, digits, '_', '.' and '-'
// replaced.
func (t AnalysisTable) FileName() string {
	n := t.Name
	if n == "" {
		n = t.Rows + "_by_" + t.Cols
	}
	return strings.Trim(nameRE.ReplaceAllString(n, "_"), "_.")
}

// LoadAnalysis reads only the [analysis] section of a TOML file: an
// analysis.toml, or a run config, whose other sections are neither decoded
// nor checked (a run folder's config names dataset files that may have
// moved since). It returns nil when the file has no such section. Problems
// are [Errors], with line and key, as from [Load].
func LoadAnalysis(path string) (*Analysis, error) {
	src, abs, err := readSource(path)
	if err != nil {
		return nil, err
	}
	var a *Analysis
	c := &checker{cfg: &Config{Path: abs, Source: src}, dir: filepath.Dir(abs)}
	errs := decodeWith(path, src, c, func(root map[string]any) {
		if d, ok := root["analysis"]; ok {
			c.value(scope{c: c}.field("analysis"), d, reflect.ValueOf(&a).Elem())
		}
	})
	if len(errs) > 0 {
		return nil, errs
	}
	return a, nil
}

var (
	corrections = []string{"bonferroni", "holm", "bh", "none"}
	families    = []string{"context", "table"}
	methods     = []string{"normal", "exact"}
)

func (a *Analysis) validate(v scope) {
	checkTest(v, a.Alpha, a.Correction, a.Family, a.Tests, a.Top, deref(a.MinConversations), deref(a.MinUsers))
	if a.Method != "" && !slices.Contains(methods, a.Method) {
		v.field("method").errorf("unknown method %q (known: %s)", a.Method, list(methods))
	}
	if a.MonteCarlo < 0 {
		v.field("monte_carlo").errorf("must be >= 0, got %d", a.MonteCarlo)
	}
}

func (t *AnalysisTable) validate(v scope) {
	if t.Rows == "" {
		v.field("rows").missing("an annotation field, like ai_values")
	}
	if t.Cols == "" {
		v.field("cols").missing(`a context: a field, "source" or "meta.KEY"`)
	}
	checkTest(v, t.Alpha, t.Correction, t.Family, t.Tests, t.Top, deref(t.MinConversations), deref(t.MinUsers))
}

func deref(p *int) int {
	if p == nil {
		return 0
	}
	return *p
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

// readSource reads a config file and makes its path absolute, for Load and
// LoadAnalysis; a read error wraps the file system's.
func readSource(path string) (src []byte, abs string, err error) {
	if src, err = os.ReadFile(path); err != nil {
		return nil, "", fmt.Errorf("load config: %w", err)
	}
	if abs, err = filepath.Abs(path); err != nil {
		return nil, "", fmt.Errorf("load config %s: %w", path, err)
	}
	return src, abs, nil
}
