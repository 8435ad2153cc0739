package main

import (
	"context"
	"crypto/sha256"
	"encoding/csv"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/valuescope/valuescope/host/store"
	"github.com/valuescope/valuescope/internal/shareddata"
	"github.com/valuescope/valuescope/internal/testplugins"
)

// The README's main command, in-process.
func TestQuickstart(t *testing.T) {
	out := t.TempDir()
	code, stdout, errs := valuescope(t, "run", "--quiet", "--out", out, filepath.Join("..", "..", "configs", "quickstart.toml"))
	if code != 0 || !strings.Contains(stdout, "80 conversations (80 done now") {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, errs)
	}
	for _, f := range []string{"annotations.csv", "annotations.parquet", "conversations.csv", "errors.csv", "manifest.json", "config.toml", "store.sqlite"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Error(err)
		}
	}
	// Again: everything is already done.
	if code, stdout, _ := valuescope(t, "run", "--quiet", "--out", out, filepath.Join("..", "..", "configs", "quickstart.toml")); code != 0 || !strings.Contains(stdout, "(0 done now, 80 already done)") {
		t.Fatalf("rerun: exit %d %s", code, stdout)
	}
}

// arenaConfig runs both built-in plugins over the real Chatbot Arena file.
func arenaConfig(t *testing.T) string {
	data := shareddata.Path(t, "chatbot-arena/chatbot_arena_messages.jsonl")
	cfg := filepath.Join(t.TempDir(), "arena.toml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`[dataset]
paths = [%q]
[[stages]]
name = "response-type"
plugin = "builtin:response-type"
[[stages]]
name = "values"
plugin = "builtin:cue-values"
`, data)), 0o644)
	return cfg
}

// A run over the real arena file completes, and its Parquet export reads back
// with as many rows as the CSV export and the store hold.
func TestRunArenaParquet(t *testing.T) {
	out := t.TempDir()
	if code, stdout, errs := valuescope(t, "run", "--quiet", "--out", out, arenaConfig(t)); code != 0 || !strings.Contains(stdout, "2129 conversations") {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, errs)
	}
	f, err := os.Open(filepath.Join(out, "annotations.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	pf, err := parquet.OpenFile(f, st.Size())
	if err != nil {
		t.Fatal(err)
	}
	first := make([]parquet.Row, 1)
	if n, _ := pf.RowGroups()[0].Rows().ReadRows(first); n != 1 {
		t.Fatal("no first row")
	}
	csvRows := readCSV(t, filepath.Join(out, "annotations.csv"))
	stored, err := store.OpenReadOnly(filepath.Join(out, "store.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	defer stored.Close()
	counts, err := stored.Count(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	n := counts.Annotations
	if pf.NumRows() == 0 || pf.NumRows() != n || int64(len(csvRows)-1) != n {
		t.Fatalf("parquet %d rows, csv %d, store %d", pf.NumRows(), len(csvRows)-1, n)
	}
	if id, v := first[0][0].String(), first[0][4].String(); id != csvRows[1][0] || v != csvRows[1][4] {
		t.Fatalf("first rows differ: %s %s vs %v", id, v, csvRows[1])
	}
}

// SIGKILL at many points, then the same command: the exports equal those of
// an uninterrupted run, row for row.
func TestKillAndResume(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs it a dozen times")
	}
	bin := buildValuescope(t)
	cfg := arenaConfig(t)
	want := t.TempDir()
	if out, err := exec.Command(bin, "run", "--quiet", "--out", want, cfg).CombinedOutput(); err != nil {
		t.Fatalf("uninterrupted run: %v\n%s", err, out)
	}
	// Kill points are chosen by progress, not time, so that each falls
	// mid-run: 12 distinct counts of stored results, in increasing order.
	dir := t.TempDir()
	const total = 2129 * 2 // conversations x stages
	rng := rand.New(rand.NewPCG(1, 2))
	targets := map[int]bool{}
	for len(targets) < 12 {
		targets[1+rng.IntN(total-300)] = true
	}
	points := slices.Sorted(maps.Keys(targets))
	// Read-only, so that the test does not make the store itself (a folder
	// holding a store valuescope did not make is refused).
	var st *store.Store // opened once the first run has made it
	defer func() {
		if st != nil {
			st.Close()
		}
	}()
	stored := func() int {
		if st == nil {
			var err error
			if st, err = store.OpenReadOnly(filepath.Join(dir, "store.sqlite")); err != nil {
				return 0
			}
		}
		n, _ := st.CountResults(context.Background())
		return int(n)
	}
	for i, target := range points {
		// Each kill falls after at least one more result is stored.
		target = max(target, stored()+1)
		cmd := exec.Command(bin, "run", "--quiet", "--out", dir, cfg)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
	wait:
		for {
			select {
			case err := <-done:
				t.Fatalf("kill %d: the run ended (%v) before %d results were stored (%d)", i, err, target, stored())
			case <-time.After(5 * time.Millisecond):
				if stored() >= target {
					cmd.Process.Signal(syscall.SIGKILL)
					<-done
					break wait
				}
			}
		}
		t.Logf("killed at %d stored results (target %d)", stored(), target)
	}
	if out, err := exec.Command(bin, "run", "--quiet", "--out", dir, cfg).CombinedOutput(); err != nil {
		t.Fatalf("resuming: %v\n%s", err, out)
	}
	for _, f := range []string{"annotations.csv", "conversations.csv", "errors.csv"} {
		a, b := readCSV(t, filepath.Join(want, f)), readCSV(t, filepath.Join(dir, f))
		if len(a) != len(b) {
			t.Fatalf("%s: %d rows after kills and resume, %d uninterrupted", f, len(b), len(a))
		}
		for i := range a {
			if strings.Join(a[i], "\x1f") != strings.Join(b[i], "\x1f") {
				t.Fatalf("%s row %d differs:\n%q\n%q", f, i, b[i], a[i])
			}
		}
	}
}

func readCSV(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// Failed stages stay failed on a plain rerun, and are redone with --retry-errors.
func TestRetryErrors(t *testing.T) {
	dir := t.TempDir()
	wasm := filepath.Join(dir, "echo.wasm")
	os.WriteFile(wasm, testplugins.Wasm(t, "echo", ""), 0o644)
	demo, _ := filepath.Abs(filepath.Join("..", "..", "data", "demo", "conversations.jsonl"))
	cfg := filepath.Join(dir, "panic.toml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`[run]
max_failure_share = 1
[dataset]
paths = [%q]
[[stages]]
name = "echo"
plugin = %q
[stages.config]
mode = "panic"
`, demo, wasm)), 0o644)
	out := filepath.Join(dir, "run")
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, "(80 done now, 0 already done), 80 stage errors"},
		{nil, "(0 done now, 80 already done), 80 stage errors"},
		{[]string{"--retry-errors"}, "(80 done now, 0 already done), 80 stage errors"},
	} {
		argv := append([]string{"run", "--quiet", "--no-report", "--out", out}, c.args...)
		code, stdout, errs := valuescope(t, append(argv, cfg)...)
		if code != exitStageErrors || !strings.Contains(stdout, c.want) || !strings.Contains(errs, "the run finished with 80 stage errors (echo 80)") {
			t.Fatalf("%v: exit %d\n%s\n%s", c.args, code, stdout, errs)
		}
	}
}

// stageConfig writes a config of one stage, the gRPC test plugin
// host/run/testdata/stageplugin with the given flags and [stages.config]
// lines, over the demo conversations.
func stageConfig(t *testing.T, flags, config string) string {
	t.Helper()
	bin := testplugins.Binary(t, "host/run/testdata/stageplugin")
	demo, _ := filepath.Abs(filepath.Join("..", "..", "data", "demo", "conversations.jsonl"))
	cfg := filepath.Join(t.TempDir(), "stage.toml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`[run]
workers = 2
[dataset]
paths = [%q]
[[stages]]
name = "flaky"
plugin = "grpc:%s %s"
[stages.config]
%s
`, demo, bin, flags, config)), 0o644)
	return cfg
}

// The exit status says how the run went: 0 clean; 3 finished with stage
// errors; 4 stopped early by a stage failing for most conversations, having
// written its manifest and exports but not attempted the rest.
func TestRunExitStatus(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a gRPC plugin")
	}
	for _, c := range []struct {
		config string
		status int
		stdout string
		stderr string
	}{
		{"", exitOK, "(80 done now, 0 already done), 0 stage errors", ""},
		{"fail_every = 10", exitStageErrors, "(80 done now, 0 already done), 8 stage errors", "the run finished with 8 stage errors (flaky 8)"},
		{"fail_every = 1", exitStopped, "stage errors", "stopped early: stage flaky failed for "},
	} {
		out := filepath.Join(t.TempDir(), "run")
		code, stdout, errs := valuescope(t, "run", "--quiet", "--no-report", "--out", out, stageConfig(t, "", c.config))
		if code != c.status || !strings.Contains(stdout, c.stdout) || !strings.Contains(errs, c.stderr) {
			t.Fatalf("%s: exit %d, want %d\n%s\n%s", c.config, code, c.status, stdout, errs)
		}
		if c.status != exitStopped {
			continue
		}
		if !strings.Contains(errs, "more than max_failure_share = 0.5); most common error") || !strings.Contains(errs, "stageplugin: failing as configured") {
			t.Errorf("the message names no share or error: %s", errs)
		}
		for _, f := range []string{"manifest.json", "errors.csv", "annotations.csv"} {
			if _, err := os.Stat(filepath.Join(out, f)); err != nil {
				t.Error(err)
			}
		}
		if rows := readCSV(t, filepath.Join(out, "errors.csv")); len(rows)-1 < 20 || len(rows)-1 >= 80 {
			t.Errorf("%d errors stored: want at least 20 and not all 80 attempted", len(rows)-1)
		}
	}
}

// What a plugin writes to its stderr is in RUN/plugins.log, under its name;
// on the terminal only with --verbose.
func TestPluginOutputLogged(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a gRPC plugin")
	}
	cfg := stageConfig(t, "-name b", `say = "hello from b"`)
	for _, verbose := range []bool{false, true} {
		out := filepath.Join(t.TempDir(), "run")
		argv := []string{"run", "--quiet", "--no-report", "--out", out}
		if verbose {
			argv = append(argv, "--verbose")
		}
		code, stdout, errs := valuescope(t, append(argv, cfg)...)
		if code != exitOK {
			t.Fatalf("exit %d\n%s\n%s", code, stdout, errs)
		}
		b, err := os.ReadFile(filepath.Join(out, "plugins.log"))
		if err != nil {
			t.Fatal(err)
		}
		log := string(b)
		if !strings.Contains(log, " -name b: b: hello from b (configured)") || strings.Count(log, "hello from b (conversation ") != 80 {
			t.Fatalf("plugins.log:\n%s", log)
		}
		if shown := strings.Contains(errs, "hello from b (configured)"); shown != verbose {
			t.Errorf("verbose %v: on stderr %v:\n%s", verbose, shown, errs)
		}
	}
}

// Resuming after a change, the run says which stages it redoes and why
// before it runs: a stage whose config changed names "config", one whose
// .wasm file was swapped for another names the plugin and its digests, and
// the stages it keeps say how many conversations they have done.
func TestResumeSaysWhatIsRedone(t *testing.T) {
	dir := t.TempDir()
	wasm := filepath.Join(dir, "echo.wasm")
	os.WriteFile(wasm, testplugins.Wasm(t, "echo", ""), 0o644)
	demo, _ := filepath.Abs(filepath.Join("..", "..", "data", "demo", "conversations.jsonl"))
	cfg := filepath.Join(dir, "two.toml")
	write := func(mode string) {
		os.WriteFile(cfg, []byte(fmt.Sprintf(`[dataset]
paths = [%q]
[[stages]]
name = "task"
plugin = "builtin:response-type"
[[stages]]
name = "echo"
plugin = %q
[stages.config]
mode = %q
`, demo, wasm, mode)), 0o644)
	}
	out := filepath.Join(dir, "run")
	run := func() string {
		t.Helper()
		code, stdout, errs := valuescope(t, "run", "--quiet", "--no-report", "--out", out, cfg)
		if code != exitOK {
			t.Fatalf("exit %d\n%s\n%s", code, stdout, errs)
		}
		return errs
	}
	write("echo")
	if errs := run(); strings.Contains(errs, "stage ") {
		t.Fatalf("a new run said:\n%s", errs)
	}
	if errs := run(); strings.Contains(errs, "stage ") {
		t.Fatalf("a run with nothing to redo said:\n%s", errs)
	}
	write("") // the same mode, another config
	errs := run()
	if !strings.Contains(errs, "stage task: kept (80 conversations done)\n") || !strings.Contains(errs, "stage echo: redone (config changed)\n") {
		t.Fatalf("after a config change:\n%s", errs)
	}
	before := sha256.Sum256(testplugins.Wasm(t, "echo", ""))
	after := sha256.Sum256(testplugins.Wasm(t, "echo", "-X main.mode=echo"))
	os.WriteFile(wasm, testplugins.Wasm(t, "echo", "-X main.mode=echo"), 0o644)
	errs = run()
	want := fmt.Sprintf("stage echo: redone (plugin %s changed: sha256 %x… → %x…)\n", wasm, before[:4], after[:4])
	if !strings.Contains(errs, want) {
		t.Fatalf("after swapping the module, want %q in:\n%s", want, errs)
	}
}
