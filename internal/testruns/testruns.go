// Package testruns makes the run folders tests read: the offline
// quickstart's stages over a folder of the shared data.
package testruns

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/valuescope/valuescope/host/config"
	"github.com/valuescope/valuescope/host/run"
	"github.com/valuescope/valuescope/internal/shareddata"
)

// Offline runs the offline quickstart's stages (builtin:response-type,
// then builtin:cue-values) over the shared data's folder rel (e.g.
// "hh-rlhf") into a temporary run folder, report included, and returns the
// folder. The test is skipped when the data is absent, except under CI
// (shareddata.Path).
func Offline(tb testing.TB, rel string) string {
	tb.Helper()
	data, err := filepath.Abs(shareddata.Path(tb, rel))
	if err != nil {
		tb.Fatal(err)
	}
	return OfflineOver(tb, data)
}

// OfflineOver runs the offline quickstart's stages over the dataset at
// data (a file or folder) into a temporary run folder and returns it.
func OfflineOver(tb testing.TB, data string) string {
	tb.Helper()
	return Run(tb, OfflineConfig("", data, ""), run.Options{})
}

// OfflineConfig is the offline quickstart's stages over data as a config
// (name: the run's, "" for the default), with extra appended (say, a
// stage's [stages.config] table, or a [dataset] key).
func OfflineConfig(name, data, extra string) string {
	src := ""
	if name != "" {
		src = "[run]\nname = " + strconv.Quote(name) + "\n"
	}
	return src + "[dataset]\npaths = [" + strconv.Quote(data) + "]\n" +
		"[[stages]]\nname = \"response-type\"\nplugin = \"builtin:response-type\"\n" +
		"[[stages]]\nname = \"values\"\nplugin = \"builtin:cue-values\"\n" + extra
}

// Run writes config (TOML) into a temporary folder, runs it with o into
// the folder's "run" (o.Out, unless set) and returns the run folder.
func Run(tb testing.TB, config string, o run.Options) string {
	tb.Helper()
	dir := tb.TempDir()
	path := filepath.Join(dir, "run.toml")
	if err := os.WriteFile(path, []byte(config), 0o644); err != nil {
		tb.Fatal(err)
	}
	return RunFile(tb, path, o)
}

// RunFile runs the config file at path with o into a "run" folder beside
// it (o.Out, unless set) and returns the run folder.
func RunFile(tb testing.TB, path string, o run.Options) string {
	tb.Helper()
	cfg, err := config.Load(path, config.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	if o.Out == "" {
		o.Out = filepath.Join(filepath.Dir(path), "run")
	}
	if _, err := run.Execute(context.Background(), cfg, o); err != nil {
		tb.Fatal(err)
	}
	return o.Out
}
