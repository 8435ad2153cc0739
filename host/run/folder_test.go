package run_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/valuescope/valuescope/host/config"
	"github.com/valuescope/valuescope/host/run"
	"github.com/valuescope/valuescope/host/runfolder"
)

func quickstart(t *testing.T) *config.Config {
	t.Helper()
	cfg, err := config.Load("../../configs/quickstart.toml", config.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// A second run on a folder another run holds is refused at once, naming
// the holder.
func TestBusyFolderRefused(t *testing.T) {
	dir := t.TempDir()
	cfg := quickstart(t)
	if _, err := run.Execute(context.Background(), cfg, run.Options{Out: dir, NoReport: true, Limit: 5}); err != nil {
		t.Fatal(err)
	}
	l, err := runfolder.Folder(dir).Lock("valuescope run other.toml")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Unlock()
	for _, fresh := range []bool{false, true} {
		start := time.Now()
		_, err = run.Execute(context.Background(), cfg, run.Options{Out: dir, NoReport: true, Limit: 5, Fresh: fresh})
		var busy *runfolder.BusyError
		if !errors.As(err, &busy) || !strings.Contains(err.Error(), "other.toml") {
			t.Fatalf("fresh=%v: %v, want refused naming the holder", fresh, err)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("refused after %v", d)
		}
	}
}

// --fresh (or any run) on a folder valuescope did not make refuses and
// touches nothing, a user's store.sqlite included.
func TestForeignFolderUntouched(t *testing.T) {
	dir := t.TempDir()
	mine := map[string][]byte{
		"store.sqlite":    []byte("SQLite format 3\x00 the user's own database"),
		"annotations.csv": []byte("my,annotations\n"),
		"report.html":     []byte("<p>mine</p>"),
	}
	for name, b := range mine {
		os.WriteFile(filepath.Join(dir, name), b, 0o644)
	}
	for _, fresh := range []bool{false, true} {
		_, err := run.Execute(context.Background(), quickstart(t), run.Options{Out: dir, NoReport: true, Fresh: fresh})
		if !errors.Is(err, runfolder.ErrNotRun) {
			t.Fatalf("fresh=%v: %v, want not a run folder", fresh, err)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != len(mine) {
		t.Errorf("%d files now, want %d", len(entries), len(mine))
	}
	for name, b := range mine {
		if got, _ := os.ReadFile(filepath.Join(dir, name)); !bytes.Equal(got, b) {
			t.Errorf("%s changed", name)
		}
	}
}

// The dataset replaced at the same path: the resumed run refuses and says
// what changed; --fresh starts over on the new data.
func TestChangedDatasetRefused(t *testing.T) {
	data := filepath.Join(t.TempDir(), "conversations.jsonl")
	orig, err := os.ReadFile("../../data/demo/conversations.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(data, orig, 0o644)
	dir := t.TempDir()
	opts := run.Options{Out: dir, NoReport: true, Dataset: []string{data}}
	if _, err := run.Execute(context.Background(), quickstart(t), opts); err != nil {
		t.Fatal(err)
	}
	lines := bytes.SplitAfter(orig, []byte("\n"))
	os.WriteFile(data, bytes.Join(lines[len(lines)/2:], nil), 0o644)
	_, err = run.Execute(context.Background(), quickstart(t), opts)
	var dc *runfolder.DatasetChangedError
	if !errors.As(err, &dc) || !strings.Contains(err.Error(), data) || !strings.Contains(err.Error(), "--fresh") {
		t.Fatalf("resume over a changed dataset: %v", err)
	}
	opts.Fresh = true
	res, err := run.Execute(context.Background(), quickstart(t), opts)
	if err != nil {
		t.Fatalf("--fresh over the new data: %v", err)
	}
	if res.Progress.Skipped != 0 || res.Progress.Done == 0 {
		t.Fatalf("fresh: %+v", res.Progress)
	}
}

// A stage that fails to load leaves no folder behind, so the corrected
// command runs.
func TestFailedStartLeavesNothing(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	cfg := quickstart(t)
	bad := *cfg
	bad.Stages = append(bad.Stages[:0:0], cfg.Stages...)
	bad.Stages[0].Plugin = "builtin:no-such-plugin"
	if _, err := run.Execute(context.Background(), &bad, run.Options{Out: dir, NoReport: true}); err == nil {
		t.Fatal("a stage with an unknown plugin ran")
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("failed start left %s: %v", dir, err)
	}
	if _, err := run.Execute(context.Background(), cfg, run.Options{Out: dir, NoReport: true}); err != nil {
		t.Fatalf("corrected command: %v", err)
	}
}

// The manifest lists every invocation and the version set once; the
// resolved config names the command line's dataset and folder.
func TestManifestAndResolvedConfig(t *testing.T) {
	defer func(v string) { runfolder.Version = v }(runfolder.Version)
	runfolder.Version = "9.9.9"
	data, err := filepath.Abs("../../data/demo/conversations.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "out")
	opts := run.Options{Out: dir, NoReport: true, Dataset: []string{data}, Limit: 7}
	for range 2 {
		if _, err := run.Execute(context.Background(), quickstart(t), opts); err != nil {
			t.Fatal(err)
		}
	}
	m, err := runfolder.Folder(dir).ReadManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Invocations) != 2 || m.Valuescope.Version != "9.9.9" || m.Invocations[0].Progress.Done != 7 || m.Invocations[1].Progress.Skipped != 7 {
		t.Fatalf("manifest: version %q, invocations %+v", m.Valuescope.Version, m.Invocations)
	}
	if !m.Run.Started.Equal(m.Invocations[0].Started) || !m.Run.Resumed {
		t.Errorf("run info %+v", m.Run)
	}
	resolved, err := config.Load(runfolder.Folder(dir).Config(), config.Options{})
	if err != nil {
		t.Fatalf("resolved config does not load: %v", err)
	}
	if resolved.Run.Out != dir || len(resolved.Dataset.Paths) != 1 || resolved.Dataset.Paths[0] != data || resolved.Dataset.Limit != 7 {
		t.Fatalf("resolved config: out %q, paths %v, limit %d", resolved.Run.Out, resolved.Dataset.Paths, resolved.Dataset.Limit)
	}
}

// --fresh with a stage that does not load fails before it resets anything:
// the old results are still there for the next run.
func TestFreshThatFailsKeepsResults(t *testing.T) {
	dir := t.TempDir()
	cfg := quickstart(t)
	first, err := run.Execute(context.Background(), cfg, run.Options{Out: dir, NoReport: true})
	if err != nil {
		t.Fatal(err)
	}
	bad := *cfg
	bad.Stages = append(bad.Stages[:0:0], cfg.Stages...)
	bad.Stages[0].Plugin = "builtin:no-such-plugin"
	if _, err := run.Execute(context.Background(), &bad, run.Options{Out: dir, NoReport: true, Fresh: true}); err == nil {
		t.Fatal("a stage with an unknown plugin ran")
	}
	again, err := run.Execute(context.Background(), cfg, run.Options{Out: dir, NoReport: true})
	if err != nil {
		t.Fatal(err)
	}
	if again.Progress.Done != 0 || again.Progress.Skipped != first.Progress.Done {
		t.Fatalf("after a failed --fresh: %+v, want every conversation still done", again.Progress)
	}
}
