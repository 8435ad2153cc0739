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
	dir := tb.TempDir()
	cfgPath := filepath.Join(dir, "run.toml")
	src := "[dataset]\npaths = [" + strconv.Quote(data) + "]\n" +
		"[[stages]]\nname = \"response-type\"\nplugin = \"builtin:response-type\"\n" +
		"[[stages]]\nname = \"values\"\nplugin = \"builtin:cue-values\"\n"
	if err := os.WriteFile(cfgPath, []byte(src), 0o644); err != nil {
		tb.Fatal(err)
	}
	cfg, err := config.Load(cfgPath, config.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	out := filepath.Join(dir, "run")
	if _, err := run.Execute(context.Background(), cfg, run.Options{Out: out}); err != nil {
		tb.Fatal(err)
	}
	return out
}
