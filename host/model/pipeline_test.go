package model_test

import (
	"context"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valuescope/valuescope/host/dataset"
	"github.com/valuescope/valuescope/host/model"
	"github.com/valuescope/valuescope/host/pipeline"
	"github.com/valuescope/valuescope/host/plugin"
	"github.com/valuescope/valuescope/host/store"
	"github.com/valuescope/valuescope/internal/fakeapi"
	"github.com/valuescope/valuescope/internal/testplugins"
	"github.com/valuescope/valuescope/sdk/protocol"
)

// echoPlugin is the test plugin that asks a model for a value, with a
// repair round when the answer is "garbage".
func echoPlugin(t testing.TB, instances int) plugin.Plugin {
	t.Helper()
	path := filepath.Join(t.TempDir(), "echo.wasm")
	if err := os.WriteFile(path, testplugins.Wasm(t, "echo", ""), 0o644); err != nil {
		t.Fatal(err)
	}
	p, _, err := plugin.Load(context.Background(), path, plugin.Options{Instances: instances,
		Config: protocol.ConfigureRequest{ConfigJSON: `{"mode": "rounds"}`}, Log: quietLog})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

var values = []string{"Honesty", "Creativity", "Helpfulness", "Epistemic humility", "Care", "garbage"}

// valueAnswer answers a value chosen by the question's hash ("garbage" for
// some, which the plugin repairs).
func valueAnswer(_, last string) string {
	h := fnv.New32a()
	h.Write([]byte(last))
	return values[h.Sum32()%uint32(len(values))]
}

func demoOpener() pipeline.Opener {
	path := filepath.Join("..", "..", "data", "demo", "conversations.jsonl")
	return func() (dataset.Source, error) { return dataset.Open([]string{path}, dataset.Options{}) }
}

func annotations(t testing.TB, st *store.Store) []string {
	t.Helper()
	sn, ids := snapshot(t, st)
	defer sn.Close()
	var out []string
	for a, err := range sn.Annotations().All() {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%s|%s|%d|%s|%s|%s|%t", ids[a.Seq], a.Stage, a.Ord, a.Field, a.Value, a.AttrsJSON, a.IsLabel))
	}
	return out
}

func results(t testing.TB, st *store.Store) map[string]string {
	t.Helper()
	sn, ids := snapshot(t, st)
	defer sn.Close()
	out := map[string]string{}
	for r, err := range sn.Results().All() {
		if err != nil {
			t.Fatal(err)
		}
		status := "error"
		if r.OK {
			status = "ok"
		}
		out[ids[r.Seq]] = status + " "
	}
	for e, err := range sn.Errors().All() {
		if err != nil {
			t.Fatal(err)
		}
		out[e.ID] += e.Err
	}
	return out
}

// snapshot takes a snapshot of st, with the conversations' ids by seq.
func snapshot(t testing.TB, st *store.Store) (*store.Snapshot, map[int64]string) {
	t.Helper()
	sn, err := st.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ids := map[int64]string{}
	for c, err := range sn.Conversations().All() {
		if err != nil {
			sn.Close()
			t.Fatal(err)
		}
		ids[c.Seq] = c.ID
	}
	return sn, ids
}

// The model client under the pipeline, with the echo Wasm plugin over the
// demo conversations: faults on the way are retried and every conversation
// is annotated; a second run makes no model call; an offline replay gives
// the same annotations; a call that cannot be made fails its conversation,
// recorded, and the run goes on.
func TestPipeline(t *testing.T) {
	t.Parallel()
	p := echoPlugin(t, 2)
	srv := fakeapi.NewAnthropic(anthropicKey)
	defer srv.Close()
	srv.Answer = valueAnswer
	kinds := []fakeapi.Fault{fakeapi.RateLimit, fakeapi.Overloaded, fakeapi.ServerError, fakeapi.Hang, fakeapi.Malformed, fakeapi.Cut}
	var seen sync.Map
	srv.Fault = func(n int64, last string) fakeapi.Fault {
		// Every fault kind, on the first attempt of some calls. A message
		// faults at most once, so that no call's retries run out however
		// the concurrent requests interleave.
		if _, again := seen.LoadOrStore(last, true); again {
			return fakeapi.OK
		}
		if n%5 == 0 {
			return kinds[(n/5)%int64(len(kinds))]
		}
		return fakeapi.OK
	}
	run := func(st *store.Store, o model.Options, m model.Model) (*model.Client, pipeline.Progress) {
		c := newClient(t, o, m)
		stage := pipeline.Stage{Name: "values", Plugin: p, Models: caller(t, c, "values", "claude"), Fingerprint: "echo-rounds"}
		prog, err := pipeline.Run(context.Background(), demoOpener(), st, []pipeline.Stage{stage}, pipeline.Options{Workers: 32, Log: quietLog})
		if err != nil {
			t.Fatal(err)
		}
		return c, prog
	}
	var log logBuf
	first := openStore(t, t.TempDir())
	m := claude(srv)
	m.Timeout = time.Second // for the hangs
	c, prog := run(first, opts(first, &log), m)
	if prog.Done != 80 || prog.Errors != 0 {
		t.Fatalf("first run: %+v\n%v", prog, results(t, first))
	}
	anns := annotations(t, first)
	if len(anns) != 80 || !strings.Contains(strings.Join(anns, "\n"), `"state":"repair"`) {
		t.Fatalf("%d annotations:\n%s", len(anns), strings.Join(anns, "\n"))
	}
	if n := strings.Count(log.String(), "retrying"); n == 0 || int64(n) != c.Usage()[0].Retries {
		t.Fatalf("%d retries logged, usage %+v", n, c.Usage())
	}
	t.Logf("first run: %s; %d faults served", model.Summary(c.Usage()), c.Usage()[0].Retries)

	// Second run of the same config, into a new run folder that reads the
	// first one's cache: no model call.
	before := srv.Requests.Load()
	second := openStore(t, t.TempDir())
	o := opts(second, nil)
	o.ReadCaches = []model.Cache{first}
	c, prog = run(second, o, claude(srv))
	if srv.Requests.Load() != before || c.Usage()[0].Requests != 0 || prog.Done != 80 {
		t.Fatalf("second run made %d model calls", srv.Requests.Load()-before)
	}
	if !slices.Equal(annotations(t, second), anns) {
		t.Fatal("second run's annotations differ")
	}

	// Offline replay from the second run's store alone, without keys.
	replay := openStore(t, t.TempDir())
	o = opts(replay, nil)
	o.Offline, o.ReadCaches, o.Getenv = true, []model.Cache{second}, func(string) string { return "" }
	run(replay, o, claude(srv))
	if srv.Requests.Load() != before {
		t.Fatal("offline run called the model")
	}
	if got := annotations(t, replay); !slices.Equal(got, anns) {
		t.Fatalf("offline replay differs:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(anns, "\n"))
	}

	// Offline with an empty cache: every conversation fails, each recorded.
	empty := openStore(t, t.TempDir())
	o = opts(empty, nil)
	o.Offline = true
	_, prog = run(empty, o, claude(srv))
	res := results(t, empty)
	if prog.Errors != 80 || !strings.Contains(res["demo-001"], "stage values") || !strings.Contains(res["demo-001"], "offline") {
		t.Fatalf("%+v %q", prog, res["demo-001"])
	}

	// A conversation whose call keeps failing fails alone.
	srv.Fault = func(_ int64, last string) fakeapi.Fault {
		if strings.Contains(last, "ounces") {
			return fakeapi.Overloaded
		}
		return fakeapi.OK
	}
	failing := openStore(t, t.TempDir())
	m = claude(srv)
	m.MaxRetries = 2
	_, prog = run(failing, opts(failing, nil), m)
	res = results(t, failing)
	if prog.Errors != 1 || !strings.HasPrefix(res["demo-003"], "error stage values, conversation demo-003: model claude") || !strings.Contains(res["demo-003"], "failed 3 times") {
		t.Fatalf("%+v %q", prog, res["demo-003"])
	}
	if !strings.HasPrefix(res["demo-004"], "ok") {
		t.Fatal(res)
	}
}
