package analysis

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/valuescope/valuescope/host/config"
	"github.com/valuescope/valuescope/host/privacy"
	"github.com/valuescope/valuescope/host/runfolder"
)

// DefaultFloor is the privacy floor when none is configured (privacy.Default:
// 5 distinct conversations, and 5 distinct users where the data names users).
var DefaultFloor = privacy.Default

// Settings are the analysis settings of a run: defaults for every table,
// and the tables. They come from the [analysis] section of a config (see
// [SettingsFromConfig] and package config, which reads it) and the command
// line; this package reads no TOML.
//
// Zero means "not set" (the defaults of [Options]) for every setting but
// the floor, where nil is not set (DefaultFloor) and 0 turns it off.
type Settings struct {
	Alpha            float64
	Correction       string // bonferroni, holm, bh, none
	Family           string // context or table
	Tests            int    // stated tests per family (0: the family's size)
	Top              int
	Method           string // normal or exact ("": DefaultMethod)
	MonteCarlo       int    // random tables for the table's Monte Carlo p-value (0: none)
	MinConversations *int   // privacy floor
	MinUsers         *int   // applies where the data names users
	UserKeys         []string
	Tables           []TableSpec
}

// TableSpec is one table: rows against a context, with optional overrides
// of the section's settings (zero or nil: not overridden); the [[analysis.tables]]
// entry of a config as package config decodes it.
type TableSpec = config.AnalysisTable

// SettingsFromConfig is the [analysis] section as package config decoded
// it; nil (no section) gives zero Settings.
func SettingsFromConfig(a *config.Analysis) Settings {
	if a == nil {
		return Settings{}
	}
	s := Settings{Alpha: a.Alpha, Correction: a.Correction, Family: a.Family, Tests: a.Tests, Top: a.Top,
		Method: a.Method, MonteCarlo: a.MonteCarlo, MinConversations: a.MinConversations, MinUsers: a.MinUsers, UserKeys: a.UserKeys}
	s.Tables = slices.Clone(a.Tables)
	return s
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

// ReadRunSettings reads a run folder's [analysis] settings from its
// resolved config.toml; zero Settings when it has none. A folder from before
// the run folder's marker (whose config.toml held min_conversations = 0 for a
// floor left unset) is read from config.orig.toml, the config as written.
func ReadRunSettings(dir string) (Settings, error) {
	f := runfolder.Folder(dir)
	paths := []string{f.Config()}
	if !f.Marked() {
		paths = []string{f.OrigConfig(), f.Config()}
	}
	for _, p := range paths {
		a, err := config.LoadAnalysis(p)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return Settings{}, err
		}
		return SettingsFromConfig(a), nil
	}
	return Settings{}, nil
}

// Options are the analysis options of a table: its overrides over s.
func (s Settings) Options(t TableSpec) (Options, error) {
	o := Options{Alpha: s.Alpha, Correction: Correction(s.Correction), Family: Family(s.Family), Tests: s.Tests, Top: s.Top, Floor: s.Floor(),
		Method: Method(s.Method), MonteCarlo: s.MonteCarlo}
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
