package run_test

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/valuescope/valuescope/host/config"
	"github.com/valuescope/valuescope/host/run"
	"github.com/valuescope/valuescope/host/store"
	"github.com/valuescope/valuescope/internal/fakeapi"
)

// valuesServer answers the built-in values plugin over an OpenAI API:
// valid JSON, except, while bad is on, prose for 5% of the conversations
// (by their prompt's hash) and for every repair round, so that those
// conversations fail. It records the calls it answered.
type valuesServer struct {
	*fakeapi.OpenAI
	bad    atomic.Bool
	mu     sync.Mutex
	asked  []string
	failed map[string]bool // first calls answered badly
	// after, if set, is called with the number of calls answered so far.
	after func(n int)
}

func newValuesServer(t testing.TB) *valuesServer {
	s := &valuesServer{OpenAI: fakeapi.NewOpenAI(""), failed: map[string]bool{}}
	t.Cleanup(s.Close)
	s.AsIs = true
	s.Answer = func(_, last string) string {
		s.mu.Lock()
		s.asked = append(s.asked, last)
		n, after := len(s.asked), s.after
		repair := strings.HasPrefix(last, "Your answer could not be used")
		h := fnv.New32a()
		h.Write([]byte(last))
		bad := s.bad.Load() && (repair || h.Sum32()%20 == 2)
		if bad && !repair {
			s.failed[last] = true
		}
		s.mu.Unlock()
		if after != nil {
			after(n)
		}
		if bad {
			return "Sure! The assistant values honesty."
		}
		return `{"ai_values": [{"name": "honesty", "expression": "explicit", "evidence": "to be honest"}], "human_values": []}`
	}
	return s
}

func (s *valuesServer) take() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.asked
	s.asked = nil
	slices.Sort(a)
	return a
}

// valuesConfig runs the demo conversations through the built-in values
// plugin with its shipped prompt, its model the server, then a stage
// without a model.
func valuesConfig(t testing.TB, srv *valuesServer) *config.Config {
	t.Helper()
	abs := func(p ...string) string {
		a, err := filepath.Abs(filepath.Join(append([]string{"..", ".."}, p...)...))
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	path := filepath.Join(t.TempDir(), "run.toml")
	os.WriteFile(path, []byte(fmt.Sprintf(`[run]
workers = 8
[dataset]
paths = [%q]
[models.m]
provider = "openai"
base_url = %q
model = "fake"
max_concurrency = 8
[[stages]]
name = "values"
plugin = "builtin:values"
model = "m"
prompt = %q
[[stages]]
name = "cues"
plugin = "builtin:cue-values"
`, abs("data", "demo", "conversations.jsonl"), srv.BaseURL(), abs("configs", "prompts", "values.md"))), 0o644)
	cfg, err := config.Load(path, config.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func errorsOf(t testing.TB, res *run.Result) int64 {
	t.Helper()
	if res.Manifest == nil {
		t.Fatal("no manifest")
	}
	return res.Manifest.Counts.Total()
}

// Done when (issue 17), through a run: with 5% bad-format answers, a run
// ends with stage errors; with the faults off, --retry-errors ends with
// none, having asked exactly the failed conversations' calls again; a
// plain rerun asks nothing.
func TestRetryErrorsAsksRejectedAgain(t *testing.T) {
	srv := newValuesServer(t)
	srv.bad.Store(true)
	cfg := valuesConfig(t, srv)
	dir := t.TempDir()
	ctx := context.Background()
	res, err := run.Execute(ctx, cfg, run.Options{Out: dir, NoReport: true})
	if err != nil {
		t.Fatal(err)
	}
	nBad := len(srv.failed)
	if nBad == 0 || errorsOf(t, res) != int64(nBad) {
		t.Fatalf("%d stage errors, %d conversations answered badly", errorsOf(t, res), nBad)
	}
	if n := len(srv.take()); n != 80+nBad {
		t.Fatalf("%d calls, want 80 and %d repairs", n, nBad)
	}
	srv.bad.Store(false)
	res, err = run.Execute(ctx, cfg, run.Options{Out: dir, NoReport: true, RetryErrors: true})
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for last := range srv.failed {
		want = append(want, last)
	}
	slices.Sort(want)
	if got := srv.take(); errorsOf(t, res) != 0 || !slices.Equal(got, want) {
		t.Fatalf("--retry-errors: %d stage errors, %d calls asked; want 0 and the %d failed conversations' calls", errorsOf(t, res), len(got), nBad)
	}
	res, err = run.Execute(ctx, cfg, run.Options{Out: dir, NoReport: true})
	if err != nil || errorsOf(t, res) != 0 || len(srv.take()) != 0 {
		t.Fatalf("rerun: %v, %+v", err, res.Progress)
	}
}

// --reask asks every call of the stage again (the stage redone for every
// conversation), the new answers replacing the cached ones; a reask killed
// half-way goes on when the run is resumed without the option, asking each
// call once (a few in flight at the kill twice), and ends with the run.
func TestReask(t *testing.T) {
	srv := newValuesServer(t)
	cfg := valuesConfig(t, srv)
	dir := t.TempDir()
	ctx := context.Background()
	if _, err := run.Execute(ctx, cfg, run.Options{Out: dir, NoReport: true}); err != nil {
		t.Fatal(err)
	}
	calls := srv.take()
	if len(calls) != 80 {
		t.Fatalf("%d calls", len(calls))
	}
	for _, bad := range []run.Options{{Reask: []string{"nope"}}, {Reask: []string{"cues"}}, {Reask: []string{"values"}, Offline: true}} {
		bad.Out, bad.NoReport = dir, true
		if _, err := run.Execute(ctx, cfg, bad); err == nil {
			t.Fatalf("%+v accepted", bad)
		}
	}
	res, err := run.Execute(ctx, cfg, run.Options{Out: dir, NoReport: true, Reask: []string{"values"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := srv.take(); res.Progress.Done != 80 || res.Progress.Skipped != 0 || !slices.Equal(got, calls) {
		t.Fatalf("--reask: %+v, %d calls asked; want every conversation redone and its call asked", res.Progress, len(got))
	}
	st, err := store.OpenReadOnly(filepath.Join(dir, "store.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	rej, err := st.ModelRejections(ctx)
	st.Close()
	if err != nil || len(rej) != 80 || rej[0].Reason != store.ReasonReask || rej[0].Stage != "values" {
		t.Fatalf("%d rejections (%v)", len(rej), err)
	}
	// A plain run after it: the reask is over.
	if res, err := run.Execute(ctx, cfg, run.Options{Out: dir, NoReport: true}); err != nil || res.Progress.Done != 0 || len(srv.take()) != 0 {
		t.Fatalf("after the reask: %v %+v", err, res.Progress)
	}

	// Killed after 30 answers, resumed without --reask.
	kill, cancel := context.WithCancel(ctx)
	srv.after = func(n int) {
		if n == 30 {
			cancel()
		}
	}
	if _, err := run.Execute(kill, cfg, run.Options{Out: dir, NoReport: true, Reask: []string{"values"}}); !errors.Is(err, context.Canceled) {
		t.Fatalf("killed run: %v", err)
	}
	srv.after = nil
	first := srv.take()
	res, err = run.Execute(ctx, cfg, run.Options{Out: dir, NoReport: true})
	if err != nil || errorsOf(t, res) != 0 {
		t.Fatalf("resumed: %v", err)
	}
	second := srv.take()
	all := append(slices.Clone(first), second...)
	slices.Sort(all)
	if got := slices.Compact(slices.Clone(all)); !slices.Equal(got, calls) || len(all) > 80+8 {
		t.Fatalf("killed and resumed reask asked %d calls (%d distinct), want each of the 80 once, a few in flight at the kill twice", len(all), len(got))
	}
	t.Logf("reask killed after %d calls, resumed: %d more (%d asked twice)", len(first), len(second), len(all)-80)
	st, err = store.OpenReadOnly(filepath.Join(dir, "store.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if l, err := st.Reasks(ctx); err != nil || len(l) != 0 {
		t.Fatalf("reasks under way after the run finished: %v %v", l, err)
	}
}
