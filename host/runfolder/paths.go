// Package runfolder owns a run folder: the names of the files in it, the
// marker that says valuescope made it, the lock held for the life of a run,
// the manifest, the resolved config and the run's own taxonomy files. Every
// other package asks it for a path rather than joining names itself, so the
// layout is written down once:
//
//	.valuescope-run   marker: this folder is a valuescope run (see Create)
//	.lock             held while a run writes (see Lock)
//	config.toml       the config as resolved (every flag that changed it)
//	config.orig.toml  the config as written
//	manifest.json     what produced the results, over every invocation
//	store.sqlite      the run store (package store)
//	plugins.log       every line the plugins wrote, over every invocation
//	                  (plugins.log.old: the one before, once it was full)
//	annotations.csv, annotations.parquet, conversations.csv, errors.csv
//	report.html, report.json  the report
//	taxonomy/FIELD.tree.csv   the run's own taxonomy of a field
//	analysis/         residual tables (valuescope analyze)
package runfolder

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Names of the files of a run folder.
const (
	StoreFile      = "store.sqlite"
	ManifestFile   = "manifest.json"
	ConfigFile     = "config.toml"
	OrigConfigFile = "config.orig.toml"
	MarkerFile     = ".valuescope-run"
	LockFile       = ".lock"
	// PluginLogFile receives the plugins' own output (their stderr, a Wasm
	// module's stdout), appended by every invocation; OldPluginLogFile is
	// the previous one, kept when it reached its size bound.
	PluginLogFile    = "plugins.log"
	OldPluginLogFile = "plugins.log.old"
	TreeDir          = "taxonomy"
	AnalysisDir      = "analysis"
)

// Folder is a run folder's path; its methods name the files in it.
type Folder string

// Store is the path of the run store.
func (f Folder) Store() string { return filepath.Join(string(f), StoreFile) }

// Manifest is the path of manifest.json.
func (f Folder) Manifest() string { return filepath.Join(string(f), ManifestFile) }

// Config is the path of the resolved config.
func (f Folder) Config() string { return filepath.Join(string(f), ConfigFile) }

// OrigConfig is the path of the config as written.
func (f Folder) OrigConfig() string { return filepath.Join(string(f), OrigConfigFile) }

// PluginLog is the path of plugins.log.
func (f Folder) PluginLog() string { return filepath.Join(string(f), PluginLogFile) }

// OldPluginLog is the path of plugins.log.old.
func (f Folder) OldPluginLog() string { return filepath.Join(string(f), OldPluginLogFile) }

// Analysis is the folder of the analysis tables.
func (f Folder) Analysis() string { return filepath.Join(string(f), AnalysisDir) }

// Path joins name to the folder (an export, the report).
func (f Folder) Path(name string) string { return filepath.Join(string(f), name) }

// TreeFile is where the run's own taxonomy of field is kept:
// RUN/taxonomy/FIELD.tree.csv, in the layout of the paper's values_tree.csv.
// Path separators and control characters in field become '_'.
func (f Folder) TreeFile(field string) string {
	safe := strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' || r == os.PathSeparator || r < ' ' {
			return '_'
		}
		return r
	}, field)
	return filepath.Join(string(f), TreeDir, safe+".tree.csv")
}

// StoreFiles are the store and its write-ahead log, the files whose
// modification says when the run last wrote.
func (f Folder) StoreFiles() []string {
	return []string{f.Store(), f.Store() + "-wal"}
}

// ErrNotRun is wrapped by the errors of folders that hold no run.
var ErrNotRun = errors.New("not a run folder")

// Existing returns dir as a Folder after checking that it holds a run (a
// store, in a folder valuescope made), for the commands that read one: a
// store.sqlite of somebody else's is never opened, since opening would add
// the run store's tables to it.
func Existing(dir string) (Folder, error) {
	f := Folder(dir)
	if _, err := os.Stat(f.Store()); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("%s is %w (no %s; make one with valuescope run)", dir, ErrNotRun, StoreFile)
		}
		return "", err
	}
	if !f.marked() {
		if legacy, err := f.legacy(); err != nil {
			return "", err
		} else if !legacy {
			return "", fmt.Errorf("%s is %w: it has a %s but no %s (valuescope did not make it)", dir, ErrNotRun, StoreFile, MarkerFile)
		}
	}
	return f, nil
}
