package model_test

import (
	"context"
	"errors"
	"hash/fnv"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/valuescope/valuescope/host/model"
	"github.com/valuescope/valuescope/host/pipeline"
	"github.com/valuescope/valuescope/host/plugin"
	"github.com/valuescope/valuescope/host/store"
	"github.com/valuescope/valuescope/internal/fakeapi"
	"github.com/valuescope/valuescope/sdk/protocol"
)

// valuesPlugin is the built-in values extractor with its shipped prompt.
func valuesPlugin(t testing.TB) plugin.Plugin {
	t.Helper()
	prompt, err := os.ReadFile(filepath.Join("..", "..", "configs", "prompts", "values.md"))
	if err != nil {
		t.Fatal(err)
	}
	p, _, err := plugin.Load(context.Background(), "builtin:values", plugin.Options{Instances: 2, Log: quietLog,
		Config: protocol.ConfigureRequest{Prompt: string(prompt)}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

const goodValues = `{"ai_values": [{"name": "honesty", "expression": "explicit", "evidence": "to be honest"}], "human_values": []}`

// badFormat answers the values plugin: valid JSON, except, while on, for 5%
// of the conversations (by their prompt's hash), whose answer and repaired
// answer are prose. It records what it was asked.
type badFormat struct {
	on    atomic.Bool
	mu    sync.Mutex
	asked []string // last messages answered
	bad   map[string]bool
}

func (b *badFormat) isBad(last string) bool {
	h := fnv.New32a()
	h.Write([]byte(last))
	return h.Sum32()%20 == 2
}

func (b *badFormat) answer(_, last string) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.asked = append(b.asked, last)
	repair := strings.HasPrefix(last, "Your answer could not be used")
	if b.on.Load() && (repair || b.isBad(last)) {
		if !repair {
			b.bad[last] = true
		}
		return "Sure! The assistant values honesty and care."
	}
	return goodValues
}

func (b *badFormat) take() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	a := b.asked
	b.asked = nil
	return a
}

// Done when (issue 17): with 5% bad-format answers the built-in values
// plugin fails those conversations (after its repair round); their answers
// are rejected, so that an offline replay misses them, naming why, and a
// run with the faults off and --retry-errors (ClearErrors) asks exactly
// the failed conversations' calls again and ends with no error; a plain
// rerun asks nothing.
func TestRejectedAnswersAskedAgain(t *testing.T) {
	t.Parallel()
	p := valuesPlugin(t)
	srv := fakeapi.NewOpenAI(openaiKey)
	defer srv.Close()
	srv.AsIs = true
	bf := &badFormat{bad: map[string]bool{}}
	bf.on.Store(true)
	srv.Answer = bf.answer
	st := openStore(t, t.TempDir())
	var held []*model.Caller // every run's caller: none holds answers once its run ends
	run := func(st *store.Store, o model.Options) pipeline.Progress {
		t.Helper()
		c := newClient(t, o, gpt(srv))
		k := caller(t, c, "values", "gpt")
		held = append(held, k)
		stage := pipeline.Stage{Name: "values", Plugin: p, Models: k, Fingerprint: "values"}
		prog, err := pipeline.Run(context.Background(), demoOpener(), st, []pipeline.Stage{stage}, pipeline.Options{Workers: 16, Log: quietLog})
		if err != nil {
			t.Fatal(err)
		}
		return prog
	}
	prog := run(st, opts(st, nil))
	nBad := len(bf.bad)
	if nBad == 0 || prog.Errors != int64(nBad) || prog.Done != 80 {
		t.Fatalf("%d bad conversations, progress %+v", nBad, prog)
	}
	if n := len(bf.take()); n != 80+nBad {
		t.Fatalf("first run asked %d calls, want 80 and %d repairs", n, nBad)
	}
	res := results(t, st)
	var failed []string
	for id, r := range res {
		if strings.HasPrefix(r, "error") {
			failed = append(failed, id)
			if !strings.Contains(r, "did not parse after a repair round") {
				t.Fatalf("%s: %s", id, r)
			}
		}
	}
	rej, err := st.ModelRejections(context.Background())
	if err != nil || len(rej) != 2*nBad {
		t.Fatalf("%d answers rejected (%v), want the answer and the repair of %d conversations", len(rej), err, nBad)
	}
	for _, r := range rej {
		if r.Stage != "values" || !slices.Contains(failed, r.Conversation) || !strings.Contains(r.Reason, "did not parse") {
			t.Fatalf("rejection %+v (failed: %v)", r, failed)
		}
	}

	// A plain rerun: every pair is done, nothing is asked.
	if prog := run(st, opts(st, nil)); prog.Errors != 0 || len(bf.take()) != 0 {
		t.Fatalf("plain rerun: %+v", prog)
	}

	// An offline replay of the run into a new store: the rejected
	// answers are misses that say so.
	replay := openStore(t, t.TempDir())
	o := opts(replay, nil)
	o.Offline, o.ReadCaches = true, []model.Cache{st}
	if prog := run(replay, o); prog.Errors != int64(nBad) {
		t.Fatalf("offline replay: %+v", prog)
	}
	for id, r := range results(t, replay) {
		if strings.HasPrefix(r, "error") && (!slices.Contains(failed, id) || !strings.Contains(r, "was rejected: the plugin of stage values failed with it for conversation "+id)) {
			t.Fatalf("offline replay, %s: %s", id, r)
		}
	}

	// Offline in the run's own folder with --retry-errors: the same.
	if _, err := st.ClearErrors(context.Background()); err != nil {
		t.Fatal(err)
	}
	o = opts(st, nil)
	o.Offline = true
	if prog := run(st, o); prog.Errors != int64(nBad) || len(bf.take()) != 0 {
		t.Fatalf("offline retry: %+v", prog)
	}

	// Faults off, --retry-errors: exactly the failed conversations'
	// calls are asked again, and nothing fails.
	bf.on.Store(false)
	if _, err := st.ClearErrors(context.Background()); err != nil {
		t.Fatal(err)
	}
	if prog := run(st, opts(st, nil)); prog.Errors != 0 {
		t.Fatalf("retry: %+v\n%v", prog, results(t, st))
	}
	asked := bf.take()
	slices.Sort(asked)
	var want []string
	for last := range bf.bad {
		want = append(want, last)
	}
	slices.Sort(want)
	if !slices.Equal(asked, want) {
		t.Fatalf("the retry asked %d calls; want the %d failed conversations' first calls", len(asked), len(want))
	}
	if prog := run(st, opts(st, nil)); prog.Errors != 0 || len(bf.take()) != 0 {
		t.Fatalf("rerun after the retry: %+v", prog)
	}
	for _, k := range held {
		if n := model.Held(k); n != 0 {
			t.Fatalf("a caller still holds the answers of %d conversations after its run", n)
		}
	}
	t.Logf("%d of 80 conversations failed on bad-format answers; %d answers rejected; the retry asked %d calls", nBad, len(rej), len(asked))
}

// stub is a plugin in Go: one model call per round, the texts
// calls(conversation) gives, then one item, the last answer; it declines
// (an error of its own) the conversations fail names, whatever the answer.
type stub struct {
	calls func(c *protocol.Conversation) []string
	fail  func(id string) bool
}

func (s *stub) Manifest() protocol.Manifest {
	return protocol.Manifest{Name: "stub", Version: "0.1.0", Kind: protocol.Extractor, Field: "stub", Needs: []string{protocol.NeedModel}}
}

func (s *stub) Process(_ context.Context, req *protocol.ProcessRequest) (*protocol.ProcessResponse, error) {
	texts := s.calls(req.Conversation)
	if r := int(req.Round); r < len(texts) {
		return &protocol.ProcessResponse{ModelCalls: []protocol.ModelCall{{ID: "v", Messages: []protocol.Message{{Role: "user", Content: texts[r]}}}}}, nil
	}
	if s.fail != nil && s.fail(req.Conversation.ID) {
		return &protocol.ProcessResponse{Error: "declined"}, nil
	}
	return &protocol.ProcessResponse{Annotations: []protocol.Annotation{{Items: []protocol.Item{{Name: req.ModelResponses[0].Text}}}}}, nil
}

func (s *stub) Close() error { return nil }

func convText(c *protocol.Conversation) []string {
	return []string{"Name one value in: " + c.Turns[0].Content}
}

// counting is a server answering "honesty" and counting the calls for each
// text.
func counting(t testing.TB) (*fakeapi.OpenAI, func() map[string]int) {
	srv := fakeapi.NewOpenAI(openaiKey)
	t.Cleanup(srv.Close)
	var mu sync.Mutex
	n := map[string]int{}
	srv.Answer = func(_, last string) string {
		mu.Lock()
		defer mu.Unlock()
		n[last]++
		return "honesty"
	}
	return srv, func() map[string]int {
		mu.Lock()
		defer mu.Unlock()
		m := n
		n = map[string]int{}
		return m
	}
}

func total(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

func runStages(t testing.TB, st *store.Store, c *model.Client, workers int, stages ...pipeline.Stage) pipeline.Progress {
	t.Helper()
	for i := range stages {
		stages[i].Models = caller(t, c, stages[i].Name, "gpt")
		stages[i].Fingerprint = stages[i].Name
	}
	prog, err := pipeline.Run(context.Background(), demoOpener(), st, stages, pipeline.Options{Workers: workers, Log: quietLog})
	if err != nil {
		t.Fatal(err)
	}
	return prog
}

// Hostile: a plugin that fails a conversation after an answer that was
// fine. The host cannot tell, and takes the failure as the verdict: the
// answer is rejected, --retry-errors asks it again (and, the plugin failing
// again, rejects the new one too).
func TestRejectOnPluginError(t *testing.T) {
	t.Parallel()
	srv, asked := counting(t)
	st := openStore(t, t.TempDir())
	p := &stub{calls: convText, fail: func(id string) bool { return id == "demo-002" }}
	c := newClient(t, opts(st, nil), gpt(srv))
	if prog := runStages(t, st, c, 8, pipeline.Stage{Name: "s", Plugin: p}); prog.Errors != 1 {
		t.Fatalf("%+v", prog)
	}
	asked()
	rej, _ := st.ModelRejections(context.Background())
	if len(rej) != 1 || rej[0].Conversation != "demo-002" || !strings.Contains(rej[0].Reason, "declined") {
		t.Fatalf("%+v", rej)
	}
	st.ClearErrors(context.Background())
	if prog := runStages(t, st, c, 8, pipeline.Stage{Name: "s", Plugin: p}); prog.Errors != 1 {
		t.Fatalf("%+v", prog)
	}
	if n := asked(); total(n) != 1 {
		t.Fatalf("retry asked %v, want demo-002's one call", n)
	}
	if rej, _ := st.ModelRejections(context.Background()); len(rej) != 2 {
		t.Fatalf("%d rejections, want 2", len(rej))
	}
}

// A stage that failed because a call could not be made rejects nothing:
// the answers it had are fine, and --retry-errors asks only the call that
// failed.
func TestCallErrorRejectsNothing(t *testing.T) {
	t.Parallel()
	srv, asked := counting(t)
	var down atomic.Bool
	down.Store(true)
	srv.Fault = func(_ int64, last string) fakeapi.Fault {
		if down.Load() && strings.HasPrefix(last, "second") {
			return fakeapi.Overloaded
		}
		return fakeapi.OK
	}
	st := openStore(t, t.TempDir())
	p := &stub{calls: func(c *protocol.Conversation) []string {
		if c.ID == "demo-003" {
			return []string{"first " + c.ID, "second " + c.ID}
		}
		return []string{"first " + c.ID}
	}}
	m := gpt(srv)
	m.MaxRetries = -1
	c := newClient(t, opts(st, nil), m)
	if prog := runStages(t, st, c, 8, pipeline.Stage{Name: "s", Plugin: p}); prog.Errors != 1 {
		t.Fatalf("%+v", prog)
	}
	asked()
	if rej, _ := st.ModelRejections(context.Background()); len(rej) != 0 {
		t.Fatalf("a call failure rejected %+v", rej)
	}
	down.Store(false)
	st.ClearErrors(context.Background())
	if prog := runStages(t, st, c, 8, pipeline.Stage{Name: "s", Plugin: p}); prog.Errors != 0 {
		t.Fatalf("%+v", prog)
	}
	if n := asked(); total(n) != 1 || n["second demo-003"] != 1 {
		t.Fatalf("retry asked %v, want only the call that failed", n)
	}
}

// Hostile: identical calls shared. An answer is one per cache key: a
// stage that fails rejects it for every stage and conversation. Two stages
// making the same call: the second, after the first failed with the
// answer, asks again; its result stands, and a retry of the first, failing
// again with that new answer, rejects it too (the second stage is not
// redone). Conversations making the same call: one failing rejects the
// answer the ones before it succeeded with (their results stand); the next
// one asks again.
func TestRejectShared(t *testing.T) {
	t.Parallel()
	t.Run("stages", func(t *testing.T) {
		srv, asked := counting(t)
		st := openStore(t, t.TempDir())
		c := newClient(t, opts(st, nil), gpt(srv))
		first := &stub{calls: convText, fail: func(id string) bool { return id == "demo-002" }}
		second := &stub{calls: convText}
		stages := func() []pipeline.Stage {
			return []pipeline.Stage{{Name: "first", Plugin: first}, {Name: "second", Plugin: second}}
		}
		if prog := runStages(t, st, c, 8, stages()...); prog.Errors != 1 {
			t.Fatalf("%+v", prog)
		}
		n := asked()
		if total(n) != 81 || n[convText(&protocol.Conversation{Turns: []protocol.Turn{{Content: demoTurn(t, st, "demo-002")}}})[0]] != 2 {
			t.Fatalf("%d calls, want 80 and demo-002's again for the second stage", total(n))
		}
		st.ClearErrors(context.Background())
		if prog := runStages(t, st, c, 8, stages()...); prog.Errors != 1 {
			t.Fatalf("%+v", prog)
		}
		if n := asked(); total(n) != 0 {
			t.Fatalf("the retry asked %v: the second stage's answer was cached", n)
		}
		rej, _ := st.ModelRejections(context.Background())
		if len(rej) != 2 || rej[0].Stage != "first" || rej[1].Stage != "first" {
			t.Fatalf("%+v", rej)
		}
		if r := results(t, st); !strings.Contains(r["demo-002"], "stub: declined") {
			t.Fatal(r["demo-002"])
		}
	})
	t.Run("conversations", func(t *testing.T) {
		srv, asked := counting(t)
		st := openStore(t, t.TempDir())
		c := newClient(t, opts(st, nil), gpt(srv))
		same := func(*protocol.Conversation) []string { return []string{"Name one value."} }
		p := &stub{calls: same, fail: func(id string) bool { return id == "demo-002" }}
		// One worker: conversations in order (demo-001 first).
		if prog := runStages(t, st, c, 1, pipeline.Stage{Name: "s", Plugin: p}); prog.Errors != 1 {
			t.Fatalf("%+v", prog)
		}
		if n := asked(); total(n) != 2 {
			t.Fatalf("%v: want demo-001's call and, after demo-002 rejected it, demo-003's", n)
		}
		rej, _ := st.ModelRejections(context.Background())
		if len(rej) != 1 || rej[0].Conversation != "demo-002" {
			t.Fatalf("%+v", rej)
		}
		if r := results(t, st); !strings.HasPrefix(r["demo-001"], "ok") {
			t.Fatal(r["demo-001"])
		}
	})
}

// demoTurn is the first turn of a demo conversation, as the store's
// snapshot does not keep turns: read from the dataset.
func demoTurn(t testing.TB, _ *store.Store, id string) string {
	t.Helper()
	src, err := demoOpener()()
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	for {
		c, err := src.Next()
		if err != nil {
			t.Fatalf("%s not found: %v", id, err)
		}
		if c.ID == id {
			return c.Turns[0].Content
		}
	}
}

// A reask asks every call of the stage again, once each however many
// conversations make it, the new answers replacing the old (kept as
// rejected, reason "reask"); a reask resumed asks nothing already asked; a
// finished one leaves the cache answering.
func TestReaskCaller(t *testing.T) {
	t.Parallel()
	srv, asked := counting(t)
	st := openStore(t, t.TempDir())
	c := newClient(t, opts(st, nil), gpt(srv))
	calls := func(cv *protocol.Conversation) []string {
		return []string{"Name one value in: " + cv.Turns[0].Content, "Name one value."} // the second is shared
	}
	p := &stub{calls: calls}
	k := caller(t, c, "s", "gpt")
	runWith := func(m plugin.ModelCaller) pipeline.Progress {
		t.Helper()
		prog, err := pipeline.Run(context.Background(), demoOpener(), st, []pipeline.Stage{{Name: "s", Plugin: p, Models: m, Fingerprint: "s"}},
			pipeline.Options{Workers: 8, Log: quietLog})
		if err != nil {
			t.Fatal(err)
		}
		return prog
	}
	runWith(k)
	if n := total(asked()); n != 81 {
		t.Fatalf("%d calls", n)
	}
	ctx := context.Background()
	if resumed, err := st.StartReask(ctx, "s", []string{"s"}); err != nil || resumed {
		t.Fatal(resumed, err)
	}
	if prog := runWith(k.Reask()); prog.Errors != 0 || prog.Done != 80 {
		t.Fatalf("%+v %v", prog, results(t, st))
	}
	n := asked()
	if total(n) != 81 || n["Name one value."] != 1 {
		t.Fatalf("the reask asked %d calls (%d of the shared one), want 81 (1)", total(n), n["Name one value."])
	}
	rej, _ := st.ModelRejections(ctx)
	if len(rej) != 81 || rej[0].Reason != store.ReasonReask {
		t.Fatalf("%d rejections", len(rej))
	}
	// Resumed (results forgotten as by a kill, the reask not finished): no
	// call is asked a second time.
	if resumed, _ := st.StartReask(ctx, "s", []string{"s"}); !resumed {
		t.Fatal("not resumed")
	}
	st.Reset(ctx)
	if prog := runWith(k.Reask()); prog.Errors != 0 || total(asked()) != 0 {
		t.Fatalf("resumed reask: %+v", prog)
	}
	st.FinishReask(ctx, "s")
	st.Reset(ctx)
	if prog := runWith(k); prog.Errors != 0 || total(asked()) != 0 {
		t.Fatalf("after the reask: %+v", prog)
	}
}

// MemoryCache rejects and reasks as the store does.
func TestMemoryCacheRejects(t *testing.T) {
	srv, asked := counting(t)
	mc := &model.MemoryCache{}
	c := newClient(t, opts(mc, nil), gpt(srv))
	k := caller(t, c, "s", "gpt")
	ctx := model.WithConversation(context.Background(), "c1")
	ask := func(k *model.Caller) {
		t.Helper()
		if _, err := k.Call(ctx, []protocol.ModelCall{call("v", "q")}); err != nil {
			t.Fatal(err)
		}
	}
	ask(k)
	if err := k.Settle(ctx, "c1", errors.New("did not parse")); err != nil {
		t.Fatal(err)
	}
	if mc.Len() != 0 {
		t.Fatal("not rejected")
	}
	ask(k)
	k.Settle(ctx, "c1", nil)
	ask(k)
	if n := total(asked()); n != 2 || mc.Len() != 1 {
		t.Fatalf("%d calls, %d cached", n, mc.Len())
	}
	ask(k.Reask())
	ask(k.Reask())
	if n := total(asked()); n != 1 {
		t.Fatalf("reask: %d calls", n)
	}
	// Rejected again, then offline: the miss says why.
	ask(k)
	k.Settle(ctx, "c1", errors.New("did not parse"))
	o := opts(mc, nil)
	o.Offline = true
	_, err := caller(t, newClient(t, o, gpt(srv)), "s", "gpt").Call(ctx, []protocol.ModelCall{call("v", "q")})
	var rj *model.RejectedError
	if !errors.As(err, &rj) || !errors.Is(err, model.ErrOffline) || rj.Rejection.Conversation != "c1" || !strings.Contains(err.Error(), "did not parse") {
		t.Fatalf("%v", err)
	}
}
