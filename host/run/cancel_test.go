package run_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/valuescope/valuescope/host/config"
	"github.com/valuescope/valuescope/host/pipeline"
	"github.com/valuescope/valuescope/host/run"
	"github.com/valuescope/valuescope/internal/testplugins"
)

var quiet = slog.New(slog.DiscardHandler)

// stagePlugin is the path of testdata/stageplugin, built.
func stagePlugin(t *testing.T) string {
	t.Helper()
	return testplugins.Binary(t, "host/run/testdata/stageplugin")
}

// stageConfig writes a config over the demo conversations with two stages
// of stageplugin, a and b, marking into mark; bFlags and bConfig (TOML
// lines of [stages.config]) make b misbehave.
func stageConfig(t *testing.T, mark, bFlags, bConfig string) *config.Config {
	t.Helper()
	bin := stagePlugin(t)
	demo, _ := filepath.Abs(filepath.Join("..", "..", "data", "demo", "conversations.jsonl"))
	path := filepath.Join(t.TempDir(), "stages.toml")
	text := fmt.Sprintf(`[run]
workers = 4
[dataset]
paths = [%q]
[[stages]]
name = "a"
plugin = "grpc:%s -mark %s -name a"
[[stages]]
name = "b"
plugin = "grpc:%s -mark %s -name b %s"
[stages.config]
%s
`, demo, bin, mark, bin, mark, bFlags, bConfig)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path, config.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// waitFor waits for a file to appear.
func waitFor(t *testing.T, path string, done <-chan struct{}) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(path); err == nil {
			return
		}
		select {
		case <-done:
			t.Fatalf("the run ended before %s appeared", filepath.Base(path))
		case <-time.After(5 * time.Millisecond):
		}
	}
	t.Fatalf("%s did not appear", path)
}

// pluginsGone checks that every process that wrote a pid file into mark has
// ended and been waited for.
func pluginsGone(t *testing.T, mark string) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(mark, "*.pid"))
	if len(files) == 0 {
		t.Fatal("no plugin wrote its pid")
	}
	for _, f := range files {
		b, _ := os.ReadFile(f)
		pid, err := strconv.Atoi(string(b))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		deadline := time.Now().Add(5 * time.Second)
		for syscall.Kill(pid, 0) == nil {
			if time.Now().After(deadline) {
				syscall.Kill(pid, syscall.SIGKILL)
				t.Errorf("plugin %s (pid %d) still running after the run returned", filepath.Base(f), pid)
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// Interrupted at any moment (a plugin starting, a plugin configuring,
// conversations being processed, the report being written), a run returns
// context.Canceled with a Result, closes every plugin it started, and the
// same command then finishes the run.
func TestCancelAnyMoment(t *testing.T) {
	if testing.Short() {
		t.Skip("starts gRPC plugins")
	}
	for _, c := range []struct {
		name, flags, config, marker string
		started                     bool
	}{
		{"starting", "-start 1h", "", "b.pid", false},
		{"configuring", "", `configure_sleep = "1h"`, "b.configuring", false},
		{"processing", "", `process_sleep = "1h"`, "b.processing", true},
		{"report", "", "", "", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			mark, out := t.TempDir(), filepath.Join(t.TempDir(), "run")
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			opts := run.Options{Out: out, Log: quiet}
			if c.marker == "" {
				opts.Progress = func(p pipeline.Progress) {
					if p.Finished {
						cancel() // after the last conversation: the report sees it
					}
				}
			}
			type outcome struct {
				res *run.Result
				err error
			}
			ended := make(chan struct{})
			got := make(chan outcome, 1)
			go func() {
				defer close(ended)
				res, err := run.Execute(ctx, stageConfig(t, mark, c.flags, c.config), opts)
				got <- outcome{res, err}
			}()
			if c.marker != "" {
				waitFor(t, filepath.Join(mark, c.marker), ended)
				cancel()
			}
			var o outcome
			select {
			case o = <-got:
			case <-time.After(20 * time.Second):
				t.Fatal("the run did not return within 20 s of the cancel")
			}
			if !errors.Is(o.err, context.Canceled) || o.res == nil || o.res.Dir != out || o.res.Started != c.started {
				t.Fatalf("Execute: %+v, %v; want context.Canceled with a result (started %v)", o.res, o.err, c.started)
			}
			pluginsGone(t, mark)
			res, err := run.Execute(context.Background(), stageConfig(t, t.TempDir(), "", ""), run.Options{Out: out, Log: quiet, NoReport: true})
			if err != nil || res.Progress.Done+res.Progress.Skipped != 80 || !res.Progress.Finished {
				t.Fatalf("resuming: %+v %v", res, err)
			}
		})
	}
}
