package model_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valuescope/valuescope/host/model"
	"github.com/valuescope/valuescope/host/plugin"
	"github.com/valuescope/valuescope/host/store"
	"github.com/valuescope/valuescope/internal/fakeapi"
	"github.com/valuescope/valuescope/sdk/protocol"
)

const (
	anthropicKey = "sk-ant-api03-SECRET-do-not-leak-8f3a2c"
	openaiKey    = "sk-proj-SECRET-do-not-leak-77b1e0"
)

var _ plugin.ModelCaller = (*model.Caller)(nil)

// logBuf collects a client's log.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func env(name string) string {
	return map[string]string{"TEST_ANTHROPIC_KEY": anthropicKey, "TEST_OPENAI_KEY": openaiKey}[name]
}

// opts are options with test-sized waits.
func opts(cache model.Cache, log *logBuf) model.Options {
	o := model.Options{Cache: cache, Getenv: env, BackoffBase: time.Millisecond, BackoffMax: 10 * time.Millisecond,
		PollInterval: 5 * time.Millisecond, BatchIdle: 20 * time.Millisecond, Log: slog.New(slog.DiscardHandler)}
	if log != nil {
		o.Log = slog.New(slog.NewTextHandler(log, nil))
	}
	return o
}

func claude(srv *fakeapi.Anthropic) model.Model {
	return model.Model{Name: "claude", Settings: model.Settings{Provider: "anthropic", Model: "claude-test", BaseURL: srv.URL,
		APIKeyEnv: "TEST_ANTHROPIC_KEY", Timeout: 10 * time.Second, MaxRetries: 4, InputPrice: 3, OutputPrice: 15}}
}

func gpt(srv *fakeapi.OpenAI) model.Model {
	return model.Model{Name: "gpt", Settings: model.Settings{Provider: "openai", Model: "gpt-test", BaseURL: srv.BaseURL(),
		APIKeyEnv: "TEST_OPENAI_KEY", Timeout: 10 * time.Second, MaxRetries: 4, InputPrice: 0.15, OutputPrice: 0.6}}
}

func newClient(t testing.TB, o model.Options, ms ...model.Model) *model.Client {
	t.Helper()
	c, err := model.New(ms, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func openStore(t testing.TB, dir string) *store.Store {
	t.Helper()
	st, err := store.Open(filepath.Join(dir, "store.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func call(id, text string) protocol.ModelCall {
	return protocol.ModelCall{ID: id, System: "Name one value.", Messages: []protocol.Message{{Role: "user", Content: text}}, MaxTokens: 64}
}

func caller(t testing.TB, c *model.Client, stage, m string) *model.Caller {
	t.Helper()
	k, err := c.ForStage(stage, m)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// firstAttempt injects fault f on the first request for each text faults
// names, and answers the rest.
func firstAttempt(faults map[string]fakeapi.Fault) func(int64, string) fakeapi.Fault {
	var mu sync.Mutex
	seen := map[string]bool{}
	return func(_ int64, last string) fakeapi.Fault {
		mu.Lock()
		defer mu.Unlock()
		if f, ok := faults[last]; ok && !seen[last] {
			seen[last] = true
			return f
		}
		return fakeapi.OK
	}
}

// Every fault is retried, visibly, and every call gets its answer.
func TestFaultsAnthropic(t *testing.T) {
	t.Parallel()
	srv := fakeapi.NewAnthropic(anthropicKey)
	defer srv.Close()
	faults := map[string]fakeapi.Fault{"q0": fakeapi.RateLimit, "q1": fakeapi.Overloaded, "q2": fakeapi.ServerError,
		"q3": fakeapi.Hang, "q4": fakeapi.Malformed, "q5": fakeapi.Cut}
	srv.Fault = firstAttempt(faults)
	var log logBuf
	m := claude(srv)
	m.Timeout = time.Second // for the hang
	c := newClient(t, opts(&model.MemoryCache{}, &log), m)
	k := caller(t, c, "values", "claude").ForConversation("conv-7")
	var calls []protocol.ModelCall
	for i := range 8 {
		calls = append(calls, call(fmt.Sprint("c", i), fmt.Sprint("q", i)))
	}
	out, err := k.Call(context.Background(), calls)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range out {
		if r.ID != calls[i].ID || r.Text != fmt.Sprint("answer: q", i) || r.Error != "" || r.StopReason != "end_turn" {
			t.Fatalf("call %d: %+v", i, r)
		}
	}
	text := log.String()
	for _, want := range []string{"HTTP 429", "rate_limit_error", "HTTP 529 Overloaded: overloaded_error", "HTTP 500", "no answer within 1s",
		"unreadable answer", "unexpected EOF", "stage=values", "conversation=conv-7"} {
		if !strings.Contains(text, want) {
			t.Errorf("log lacks %q:\n%s", want, text)
		}
	}
	u := c.Usage()[0]
	// (A loaded machine may time out more than the hang.)
	if u.Calls != 8 || u.Retries < 6 || u.Requests != 8+u.Retries || u.Failures != 0 || u.InputTokens == 0 || u.CostUSD <= 0 {
		t.Fatalf("usage %+v", u)
	}
	if strings.Contains(text, anthropicKey) {
		t.Fatal("key in the log")
	}
}

func TestFaultsOpenAI(t *testing.T) {
	t.Parallel()
	srv := fakeapi.NewOpenAI(openaiKey)
	defer srv.Close()
	srv.Fault = firstAttempt(map[string]fakeapi.Fault{"q0": fakeapi.RateLimit, "q1": fakeapi.Overloaded, "q2": fakeapi.ServerError,
		"q3": fakeapi.Hang, "q4": fakeapi.Malformed, "q5": fakeapi.Cut})
	var log logBuf
	m := gpt(srv)
	m.Timeout = time.Second
	c := newClient(t, opts(&model.MemoryCache{}, &log), m)
	var calls []protocol.ModelCall
	for i := range 6 {
		calls = append(calls, call(fmt.Sprint(i), fmt.Sprint("q", i)))
	}
	out, err := caller(t, c, "values", "gpt").Call(context.Background(), calls)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range out {
		if r.Text != fmt.Sprint("answer: q", i) {
			t.Fatalf("call %d: %+v", i, r)
		}
	}
	if n := strings.Count(log.String(), "retrying"); n < 6 {
		t.Fatalf("%d retries logged:\n%s", n, log.String())
	}
}

// A 429's retry-after is honoured by its call (the others go on: see
// TestBackoffPerCall).
func TestRetryAfter(t *testing.T) {
	t.Parallel()
	srv := fakeapi.NewAnthropic(anthropicKey)
	defer srv.Close()
	srv.RetryAfter = "1"
	srv.Fault = firstAttempt(map[string]fakeapi.Fault{"a": fakeapi.RateLimit})
	c := newClient(t, opts(nil, nil), claude(srv))
	k := caller(t, c, "s", "claude")
	start := time.Now()
	if _, err := k.Call(context.Background(), []protocol.ModelCall{call("1", "a")}); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < time.Second || d > 3*time.Second {
		t.Fatalf("retried after %v, want about 1s", d)
	}
}

// A call that keeps failing fails the conversation, naming it and the
// stage; one the API refuses is the plugin's to handle.
func TestGivingUp(t *testing.T) {
	t.Parallel()
	srv := fakeapi.NewAnthropic(anthropicKey)
	defer srv.Close()
	srv.Fault = func(_ int64, last string) fakeapi.Fault {
		if last == "refused" {
			return fakeapi.BadRequest
		}
		return fakeapi.Overloaded
	}
	m := claude(srv)
	m.MaxRetries = 2
	c := newClient(t, opts(&model.MemoryCache{}, nil), m)
	k := caller(t, c, "values", "claude")
	ctx := model.WithConversation(context.Background(), "wildchat-123")
	_, err := k.Call(ctx, []protocol.ModelCall{call("v", "x")})
	var ce *model.CallError
	if !errors.As(err, &ce) || ce.Conversation != "wildchat-123" || ce.Stage != "values" {
		t.Fatalf("%v", err)
	}
	if want := `stage values, conversation wildchat-123: model claude, call "v": failed 3 times, giving up: anthropic: HTTP 529 Overloaded: overloaded_error: Overloaded`; err.Error() != want {
		t.Fatalf("error\n%s\nwant\n%s", err, want)
	}
	out, err := k.Call(ctx, []protocol.ModelCall{call("r", "refused")})
	if err != nil || !strings.Contains(out[0].Error, "prompt is too long") || out[0].ID != "r" {
		t.Fatalf("%+v %v", out, err)
	}
	// Errors are never cached: the same calls go to the server again.
	before := srv.Requests.Load()
	k.Call(ctx, []protocol.ModelCall{call("r", "refused")})
	if srv.Requests.Load() != before+1 {
		t.Fatal("an error was cached")
	}
	// Calls the plugin got wrong.
	bad := []protocol.ModelCall{
		{ID: "1", Model: "ghost", Messages: []protocol.Message{{Role: "user", Content: "x"}}},
		{ID: "2", Kind: "embed", Messages: []protocol.Message{{Role: "user", Content: "x"}}},
		{ID: "3", Messages: []protocol.Message{{Role: "user", Content: "x"}}, SchemaJSON: "{nope"},
		{ID: "4", Kind: "dance", Messages: []protocol.Message{{Role: "user", Content: "x"}}},
		{ID: "5"},
	}
	out, err = k.Call(ctx, bad)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{`unknown model "ghost"`, "no embeddings endpoint", "schema_json", `kind "dance"`, "at least one message"} {
		if !strings.Contains(out[i].Error, want) {
			t.Errorf("call %d: %q, want %q", i, out[i].Error, want)
		}
	}
}

// A truncated answer (stop_reason max_tokens) is an answer: the plugin sees
// the stop reason, and it is cached.
func TestMaxTokens(t *testing.T) {
	t.Parallel()
	srv := fakeapi.NewAnthropic(anthropicKey)
	defer srv.Close()
	srv.Answer = func(_, last string) string { return "honesty and care and fairness" }
	srv.Fault = firstAttempt(map[string]fakeapi.Fault{"q": fakeapi.MaxTokens})
	cache := &model.MemoryCache{}
	c := newClient(t, opts(cache, nil), claude(srv))
	out, err := caller(t, c, "s", "claude").Call(context.Background(), []protocol.ModelCall{call("1", "q")})
	if err != nil || out[0].StopReason != "max_tokens" || out[0].Text != "honesty and" {
		t.Fatalf("%+v %v", out, err)
	}
	if cache.Len() != 1 {
		t.Fatal("truncated answer not cached")
	}
}

// The cache key changes with everything that decides the answer.
func TestKey(t *testing.T) {
	t.Parallel()
	srv := fakeapi.NewAnthropic("")
	defer srv.Close()
	cache := &model.MemoryCache{}
	c := newClient(t, opts(cache, nil), claude(srv))
	k := caller(t, c, "s", "claude")
	base := call("1", "q")
	variants := []func(*protocol.ModelCall){
		func(*protocol.ModelCall) {},
		func(c *protocol.ModelCall) { c.System = "other" },
		func(c *protocol.ModelCall) { c.MaxTokens = 65 },
		func(c *protocol.ModelCall) { c.Temperature = 0.5 },
		func(c *protocol.ModelCall) { c.SchemaJSON = `{"type":"object"}` },
		func(c *protocol.ModelCall) {
			c.Messages = append(c.Messages, protocol.Message{Role: "assistant", Content: "{"})
		},
		func(c *protocol.ModelCall) { c.Messages[0].Content = "q " },
	}
	for _, v := range variants {
		mc := base
		mc.Messages = append([]protocol.Message(nil), base.Messages...)
		v(&mc)
		if _, err := k.Call(context.Background(), []protocol.ModelCall{mc}); err != nil {
			t.Fatal(err)
		}
	}
	// The id is the plugin's own and decides nothing.
	mc := base
	mc.ID = "other"
	k.Call(context.Background(), []protocol.ModelCall{mc})
	if cache.Len() != len(variants) || srv.Requests.Load() != int64(len(variants)) {
		t.Fatalf("%d cached, %d requests, want %d", cache.Len(), srv.Requests.Load(), len(variants))
	}
}

// A second run makes no model call; an offline run replays the first
// exactly; an offline miss names the conversation and the stage.
func TestCacheAndOffline(t *testing.T) {
	t.Parallel()
	srv := fakeapi.NewAnthropic(anthropicKey)
	defer srv.Close()
	o := fakeapi.NewOpenAI(openaiKey)
	defer o.Close()
	dir := t.TempDir()
	st := openStore(t, dir)
	run := func(c *model.Client) []protocol.ModelResponse {
		var all []protocol.ModelResponse
		var mu sync.Mutex
		var wg sync.WaitGroup
		for i := range 20 {
			wg.Go(func() {
				k := caller(t, c, "values", "claude").ForConversation(fmt.Sprint("conv-", i))
				calls := []protocol.ModelCall{call("a", fmt.Sprint("q", i)), {ID: "e", Model: "gpt", Kind: "embed",
					Messages: []protocol.Message{{Content: "honesty"}, {Content: fmt.Sprint("v", i)}}}}
				out, err := k.Call(context.Background(), calls)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				all = append(all, out...)
				mu.Unlock()
			})
		}
		wg.Wait()
		return all
	}
	byID := func(rs []protocol.ModelResponse) map[string]string {
		m := map[string]string{}
		for _, r := range rs {
			b, _ := json.Marshal(r)
			m[string(b)] = ""
		}
		return m
	}
	first := run(newClient(t, opts(st, nil), claude(srv), gpt(o)))
	if n, _ := st.ModelCacheSize(context.Background()); n != 40 {
		t.Fatalf("%d cached", n)
	}
	reqs := srv.Requests.Load() + o.Requests.Load()
	second := newClient(t, opts(st, nil), claude(srv), gpt(o))
	again := run(second)
	if got := srv.Requests.Load() + o.Requests.Load(); got != reqs {
		t.Fatalf("second run made %d model calls", got-reqs)
	}
	for _, u := range second.Usage() {
		if u.Requests != 0 || u.CacheHits != u.Calls || u.CostUSD != 0 {
			t.Fatalf("second run usage %+v", u)
		}
	}
	// Offline, from another run's store, without API keys.
	replayStore := openStore(t, t.TempDir())
	oo := opts(replayStore, nil)
	oo.Offline, oo.ReadCaches, oo.Getenv = true, []model.Cache{st}, func(string) string { return "" }
	offline := newClient(t, oo, claude(srv), gpt(o))
	replay := run(offline)
	if fmt.Sprint(byID(first)) != fmt.Sprint(byID(again)) || fmt.Sprint(byID(first)) != fmt.Sprint(byID(replay)) {
		t.Fatal("answers differ between runs")
	}
	if got := srv.Requests.Load() + o.Requests.Load(); got != reqs {
		t.Fatal("offline run called a model")
	}
	if n, _ := replayStore.ModelCacheSize(context.Background()); n != 40 {
		t.Fatalf("replay store holds %d answers, want the 40 it used", n)
	}
	// A call the first run did not make.
	_, err := caller(t, offline, "values", "claude").ForConversation("conv-99").Call(context.Background(), []protocol.ModelCall{call("a", "new")})
	if !errors.Is(err, model.ErrOffline) || !strings.Contains(err.Error(), "stage values, conversation conv-99: model claude") {
		t.Fatalf("%v", err)
	}
}

// Identical calls in flight at once are made once.
func TestShared(t *testing.T) {
	t.Parallel()
	srv := fakeapi.NewAnthropic(anthropicKey)
	defer srv.Close()
	srv.Latency = 50 * time.Millisecond
	c := newClient(t, opts(&model.MemoryCache{}, nil), claude(srv))
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			if _, err := caller(t, c, "s", "claude").Call(context.Background(), []protocol.ModelCall{call("1", "same")}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := srv.Requests.Load(); n != 1 {
		t.Fatalf("%d requests", n)
	}
}

// Limits: calls in flight never exceed max_concurrency; requests per
// minute are spread out.
func TestLimits(t *testing.T) {
	t.Parallel()
	srv := fakeapi.NewAnthropic(anthropicKey)
	defer srv.Close()
	srv.Latency = 20 * time.Millisecond
	m := claude(srv)
	m.MaxConcurrency = 3
	m.RPM = 1200 // 20 a second
	c := newClient(t, opts(nil, nil), m)
	start := time.Now()
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Go(func() {
			caller(t, c, "s", "claude").Call(context.Background(), []protocol.ModelCall{call("1", fmt.Sprint(i))})
		})
	}
	wg.Wait()
	if n := srv.MaxInFlight.Load(); n > 3 {
		t.Fatalf("%d in flight", n)
	}
	// 40 requests at 20/s with a burst of 20: at least about 1 s.
	if d := time.Since(start); d < 900*time.Millisecond {
		t.Fatalf("40 requests at 1200 rpm took %v", d)
	}
}

// Tokens per minute: a big request waits for the bucket to refill.
func TestTPM(t *testing.T) {
	t.Parallel()
	srv := fakeapi.NewAnthropic(anthropicKey)
	defer srv.Close()
	m := claude(srv)
	m.TPM = 60000 // 1000 a second, and a second's worth at once
	c := newClient(t, opts(nil, nil), m)
	k := caller(t, c, "s", "claude")
	start := time.Now()
	for i := range 3 {
		mc := call("1", fmt.Sprint(i, strings.Repeat(" word", 400))) // ~560 tokens each
		mc.MaxTokens = 50
		if _, err := k.Call(context.Background(), []protocol.ModelCall{mc}); err != nil {
			t.Fatal(err)
		}
	}
	if d := time.Since(start); d < 500*time.Millisecond {
		t.Fatalf("1700 tokens at 1000/s (burst 1000) took %v", d)
	}
	if u := c.Usage()[0]; u.InputTokens < 1500 {
		t.Fatalf("usage %+v", u)
	}
}

// Keys come from the environment, and are written nowhere: not in the
// store, the log, the usage or model descriptions (the manifest), errors.
func TestKeyNeverWritten(t *testing.T) {
	t.Parallel()
	srv := fakeapi.NewAnthropic(anthropicKey)
	defer srv.Close()
	o := fakeapi.NewOpenAI(openaiKey)
	defer o.Close()
	srv.Fault = firstAttempt(map[string]fakeapi.Fault{"q1": fakeapi.RateLimit, "q2": fakeapi.Malformed})
	dir := t.TempDir()
	st := openStore(t, dir)
	logFile, err := os.Create(filepath.Join(dir, "run.log"))
	if err != nil {
		t.Fatal(err)
	}
	oo := opts(st, nil)
	oo.Log = slog.New(slog.NewJSONHandler(logFile, &slog.HandlerOptions{Level: slog.LevelDebug}))
	bm := claude(srv)
	bm.Name, bm.Batch = "claude-batch", true
	c := newClient(t, oo, claude(srv), gpt(o), bm)
	for _, m := range []string{"claude", "gpt", "claude-batch"} {
		k := caller(t, c, "s", m)
		for i := range 3 {
			k.Call(context.Background(), []protocol.ModelCall{call("1", fmt.Sprint("q", i))})
		}
	}
	// A wrong key: the error names no key.
	bad := claude(srv)
	bad.APIKeyEnv = "WRONG"
	ob := opts(st, nil)
	ob.Getenv = func(string) string { return "sk-ant-wrong-" + anthropicKey }
	cb := newClient(t, ob, bad)
	out, _ := caller(t, cb, "s", "claude").Call(context.Background(), []protocol.ModelCall{call("1", "zzz")})
	if !strings.Contains(out[0].Error, "401") || strings.Contains(out[0].Error, anthropicKey) {
		t.Fatalf("%+v", out)
	}
	// What a manifest would hold.
	man, _ := json.MarshalIndent(map[string]any{"models": c.Models(), "usage": c.Usage()}, "", " ")
	os.WriteFile(filepath.Join(dir, "manifest.json"), man, 0o644)
	fmt.Fprintf(logFile, "%s\n%#v\n%+v\n", model.Summary(c.Usage()), c, c)
	c.Close()
	logFile.Close()
	st.Close()
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{anthropicKey, openaiKey} {
			if bytes.Contains(b, []byte(k)) {
				t.Errorf("%s holds an API key", p)
			}
		}
		return nil
	})
	// A missing key is a clear error at start.
	om := opts(nil, nil)
	om.Getenv = func(string) string { return "" }
	if _, err := model.New([]model.Model{claude(srv)}, om); err == nil || !strings.Contains(err.Error(), "TEST_ANTHROPIC_KEY") {
		t.Fatalf("%v", err)
	}
}

var quietLog = slog.New(slog.DiscardHandler)
