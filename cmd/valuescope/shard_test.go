package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/valuescope/valuescope/host/runfolder"
	"github.com/valuescope/valuescope/host/store"
	"github.com/valuescope/valuescope/internal/shareddata"
)

// Three shards of the offline quickstart over the real Chatbot Arena file,
// run as three concurrent processes that are killed (SIGKILL, and one
// SIGINT) at random points and resumed with the same command until they
// finish, then merged: the merged folder's exports, taxonomy, report data
// and analysis tables equal those of one process over the whole file, and
// its manifest tells every shard's invocations, the killed ones included.
//
// Each shard's invocations are killed (SIGKILL) after delays drawn
// uniformly over the time an uninterrupted shard takes (measured first)
// until one outlives its delay; shard 1's first invocation is interrupted
// (SIGINT) once it has stored a conversation, and must exit 130. Until a
// shard has been killed mid-run (the killed invocation having stored some
// conversations, the store holding some but not all of the shard's), shard 0 is run again from an empty folder. The seed is
// logged; SHARD_TEST_SEED replays its delays.
func TestShardsKilledResumedMerged(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs it some twenty times")
	}
	data := shareddata.Path(t, "chatbot-arena")
	bin := buildValuescope(t)
	cfg := repoFile(t, "configs", "quickstart.toml")
	root := t.TempDir()
	argv := func(dir string, shard int) []string {
		a := []string{"run", "--quiet", "--dataset", data, "--out", dir}
		if shard >= 0 {
			a = append(a, "--shard", fmt.Sprintf("%d/3", shard))
		}
		return append(a, cfg)
	}

	single := filepath.Join(root, "single")
	if r := runValuescope(bin, argv(single, -1)...); r.code != exitOK {
		t.Fatalf("the single run: %s", r)
	}
	want := readManifest(t, single)

	// Uninterrupted shards, as concurrent as the killed ones will be: how
	// long each takes (the range of its kill delays) and how many
	// conversations it holds.
	var shards [3]*killedShard
	var wg sync.WaitGroup
	for i := range shards {
		s := &killedShard{t: t, index: i, dir: filepath.Join(root, fmt.Sprintf("shard%d", i)), interrupt: i == 1}
		s.argv = argv(s.dir, i)
		shards[i] = s
		wg.Go(func() {
			dir := filepath.Join(root, fmt.Sprintf("measure%d", i))
			start := time.Now()
			if r := runValuescope(bin, argv(dir, i)...); r.code != exitOK {
				t.Errorf("shard %d uninterrupted: %s", i, r)
				return
			}
			s.took = time.Since(start)
			m, err := readManifestErr(dir)
			if err != nil {
				t.Error(err)
				return
			}
			s.total = m.Counts.Conversations
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	var sum int64
	for _, s := range shards {
		sum += s.total
		t.Logf("shard %d uninterrupted: %d conversations in %v", s.index, s.total, s.took.Round(time.Millisecond))
	}
	if sum != want.Counts.Conversations {
		t.Fatalf("the shards hold %d conversations, the single run %d", sum, want.Counts.Conversations)
	}

	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("SHARD_TEST_SEED"); s != "" {
		if _, err := fmt.Sscan(s, &seed); err != nil {
			t.Fatalf("SHARD_TEST_SEED: %v", err)
		}
	}
	t.Logf("kill delays seeded with %d (SHARD_TEST_SEED=%d replays them)", seed, seed)
	for _, s := range shards {
		s.rng = rand.New(rand.NewPCG(seed, uint64(s.index)))
		wg.Go(func() { s.drive(bin) })
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	// Until a shard has been killed mid-run: shard 0 again, from an empty
	// folder (shard 1 keeps its interruption).
	retry := shards[0]
	for first := retry.attempts; !slices.ContainsFunc(shards[:], func(s *killedShard) bool { return s.killedMidRun }); {
		if n := retry.attempts - first; n >= 20 {
			t.Fatalf("no shard was killed mid-run (its store holding some but not all of its conversations) in %d more invocations of shard 0, kill delays drawn over [0, %v); seed %d",
				n, retry.took, seed)
		}
		t.Logf("no shard was killed mid-run: shard 0 again, from an empty folder")
		if err := os.RemoveAll(retry.dir); err != nil {
			t.Fatal(err)
		}
		retry.stopped = nil
		retry.drive(bin)
		if t.Failed() {
			t.FailNow()
		}
	}

	merged := filepath.Join(root, "merged")
	if r := runValuescope(bin, "merge", merged, shards[0].dir, shards[1].dir, shards[2].dir); r.code != exitOK || !strings.Contains(r.stdout, "merged 3 of 3 shards") {
		t.Fatalf("merge: %s", r)
	}
	sameSortedLines(t, single, merged, "annotations.csv")
	for _, f := range []string{"annotations.csv", "conversations.csv", "errors.csv", "annotations.parquet", filepath.Join("taxonomy", "ai_values.tree.csv")} {
		sameFile(t, single, merged, f)
	}
	sameReport(t, single, merged)
	for _, dir := range []string{single, merged} {
		if r := runValuescope(bin, "analyze", dir); r.code != exitOK {
			t.Fatalf("analyze: %s", r)
		}
	}
	sameTree(t, single, merged, "analysis")

	m := readManifest(t, merged)
	if m.Merged == nil || m.Merged.Shards != 3 || len(m.Merged.From) != 3 {
		t.Fatalf("merged manifest: merged = %+v, want 3 shards from 3 folders", m.Merged)
	}
	for i, f := range m.Merged.From {
		if f.Shard != fmt.Sprintf("%d/3", i) || !f.Complete {
			t.Errorf("merged.from[%d] = %+v, want shard %d/3, complete", i, f, i)
		}
	}
	if !m.Run.Complete || m.Counts.Conversations != want.Counts.Conversations {
		t.Errorf("merged manifest: complete %v, %d conversations; want complete, %d", m.Run.Complete, m.Counts.Conversations, want.Counts.Conversations)
	}
	for _, s := range shards {
		name := fmt.Sprintf("%d/3", s.index)
		var of []runfolder.Invocation
		for _, inv := range m.Invocations {
			if inv.Shard == name {
				of = append(of, inv)
			}
		}
		if own := readManifest(t, s.dir).Invocations; len(of) != len(own) {
			t.Errorf("shard %s: %d invocations in the merged manifest, %d in its own", name, len(of), len(own))
		}
		for _, started := range s.stopped {
			if !slices.ContainsFunc(of, func(inv runfolder.Invocation) bool { return inv.Started.Equal(started) && !inv.Complete }) {
				t.Errorf("shard %s: the invocation stopped after starting at %v is not in the merged manifest as incomplete", name, started)
			}
		}
	}
}

// killedShard is one shard of TestShardsKilledResumedMerged, killed and
// resumed until it finishes.
type killedShard struct {
	t     *testing.T
	index int
	dir   string
	argv  []string
	rng   *rand.Rand
	// took is how long the shard takes uninterrupted, total how many
	// conversations it holds.
	took  time.Duration
	total int64
	// interrupt: SIGINT it mid-run first (once its store holds a
	// conversation), then kill it at random points.
	interrupt bool
	// attempts counts its invocations; killedMidRun says whether one was
	// killed having stored conversations, before all the shard's were;
	// stopped
	// are the starts of those killed or interrupted, as the manifest
	// records them.
	attempts     int
	killedMidRun bool
	stopped      []time.Time
}

// maxKillAttempts bounds the invocations of a shard that drive stops.
const maxKillAttempts = 10

// drive runs the shard's command until it finishes, stopping each
// invocation after a delay drawn over [0, took) (SIGKILL; the first one
// SIGINT, once it has stored a conversation, for the shard to interrupt):
// so the shard is killed at random points until an invocation outlives its
// delay. After maxKillAttempts stopped invocations, the next one runs to
// the end. Failures are reported with t.Errorf: drive runs on its own
// goroutine.
func (s *killedShard) drive(bin string) {
	for stops := 0; ; stops++ {
		finished, err := s.invoke(bin, stops < maxKillAttempts)
		if err != nil {
			s.t.Errorf("shard %d, invocation %d: %v", s.index, s.attempts, err)
			return
		}
		if finished {
			return
		}
	}
}

// invoke runs the shard's command once, stopping it if stop, and says
// whether the shard finished.
func (s *killedShard) invoke(bin string, stop bool) (bool, error) {
	s.attempts++
	interrupt := s.interrupt && s.attempts == 1
	delay := time.Duration(s.rng.Int64N(int64(s.took)))
	before := storedConversations(s.dir)
	p, err := startValuescope(bin, s.argv...)
	if err != nil {
		return false, err
	}
	var sig syscall.Signal
	switch {
	case interrupt:
		sig = syscall.SIGINT
		for storedConversations(s.dir) == before && !p.exited() {
			time.Sleep(2 * time.Millisecond)
		}
		p.cmd.Process.Signal(sig)
	case stop:
		select {
		case <-p.done:
		case <-time.After(delay):
			sig = syscall.SIGKILL
			p.cmd.Process.Signal(sig)
		}
	}
	r := p.wait()
	n := storedConversations(s.dir)
	switch {
	case interrupt:
		if r.code != exitInterrupted || !strings.Contains(r.stderr, "interrupted") || n == before || n == s.total {
			return false, fmt.Errorf("SIGINT once a conversation was stored: %s, %d of %d conversations stored; want exit %d saying it was interrupted, some but not all stored",
				r, n, s.total, exitInterrupted)
		}
	case r.code == exitOK: // it finished before its stop
		if !strings.Contains(r.stdout, fmt.Sprintf("%d conversations (", s.total)) || n != s.total {
			return false, fmt.Errorf("finished with %d conversations stored, want %d: %s", n, s.total, r)
		}
		return true, nil
	case sig == syscall.SIGKILL && r.code == -1:
		if before < n && n < s.total {
			s.killedMidRun = true
		}
	default:
		return false, fmt.Errorf("stopped with %v: %s", sig, r)
	}
	s.t.Logf("shard %d, invocation %d: %v after %v, %d of %d conversations stored (%d before)", s.index, s.attempts, sig,
		time.Since(p.started).Round(time.Millisecond), n, s.total, before)
	m, err := readManifestErr(s.dir)
	switch {
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return false, err
	case m != nil && len(m.Invocations) > 0 && m.Invocations[len(m.Invocations)-1].Started.After(p.started):
		if inv := m.Invocations[len(m.Invocations)-1]; !inv.Complete {
			s.stopped = append(s.stopped, inv.Started)
		} else if n < s.total {
			return false, fmt.Errorf("stopped with %d of %d conversations stored, its invocation says complete", n, s.total)
		}
	case n > before:
		return false, fmt.Errorf("stopped having stored %d conversations, but its manifest has no invocation of it", n-before)
	}
	return false, nil
}

// storedConversations counts the conversations in a run folder's store,
// opened read-only (0 when there is no store yet).
func storedConversations(dir string) int64 {
	st, err := store.OpenReadOnly(filepath.Join(dir, runfolder.StoreFile))
	if err != nil {
		return 0
	}
	defer st.Close()
	c, err := st.Count(context.Background())
	if err != nil {
		return 0
	}
	return c.Conversations
}

// The refusals of valuescope merge, through the binary, over 3 shards of the
// quickstart (demo conversations) and of a slow gRPC stage: each exits 1
// with a message that names the problem and leaves OUT as it was; --partial
// merges what there is, and `valuescope run` finishes a partial merge into
// the single run's annotations.
func TestMergeRefusals(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs shards of two runs")
	}
	bin := buildValuescope(t)
	cfg := repoFile(t, "configs", "quickstart.toml")
	root := t.TempDir()
	dir := func(name string) string { return filepath.Join(root, name) }
	demo := repoFile(t, "data", "demo", "conversations.jsonl")

	// Another config: the quickstart with a config for its values stage.
	b, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Replace(string(b), `"../data/demo/conversations.jsonl"`, fmt.Sprintf("%q", demo), 1)
	other := dir("other.toml")
	writeFile(t, other, text+"\n[stages.config]\nmin_turn_chars = 1\n")
	// Another dataset: the first half of the demo file.
	lines := strings.SplitAfter(string(mustRead(t, demo)), "\n")
	half := dir("half.jsonl")
	writeFile(t, half, strings.Join(lines[:len(lines)/2], ""))

	var wg sync.WaitGroup
	for _, a := range [][]string{
		{"--out", dir("single"), cfg},
		{"--shard", "0/3", "--out", dir("q0"), cfg},
		{"--shard", "1/3", "--out", dir("q1"), cfg},
		{"--shard", "2/3", "--out", dir("q2"), cfg},
		{"--shard", "2/3", "--out", dir("config2"), other},
		{"--shard", "2/3", "--out", dir("dataset2"), "--dataset", half, cfg},
	} {
		wg.Go(func() {
			if r := runValuescope(bin, append([]string{"run", "--quiet"}, a...)...); r.code != exitOK {
				t.Errorf("run %v: %s", a, r)
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	q0, q1, q2, single := dir("q0"), dir("q1"), dir("q2"), dir("single")
	copyDir(t, q0, dir("q0copy"))
	os.Mkdir(dir("empty"), 0o755)
	shardFiles := digests(t, q0, q1, q2)
	singleFiles := digests(t, single)

	// Merging into one folder replaces what an earlier merge put there: a
	// partial merge, then all the shards, twice.
	merged := dir("merged")
	for i, a := range [][]string{{"--partial", q0, q1}, {q0, q1, q2}, {q0, q1, q2}} {
		r := runValuescope(bin, append([]string{"merge", merged}, a...)...)
		if r.code != exitOK {
			t.Fatalf("merge %d %v: %s", i, a, r)
		}
		if m := readManifest(t, merged); m.Run.Complete != (i > 0) {
			t.Fatalf("merge %d %v: complete %v", i, a, m.Run.Complete)
		}
	}
	sameFile(t, single, merged, "annotations.csv")
	sameFile(t, single, merged, "conversations.csv")

	for _, c := range []struct {
		name string
		argv []string
		want []string
	}{
		{"a shard given twice", []string{q0, q0, q1, q2}, []string{q0 + " is given twice"}},
		{"a shard given twice, as a copy", []string{q0, dir("q0copy"), q1, q2}, []string{"shard 0/3 is given twice", "q0copy"}},
		{"a missing shard", []string{q0, q1}, []string{"no folder for shard 2 of 3", "--partial"}},
		{"another config", []string{q0, q1, dir("config2")}, []string{"not parts of one run", "stage values: config", "min_turn_chars"}},
		{"another dataset", []string{q0, q1, dir("dataset2")}, []string{"not parts of one run", "dataset: paths", "half.jsonl"}},
		{"a whole run", []string{q0, q1, single}, []string{single + " is not a shard: it holds a whole run"}},
		{"a merge", []string{q0, q1, merged}, []string{merged + " is not a shard: it holds a merge of shards"}},
		{"not a run folder", []string{q0, q1, dir("empty")}, []string{dir("empty") + " is not a run folder"}},
		{"a folder that does not exist", []string{q0, q1, dir("nothing")}, []string{dir("nothing") + " is not a run folder"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			out := dir("out")
			r := runValuescope(bin, append([]string{"merge", out}, c.argv...)...)
			refused(t, r, c.want...)
			if _, err := os.Stat(out); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("a refused merge left %s (%v)", out, err)
			}
		})
	}
	t.Run("OUT is a shard", func(t *testing.T) {
		refused(t, runValuescope(bin, "merge", q0, q0, q1, q2), q0+" is both the merged folder and a shard")
	})
	t.Run("OUT holds a run", func(t *testing.T) {
		refused(t, runValuescope(bin, "merge", single, q0, q1, q2), single+" holds a run that is not a merge of shards")
		if got := digests(t, single); !maps.Equal(got, singleFiles) {
			t.Errorf("the refused merge changed %s", single)
		}
	})
	if got := digests(t, q0, q1, q2); !maps.Equal(got, shardFiles) {
		t.Errorf("merging changed the shards' stores or manifests")
	}

	// --partial merges what there is and says what is missing; the run's
	// own command then finishes the merged folder in one process.
	partial := dir("partial")
	r := runValuescope(bin, "merge", "--partial", partial, q0, q1)
	if r.code != exitOK || !strings.Contains(r.stdout, "partial: shards missing [2]") {
		t.Fatalf("merge --partial: %s", r)
	}
	if m := readManifest(t, partial); m.Run.Complete || m.Merged == nil || !slices.Equal(m.Merged.Missing, []int{2}) || len(m.Merged.Unfinished) != 0 {
		t.Fatalf("merge --partial: complete %v, merged %+v; want incomplete, missing [2]", m.Run.Complete, m.Merged)
	}
	if r := runValuescope(bin, "run", "--quiet", "--out", partial, cfg); r.code != exitOK || !strings.Contains(r.stdout, "80 conversations (") {
		t.Fatalf("finishing the partial merge: %s", r)
	}
	sameFile(t, single, partial, "annotations.csv")
	sameFile(t, single, partial, "conversations.csv")

	// A slow gRPC stage: a shard still running is refused naming the
	// process writing it; interrupted, it is an unfinished shard; resumed,
	// it merges.
	slow := stageConfig(t, "", `process_sleep = "150ms"`)
	s := [3]string{dir("s0"), dir("s1"), dir("s2")}
	sargv := func(i int) []string {
		return []string{"run", "--quiet", "--no-report", "--shard", fmt.Sprintf("%d/3", i), "--out", s[i], slow}
	}
	for i := range 2 {
		wg.Go(func() {
			if r := runValuescope(bin, sargv(i)...); r.code != exitOK {
				t.Errorf("slow shard %d: %s", i, r)
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	p, err := startValuescope(bin, sargv(2)...)
	if err != nil {
		t.Fatal(err)
	}
	defer p.cmd.Process.Kill()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if _, err := os.Stat(filepath.Join(s[2], runfolder.ManifestFile)); err == nil {
			break // the run has its lock and is starting its stages
		}
		if time.Now().After(deadline) {
			t.Fatal("the slow shard wrote no manifest in 20 s")
		}
	}
	t.Run("a shard being written", func(t *testing.T) {
		refused(t, runValuescope(bin, "merge", dir("out"), s[0], s[1], s[2]),
			s[2]+" is still being written by valuescope run", fmt.Sprintf("(pid %d on ", p.cmd.Process.Pid))
	})
	p.cmd.Process.Signal(syscall.SIGINT)
	if r := p.wait(); r.code != exitInterrupted {
		t.Fatalf("the slow shard, interrupted: %s", r)
	}
	t.Run("an unfinished shard", func(t *testing.T) {
		refused(t, runValuescope(bin, "merge", dir("out"), s[0], s[1], s[2]),
			"shard 2/3 ("+s[2]+"): its run ", "(run its command again to finish it)", "--partial")
	})
	if r := runValuescope(bin, sargv(2)...); r.code != exitOK {
		t.Fatalf("the slow shard, resumed: %s", r)
	}
	if r := runValuescope(bin, "merge", "--no-report", dir("slow"), s[0], s[1], s[2]); r.code != exitOK || !strings.Contains(r.stdout, "merged 3 of 3 shards: 80 conversations") {
		t.Fatalf("merging the slow shards once finished: %s", r)
	}
}

// After a merge, a shard rerun from scratch on another machine (a new
// folder, --fresh) with --cache-from the merged folder pays for no model
// call: the merged store holds every shard's answers. The shards' model is
// an OpenAI-compatible server inside the test that counts its calls.
func TestShardRerunFromMergedCache(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs shards against a local server")
	}
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Model    string `json:"model"`
			Messages []struct {
				Content string `json:"content"`
			} `json:"messages"`
		}
		if r.URL.Path != "/v1/chat/completions" || json.NewDecoder(r.Body).Decode(&req) != nil {
			http.Error(w, "unexpected request", http.StatusBadRequest)
			return
		}
		calls.Add(1)
		// A level that depends on the conversation, so that a wrong
		// answer reused from the cache would show.
		var h [32]byte
		for _, m := range req.Messages {
			h = sha256.Sum256(append(h[:], m.Content...))
		}
		content := fmt.Sprintf(`{"reasoning": "test", "level": %d}`, 1+h[0]%4)
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"id": "x", "object": "chat.completion", "model": req.Model,
			"choices": []map[string]any{{"index": 0, "finish_reason": "stop", "message": map[string]string{"role": "assistant", "content": content}}},
			"usage":   map[string]int{"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20}})
	}))
	defer srv.Close()
	bin := buildValuescope(t)
	root := t.TempDir()
	dir := func(name string) string { return filepath.Join(root, name) }
	cfg := dir("model.toml")
	writeFile(t, cfg, fmt.Sprintf(`[run]
name = "model"
[dataset]
paths = [%q]
[models.chat]
provider = "openai"
base_url = "%s/v1"
model = "test-model"
[[stages]]
name = "subjectivity"
plugin = "builtin:subjectivity"
model = "chat"
[[stages]]
name = "values"
plugin = "builtin:cue-values"
`, repoFile(t, "data", "demo", "conversations.jsonl"), srv.URL))
	run := func(argv ...string) int64 {
		t.Helper()
		before := calls.Load()
		if r := runValuescope(bin, append(append([]string{"run", "--quiet", "--no-report"}, argv...), cfg)...); r.code != exitOK {
			t.Fatalf("run %v: %s", argv, r)
		}
		return calls.Load() - before
	}
	var paid [3]int64
	for i := range paid {
		paid[i] = run("--shard", fmt.Sprintf("%d/3", i), "--out", dir(fmt.Sprint(i)))
	}
	if paid[1] == 0 {
		t.Fatalf("shard 1 made no model call (%v): nothing to reuse", paid)
	}
	if r := runValuescope(bin, "merge", "--no-report", dir("merged"), dir("0"), dir("1"), dir("2")); r.code != exitOK {
		t.Fatalf("merge: %s", r)
	}
	// The other shards' folders do not hold shard 1's answers: it pays
	// again from them (which shows that the count counts).
	if n := run("--shard", "1/3", "--fresh", "--out", dir("again-others"), "--cache-from", dir("0")+","+dir("2")); n != paid[1] {
		t.Errorf("shard 1 rerun from shards 0 and 2: %d model calls, want %d", n, paid[1])
	}
	// The merged folder holds them.
	if n := run("--shard", "1/3", "--fresh", "--out", dir("again"), "--cache-from", dir("0"), "--cache-from", dir("merged")); n != 0 {
		t.Errorf("shard 1 rerun with --cache-from the merged folder: %d model calls, want 0", n)
	}
	sameFile(t, dir("1"), dir("again"), "annotations.csv")
	sameFile(t, dir("1"), dir("again-others"), "annotations.csv")
}

// repoFile is the absolute path of a file of the repository.
func repoFile(t *testing.T, elem ...string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join(append([]string{"..", ".."}, elem...)...))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// proc is a valuescope process started by a test.
type proc struct {
	cmd            *exec.Cmd
	started        time.Time
	stdout, stderr bytes.Buffer
	done           chan struct{}
	err            error
}

func startValuescope(bin string, argv ...string) (*proc, error) {
	p := &proc{cmd: exec.Command(bin, argv...), done: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
	p.started = time.Now()
	if err := p.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	return p, nil
}

// result is how a valuescope process ended: its exit status (-1 when a
// signal ended it, -2 when it did not end in time and was killed) and
// output.
type result struct {
	argv           []string
	code           int
	stdout, stderr string
}

func (r result) String() string {
	return fmt.Sprintf("valuescope %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(r.argv, " "), r.code, r.stdout, r.stderr)
}

// exited says whether the process has ended.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// wait waits for the process to end, at most a minute.
func (p *proc) wait() result {
	r := result{argv: p.cmd.Args[1:]}
	select {
	case <-p.done:
		r.code = p.cmd.ProcessState.ExitCode()
	case <-time.After(time.Minute):
		p.cmd.Process.Kill()
		<-p.done
		r.code = -2
	}
	r.stdout, r.stderr = p.stdout.String(), p.stderr.String()
	return r
}

func runValuescope(bin string, argv ...string) result {
	p, err := startValuescope(bin, argv...)
	if err != nil {
		return result{argv: argv, code: -2, stderr: err.Error()}
	}
	return p.wait()
}

// refused checks that a command exited with status 1 saying each of want.
func refused(t *testing.T, r result, want ...string) {
	t.Helper()
	if r.code != exitFailed {
		t.Errorf("want exit %d: %s", exitFailed, r)
		return
	}
	for _, w := range want {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("the message does not say %q: %s", w, r.stderr)
		}
	}
}

func readManifest(t *testing.T, dir string) *runfolder.Manifest {
	t.Helper()
	m, err := readManifestErr(dir)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func readManifestErr(dir string) (*runfolder.Manifest, error) {
	b, err := os.ReadFile(filepath.Join(dir, runfolder.ManifestFile))
	if err != nil {
		return nil, err
	}
	var m runfolder.Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	return &m, nil
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// sameFile checks that file name is the same, byte for byte, in folders a
// and b, and names the first line that differs.
func sameFile(t *testing.T, a, b, name string) {
	t.Helper()
	x, y := mustRead(t, filepath.Join(a, name)), mustRead(t, filepath.Join(b, name))
	if bytes.Equal(x, y) {
		return
	}
	lx, ly := bytes.Split(x, []byte("\n")), bytes.Split(y, []byte("\n"))
	for i := range min(len(lx), len(ly)) {
		if !bytes.Equal(lx[i], ly[i]) {
			t.Errorf("%s differs (%d and %d bytes), first at line %d:\n%s: %.300q\n%s: %.300q", name, len(x), len(y), i+1, a, lx[i], b, ly[i])
			return
		}
	}
	t.Errorf("%s differs: %d bytes (%d lines) in %s, %d bytes (%d lines) in %s", name, len(x), len(lx), a, len(y), len(ly), b)
}

// sameSortedLines checks that file name has the same lines in a and b,
// whatever their order.
func sameSortedLines(t *testing.T, a, b, name string) {
	t.Helper()
	lines := func(dir string) []string {
		l := strings.Split(string(mustRead(t, filepath.Join(dir, name))), "\n")
		slices.Sort(l)
		return l
	}
	x, y := lines(a), lines(b)
	if slices.Equal(x, y) {
		return
	}
	for i := range min(len(x), len(y)) {
		if x[i] != y[i] {
			t.Errorf("%s sorted: %d and %d lines; the first that differs:\n%s: %.300q\n%s: %.300q", name, len(x), len(y), a, x[i], b, y[i])
			return
		}
	}
	t.Errorf("%s sorted: %d lines in %s, %d in %s", name, len(x), a, len(y), b)
}

// sameReport checks that the report data of a and b are equal but for the
// times, paths and manifest.
func sameReport(t *testing.T, a, b string) {
	t.Helper()
	read := func(dir string) map[string]any {
		var d map[string]any
		if err := json.Unmarshal(mustRead(t, filepath.Join(dir, "report.json")), &d); err != nil {
			t.Fatalf("%s: %v", dir, err)
		}
		delete(d, "generated")
		delete(d, "manifest")
		for key, fields := range map[string][]string{"run": {"dir"}, "taxonomy": {"file", "seconds"}} {
			if sub, ok := d[key].(map[string]any); ok {
				for _, f := range fields {
					delete(sub, f)
				}
			}
		}
		return d
	}
	x, y := read(a), read(b)
	if reflect.DeepEqual(x, y) {
		return
	}
	for k := range x {
		if !reflect.DeepEqual(x[k], y[k]) {
			jx, _ := json.Marshal(x[k])
			jy, _ := json.Marshal(y[k])
			t.Errorf("report.json %q differs:\n%s: %.600s\n%s: %.600s", k, a, jx, b, jy)
		}
	}
	for k := range y {
		if _, ok := x[k]; !ok {
			t.Errorf("report.json: %q only in %s", k, b)
		}
	}
}

// sameTree checks that folder sub holds the same files in a and b, each the
// same byte for byte.
func sameTree(t *testing.T, a, b, sub string) {
	t.Helper()
	list := func(dir string) []string {
		var files []string
		root := filepath.Join(dir, sub)
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				rel, _ := filepath.Rel(dir, path)
				files = append(files, rel)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return files
	}
	x, y := list(a), list(b)
	if len(x) == 0 || !slices.Equal(x, y) {
		t.Fatalf("%s: files %q in %s, %q in %s", sub, x, a, y, b)
	}
	for _, f := range x {
		sameFile(t, a, b, f)
	}
}

// digests are the SHA-256 of the stores and manifests of run folders.
func digests(t *testing.T, dirs ...string) map[string][32]byte {
	t.Helper()
	d := map[string][32]byte{}
	for _, dir := range dirs {
		for _, f := range []string{runfolder.StoreFile, runfolder.ManifestFile} {
			p := filepath.Join(dir, f)
			d[p] = sha256.Sum256(mustRead(t, p))
		}
	}
	return d
}

// copyDir copies the regular files of a run folder (not its lock).
func copyDir(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, path)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(to, rel), 0o755)
		}
		if d.Name() == runfolder.LockFile {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(to, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}
