package analysis

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/BurntSushi/toml"
)

// DefaultFloor is the privacy floor when none is configured: 5 distinct
// conversations, and 5 distinct users where the data names users.
var DefaultFloor = Floor{MinConversations: 5, MinUsers: 5}

// Settings is the [analysis] section: defaults for every table, and the
// tables. In analysis.toml, or in a run config once host/config carries it:
//
//	[analysis]
//	alpha = 0.05
//	correction = "bonferroni"   # holm, bh, none
//	family = "context"          # or "table"
//	tests = 3307                # stated tests per family (0: the family's size)
//	top = 10
//	min_conversations = 5       # privacy floor
//	min_users = 5               # applies where the data names users
//	user_keys = ["hashed_ip"]   # metadata keys naming a user
//
//	[[analysis.table]]
//	name = "values_by_topic"
//	rows = "ai_values"
//	cols = "topic"              # a field, source, or a metadata key (meta.KEY)
//	# any setting above may be overridden per table
type Settings struct {
	Alpha            float64     `toml:"alpha"`
	Correction       string      `toml:"correction"`
	Family           string      `toml:"family"`
	Tests            int         `toml:"tests"`
	Top              int         `toml:"top"`
	MinConversations *int        `toml:"min_conversations"`
	MinUsers         *int        `toml:"min_users"`
	UserKeys         []string    `toml:"user_keys"`
	Tables           []TableSpec `toml:"table"`
}

// TableSpec is one [[analysis.table]]: rows against a context, with optional
// overrides of the section's settings.
type TableSpec struct {
	Name             string  `toml:"name" json:"name"`
	Rows             string  `toml:"rows" json:"rows"`
	Cols             string  `toml:"cols" json:"cols"`
	Alpha            float64 `toml:"alpha" json:"-"`
	Correction       string  `toml:"correction" json:"-"`
	Family           string  `toml:"family" json:"-"`
	Tests            int     `toml:"tests" json:"-"`
	Top              int     `toml:"top" json:"-"`
	MinConversations *int    `toml:"min_conversations" json:"-"`
	MinUsers         *int    `toml:"min_users" json:"-"`
}

// ParseTableFlag reads a table given on the command line as ROWS:COLS or
// NAME=ROWS:COLS.
func ParseTableFlag(s string) (TableSpec, error) {
	var t TableSpec
	if name, rest, ok := strings.Cut(s, "="); ok {
		t.Name, s = strings.TrimSpace(name), rest
	}
	rows, cols, ok := strings.Cut(s, ":")
	// "meta:KEY" and "field:NAME" contain a colon: split at the first colon
	// that is not such a prefix.
	if ok && (rows == "meta" || rows == "field") {
		r2, c2, ok2 := strings.Cut(cols, ":")
		rows, cols, ok = rows+":"+r2, c2, ok2
	}
	if !ok || strings.TrimSpace(rows) == "" || strings.TrimSpace(cols) == "" {
		return t, fmt.Errorf("table %q: expected ROWS:CONTEXT, such as ai_values:topic", s)
	}
	t.Rows, t.Cols = strings.TrimSpace(rows), strings.TrimSpace(cols)
	return t, nil
}

var nameRE = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

// FileName is the name of the table's files: its name, or ROWS_by_COLS,
// with anything but letters, digits, '_', '.' and '-' replaced.
func (t TableSpec) FileName() string {
	n := t.Name
	if n == "" {
		n = t.Rows + "_by_" + t.Cols
	}
	return strings.Trim(nameRE.ReplaceAllString(n, "_"), "_.")
}

// Floor is the privacy floor of s: DefaultFloor with s's overrides.
func (s Settings) Floor() Floor {
	f := DefaultFloor
	if s.MinConversations != nil {
		f.MinConversations = *s.MinConversations
	}
	if s.MinUsers != nil {
		f.MinUsers = *s.MinUsers
	}
	return f
}

// ReadRunSettings reads a run folder's [analysis] settings: from
// config.orig.toml, the config as written (the resolved config.toml may drop
// what it holds, such as a zero floor), else config.toml; zero Settings when
// neither has the section.
func ReadRunSettings(dir string) (Settings, error) {
	for _, name := range []string{"config.orig.toml", "config.toml"} {
		s, _, err := ReadSettingsFile(filepath.Join(dir, name))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		return s, err
	}
	return Settings{}, nil
}

// Options are the analysis options of a table: its overrides over s.
func (s Settings) Options(t TableSpec) (Options, error) {
	o := Options{Alpha: s.Alpha, Correction: Correction(s.Correction), Family: Family(s.Family), Tests: s.Tests, Top: s.Top, Floor: s.Floor()}
	if t.Alpha != 0 {
		o.Alpha = t.Alpha
	}
	if t.Correction != "" {
		o.Correction = Correction(t.Correction)
	}
	if t.Family != "" {
		o.Family = Family(t.Family)
	}
	if t.Tests != 0 {
		o.Tests = t.Tests
	}
	if t.Top != 0 {
		o.Top = t.Top
	}
	if t.MinConversations != nil {
		o.Floor.MinConversations = *t.MinConversations
	}
	if t.MinUsers != nil {
		o.Floor.MinUsers = *t.MinUsers
	}
	err := o.defaults()
	return o, err
}

// ReadSettingsFile reads the [analysis] section of a TOML file: an
// analysis.toml, or a run config (whose other sections are not looked at).
// Unknown keys inside [analysis] are errors; a file without the section
// gives zero Settings and found = false.
func ReadSettingsFile(path string) (s Settings, found bool, err error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return s, false, err
	}
	var doc struct {
		Analysis *Settings `toml:"analysis"`
	}
	md, err := toml.Decode(string(b), &doc)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return s, false, fmt.Errorf("%s:%d: %s", path, pe.Position.Line, pe.Message)
		}
		return s, false, fmt.Errorf("%s: %w", path, err)
	}
	var unknown []string
	for _, k := range md.Undecoded() {
		if len(k) > 0 && k[0] == "analysis" {
			unknown = append(unknown, k.String())
		}
	}
	if len(unknown) > 0 {
		return s, false, fmt.Errorf("%s: unknown key(s) %s (known: alpha, correction, family, tests, top, min_conversations, min_users, user_keys, and [[analysis.table]] name, rows, cols and the same overrides)",
			path, strings.Join(unknown, ", "))
	}
	if doc.Analysis == nil {
		return s, false, nil
	}
	s = *doc.Analysis
	for i, t := range s.Tables {
		if t.Rows == "" || t.Cols == "" {
			return s, true, fmt.Errorf("%s: analysis.table[%d]: rows and cols are required", path, i)
		}
		if _, err := s.Options(t); err != nil {
			return s, true, fmt.Errorf("%s: analysis.table[%d]: %w", path, i, err)
		}
	}
	if _, err := s.Options(TableSpec{}); err != nil {
		return s, true, fmt.Errorf("%s: analysis: %w", path, err)
	}
	return s, true, nil
}
