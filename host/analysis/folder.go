package analysis

import (
	"context"
	"errors"
	"fmt"

	"github.com/valuescope/valuescope/host/config"
	"github.com/valuescope/valuescope/host/runfolder"
)

// FolderOptions say what AnalyzeFolder analyses and how: the run config's
// [analysis] section, then SettingsFile, then the overrides and tables
// given here (a command line's flags).
type FolderOptions struct {
	// SettingsFile is an analysis.toml (or any config) whose [analysis]
	// section replaces the run's settings; its tables come after the run's.
	// "": none.
	SettingsFile string
	// Each override, when not nil, replaces the setting of the files.
	Alpha            *float64
	Correction       *string
	Family           *string
	Tests            *int
	Top              *int
	Method           *string
	MonteCarlo       *int
	MinConversations *int
	MinUsers         *int
	// UserKeys, when not nil, replaces the files' user_keys.
	UserKeys []string
	// Tables are added after the files' tables.
	Tables []TableSpec
	// Rows and Cols add tables of Rows[i] against Cols[i]: as many of each,
	// or one of either (paired with each of the other).
	Rows, Cols []string
	// Mapper counts the values on other names (a taxonomy level); nil:
	// normalised names.
	Mapper Mapper
	// Out is the folder for the files; "": RUN/analysis.
	Out string
}

// OptionsError is a problem with the options given (rather than with the
// run): a setting out of range, tables that cannot be told apart. A command
// line reports it as a usage error.
type OptionsError struct{ Err error }

func (e *OptionsError) Error() string { return e.Err.Error() }
func (e *OptionsError) Unwrap() error { return e.Err }

func optionsErrorf(format string, a ...any) error {
	return &OptionsError{fmt.Errorf(format, a...)}
}

// AnalyzeFolder analyses run folder dir: each table (with none configured,
// DefaultTables) against its context, its files written into o.Out. It
// returns the reports in table order.
func AnalyzeFolder(ctx context.Context, dir string, o FolderOptions) ([]*Report, error) {
	if _, err := runfolder.Existing(dir); err != nil {
		return nil, err
	}
	set, err := o.settings(dir)
	if err != nil {
		return nil, err
	}
	run, err := OpenRun(ctx, dir, LoadOptions{UserKeys: set.UserKeys})
	if err != nil {
		return nil, err
	}
	if len(set.Tables) == 0 {
		set.Tables = DefaultTables(run)
		if len(set.Tables) == 0 {
			return nil, fmt.Errorf("run %s has no field and context to analyse (fields: %v, metadata: %v)", dir, run.FieldNames(), run.MetaKeys)
		}
	}
	out := o.Out
	if out == "" {
		out = runfolder.Folder(dir).Analysis()
	}
	var reports []*Report
	names := map[string]bool{}
	for _, t := range set.Tables {
		if names[t.FileName()] {
			return nil, optionsErrorf("two tables named %s: give them names (NAME=ROWS:CONTEXT, or name in the file)", t.FileName())
		}
		names[t.FileName()] = true
		opts, err := set.Options(t)
		if err != nil {
			return nil, optionsErrorf("table %s: %w", t.FileName(), err)
		}
		rep, res, err := AnalyzeRun(ctx, run, t, opts, o.Mapper)
		if err != nil {
			return nil, err
		}
		if err := WriteFiles(out, dir, rep, res); err != nil {
			return nil, err
		}
		reports = append(reports, rep)
	}
	return reports, nil
}

// settings are the run's settings with the options applied, checked.
func (o FolderOptions) settings(dir string) (Settings, error) {
	set, err := ReadRunSettings(dir)
	if err != nil {
		return set, err
	}
	if o.SettingsFile != "" {
		a, err := config.LoadAnalysis(o.SettingsFile)
		if err != nil {
			return set, err
		}
		if a == nil {
			return set, optionsErrorf("%s has no [analysis] section", o.SettingsFile)
		}
		s := SettingsFromConfig(a)
		s.Tables = append(set.Tables, s.Tables...)
		set = s
	}
	if o.Alpha != nil {
		set.Alpha = *o.Alpha
	}
	if o.Correction != nil {
		set.Correction = *o.Correction
	}
	if o.Family != nil {
		set.Family = *o.Family
	}
	if o.Tests != nil {
		set.Tests = *o.Tests
	}
	if o.Top != nil {
		set.Top = *o.Top
	}
	if o.Method != nil {
		set.Method = *o.Method
	}
	if o.MonteCarlo != nil {
		set.MonteCarlo = *o.MonteCarlo
	}
	if o.MinConversations != nil {
		set.MinConversations = o.MinConversations
	}
	if o.MinUsers != nil {
		set.MinUsers = o.MinUsers
	}
	if o.UserKeys != nil {
		set.UserKeys = o.UserKeys
	}
	set.Tables = append(set.Tables, o.Tables...)
	rows, cols := o.Rows, o.Cols
	switch {
	case len(rows) == 0 && len(cols) == 0:
	case len(rows) == 0 || len(cols) == 0:
		return set, optionsErrorf("--rows and --cols go together")
	case len(rows) == 1 || len(cols) == 1 || len(rows) == len(cols):
		for i := 0; i < max(len(rows), len(cols)); i++ {
			set.Tables = append(set.Tables, TableSpec{Rows: rows[min(i, len(rows)-1)], Cols: cols[min(i, len(cols)-1)]})
		}
	default:
		return set, optionsErrorf("--rows and --cols: give as many of each, or one of either")
	}
	if _, err := set.Options(TableSpec{}); err != nil {
		return set, &OptionsError{err}
	}
	return set, nil
}

// IsOptionsError reports whether err is a problem with the options given.
func IsOptionsError(err error) bool {
	var oe *OptionsError
	return errors.As(err, &oe)
}
