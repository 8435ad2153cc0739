package runfolder_test

import (
	"bufio"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/valuescope/valuescope/host/model"
	"github.com/valuescope/valuescope/host/runfolder"
)

// Two holders of one folder: the second is refused at once, with the first
// named.
func TestLockBusy(t *testing.T) {
	f := runfolder.Folder(t.TempDir())
	l, err := f.Lock("valuescope run first.toml")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = f.Lock("valuescope run second.toml")
	var busy *runfolder.BusyError
	if !errors.As(err, &busy) {
		t.Fatalf("second lock: %v, want BusyError", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("refused after %v, want at once", d)
	}
	if busy.Holder.PID != os.Getpid() || !strings.Contains(err.Error(), "first.toml") {
		t.Errorf("message does not name the holder: %v", err)
	}
	if err := l.Unlock(); err != nil {
		t.Fatal(err)
	}
	l2, err := f.Lock("third")
	if err != nil {
		t.Fatalf("after unlock: %v", err)
	}
	l2.Unlock()
}

// TestHoldLock is not a test: TestLockStale runs it in a child process that
// takes a folder's lock and waits to be killed.
func TestHoldLock(t *testing.T) {
	dir := os.Getenv("RUNFOLDER_HOLD")
	if dir == "" {
		t.Skip("helper process for TestLockStale")
	}
	if _, err := runfolder.Folder(dir).Lock("the killed run"); err != nil {
		t.Fatal(err)
	}
	os.Stdout.WriteString("locked\n")
	time.Sleep(time.Minute)
}

// A run killed with SIGKILL leaves its lock file; the next run takes it.
func TestLockStale(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHoldLock$")
	cmd.Env = append(os.Environ(), "RUNFOLDER_HOLD="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, _ := bufio.NewReader(out).ReadString('\n')
	if line != "locked\n" {
		cmd.Process.Kill()
		t.Fatalf("child said %q", line)
	}
	f := runfolder.Folder(dir)
	if _, err := f.Lock("while held"); err == nil || !strings.Contains(err.Error(), "the killed run") {
		t.Fatalf("lock held by a live child: %v, want refused naming it", err)
	}
	cmd.Process.Kill()
	cmd.Wait()
	l, err := f.Lock("after the kill")
	if err != nil {
		t.Fatalf("stale lock not taken: %v", err)
	}
	l.Unlock()
}

// A folder of the user's is refused and left as it was.
func TestClaimRefusesForeignFolder(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{"annotations.csv": "mine", "store.sqlite": "SQLite format 3\x00 my own database", "notes.txt": "x"}
	for name, body := range files {
		os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644)
	}
	_, err := runfolder.Claim(dir, "test")
	var nr *runfolder.NotRunError
	if !errors.As(err, &nr) || !errors.Is(err, runfolder.ErrNotRun) {
		t.Fatalf("Claim: %v, want NotRunError", err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != len(files) {
		t.Errorf("folder now holds %d files, want %d", len(entries), len(files))
	}
	for name, body := range files {
		if b, _ := os.ReadFile(filepath.Join(dir, name)); string(b) != body {
			t.Errorf("%s changed", name)
		}
	}
}

// A new folder is made, marked and locked; abandoned, it is gone.
func TestClaimNewAndAbandon(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "runs", "new")
	c, err := runfolder.Claim(dir, "test")
	if err != nil {
		t.Fatal(err)
	}
	if !c.New {
		t.Error("New not set for a folder Claim made")
	}
	if _, err := os.Stat(filepath.Join(dir, runfolder.MarkerFile)); err != nil {
		t.Fatal(err)
	}
	c.Abandon()
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("abandoned folder still there: %v", err)
	}
	// An empty folder the user gave is emptied again, not removed.
	empty := t.TempDir()
	c, err = runfolder.Claim(empty, "test")
	if err != nil {
		t.Fatal(err)
	}
	c.Abandon()
	if entries, err := os.ReadDir(empty); err != nil || len(entries) != 0 {
		t.Fatalf("after abandon: %v %v", entries, err)
	}
	// A claimed folder is a run folder: claimed again, it is not new, and
	// Abandon leaves it.
	c, _ = runfolder.Claim(empty, "test")
	c.Release()
	c, err = runfolder.Claim(empty, "test")
	if err != nil || c.New {
		t.Fatalf("second claim: %v new=%v", err, c != nil && c.New)
	}
	c.Abandon()
	if _, err := os.Stat(filepath.Join(empty, runfolder.MarkerFile)); err != nil {
		t.Fatal("abandoning an existing run removed it")
	}
}

// A run folder from before the marker (manifest and store) is taken; the
// temporary files of killed writes are removed, the rest kept.
func TestClaimLegacyAndTemps(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "manifest.json"), []byte(`{"valuescope":{"version":"dev"}}`), 0o644)
	os.WriteFile(filepath.Join(dir, "store.sqlite"), []byte("SQLite format 3\x00"), 0o644)
	os.WriteFile(filepath.Join(dir, ".annotations.csv.123456.tmp"), []byte("half"), 0o644)
	os.MkdirAll(filepath.Join(dir, "taxonomy"), 0o755)
	os.WriteFile(filepath.Join(dir, "taxonomy", ".ai_values.tree.csv.42.tmp"), []byte("half"), 0o644)
	c, err := runfolder.Claim(dir, "test")
	if err != nil {
		t.Fatalf("legacy run folder refused: %v", err)
	}
	defer c.Release()
	for _, p := range []string{".annotations.csv.123456.tmp", "taxonomy/.ai_values.tree.csv.42.tmp"} {
		if _, err := os.Stat(filepath.Join(dir, p)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s not removed", p)
		}
	}
	for _, p := range []string{"manifest.json", "store.sqlite", runfolder.MarkerFile} {
		if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
}

func TestCheckDataset(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(body), 0o644)
		return p
	}
	a, b, c := write("a.jsonl", "aaaa"), write("b.jsonl", "bbbb"), write("c.jsonl", "cc")
	was, err := runfolder.Identify([]string{a, b, c})
	if err != nil {
		t.Fatal(err)
	}
	f := runfolder.Folder(dir)
	if err := f.CheckDataset(was, was); err != nil {
		t.Fatalf("same files: %v", err)
	}
	write("a.jsonl", "AAAA") // same size, other bytes: the case a size check misses
	write("b.jsonl", "bbbbbb")
	d := write("d.jsonl", "d")
	cur, err := runfolder.Identify([]string{a, b, d})
	if err != nil {
		t.Fatal(err)
	}
	err = f.CheckDataset(was, cur)
	var dc *runfolder.DatasetChangedError
	if !errors.As(err, &dc) || len(dc.Changes) != 4 {
		t.Fatalf("CheckDataset: %v, want 4 changes", err)
	}
	for _, want := range []string{"a.jsonl: same size, other content", "b.jsonl: 6 bytes, was 4", "d.jsonl is new", "c.jsonl is gone", "--fresh"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message lacks %q:\n%v", want, err)
		}
	}
	back, err := runfolder.DecodeFileIDs(runfolder.EncodeFileIDs(was))
	if err != nil || len(back) != 3 || back[0] != was[0] {
		t.Fatalf("round trip: %v %v", back, err)
	}
}

// The manifest accumulates: each invocation listed, usage added up.
func TestManifestAccumulates(t *testing.T) {
	f := runfolder.Folder(t.TempDir())
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	u := func(calls int64, cost float64) []model.Usage {
		return []model.Usage{{Name: "claude", Calls: calls, Requests: calls, CostUSD: cost, Priced: true}}
	}
	m1 := &runfolder.Manifest{}
	m1.AddInvocation(nil, runfolder.Invocation{Started: t0, Finished: t0.Add(time.Minute), Models: u(10, 0.5)})
	if err := f.WriteManifest(m1); err != nil {
		t.Fatal(err)
	}
	prev, err := f.ReadManifest()
	if err != nil {
		t.Fatal(err)
	}
	m2 := &runfolder.Manifest{}
	m2.AddInvocation(prev, runfolder.Invocation{Started: t0.Add(time.Hour), Finished: t0.Add(2 * time.Hour), Complete: true, Models: u(5, 0.25)})
	if len(m2.Invocations) != 2 || !m2.Run.Started.Equal(t0) || !m2.Run.Finished.Equal(t0.Add(2*time.Hour)) || !m2.Run.Complete {
		t.Fatalf("run info %+v over %d invocations", m2.Run, len(m2.Invocations))
	}
	if len(m2.ModelUsage) != 1 || m2.ModelUsage[0].Calls != 15 || m2.ModelUsage[0].CostUSD != 0.75 {
		t.Fatalf("total usage %+v, want 15 calls, $0.75", m2.ModelUsage)
	}
	if m, err := runfolder.Folder(t.TempDir()).ReadManifest(); m != nil || err != nil {
		t.Fatalf("no manifest: %v %v", m, err)
	}
}

func TestExisting(t *testing.T) {
	dir := t.TempDir()
	if _, err := runfolder.Existing(dir); !errors.Is(err, runfolder.ErrNotRun) {
		t.Fatalf("empty folder: %v", err)
	}
	// A store of somebody else's is not a run.
	os.WriteFile(filepath.Join(dir, "store.sqlite"), []byte("SQLite format 3\x00"), 0o644)
	if _, err := runfolder.Existing(dir); !errors.Is(err, runfolder.ErrNotRun) || !strings.Contains(err.Error(), runfolder.MarkerFile) {
		t.Fatalf("unmarked store: %v", err)
	}
	c, err := runfolder.Claim(t.TempDir(), "test")
	if err != nil {
		t.Fatal(err)
	}
	c.Release()
	os.WriteFile(c.Store(), nil, 0o644)
	if _, err := runfolder.Existing(string(c.Folder)); err != nil {
		t.Fatalf("a run folder: %v", err)
	}
}

func TestTreeFile(t *testing.T) {
	got := runfolder.Folder("/r").TreeFile("a/b\x01")
	if got != filepath.Join("/r", "taxonomy", "a_b_.tree.csv") {
		t.Fatal(got)
	}
}

// A claim killed between its lock and its marker leaves only .lock: the
// folder is new to the next claim, not "not a run folder".
func TestClaimAfterKilledClaim(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, runfolder.LockFile), []byte(`{"pid":1}`), 0o644)
	os.WriteFile(filepath.Join(dir, ".manifest.json.99.tmp"), nil, 0o644)
	c, err := runfolder.Claim(dir, "test")
	if err != nil {
		t.Fatalf("folder with only a lock file refused: %v", err)
	}
	if !c.New {
		t.Error("not new")
	}
	c.Abandon()
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("abandoned folder holds %d entries", len(entries))
	}
}
