package model_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valuescope/valuescope/host/config"
	"github.com/valuescope/valuescope/host/model"
	"github.com/valuescope/valuescope/internal/fakeapi"
	"github.com/valuescope/valuescope/sdk/protocol"
)

// batchOpts wait longer for calls to gather than opts: under the race
// detector, 60 goroutines take a while to all ask.
func batchOpts(cache model.Cache, log *logBuf) model.Options {
	o := opts(cache, log)
	o.BatchIdle = 200 * time.Millisecond
	return o
}

func batchModel(srv *fakeapi.Anthropic, size int) model.Model {
	m := claude(srv)
	m.Batch, m.BatchSize, m.BatchWait = true, size, time.Second
	return m
}

// Many callers wait at once; their calls go out in a few batches, each
// caller gets its own answer; failed requests go into a later batch, a
// refused one is the call's error; batched tokens cost half.
func TestBatch(t *testing.T) {
	t.Parallel()
	srv := fakeapi.NewAnthropic(anthropicKey)
	defer srv.Close()
	srv.PollsToEnd = 3
	var mu sync.Mutex
	fated := map[string]bool{}
	srv.BatchResult = func(id, last string) string {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case last == "q13":
			return "invalid"
		case fated[id]:
			return "succeeded"
		case last == "q7" || last == "q21":
			fated[id] = true
			return "errored"
		case last == "q9":
			fated[id] = true
			return "expired"
		}
		return "succeeded"
	}
	// The batch endpoints fail now and then too.
	srv.BatchFault = func(op string, n int64) fakeapi.Fault {
		switch n {
		case 1:
			return fakeapi.Overloaded // the first create
		case 3:
			return fakeapi.ServerError
		case 6:
			return fakeapi.Cut
		}
		return fakeapi.OK
	}
	var log logBuf
	st := openStore(t, t.TempDir())
	c := newClient(t, batchOpts(st, &log), batchModel(srv, 25))
	const n = 60
	out := make([]protocol.ModelResponse, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			k := caller(t, c, "values", "claude").ForConversation(fmt.Sprint("conv-", i))
			r, err := k.Call(context.Background(), []protocol.ModelCall{call("v", fmt.Sprint("q", i))})
			if err != nil {
				t.Error(err)
				return
			}
			out[i] = r[0]
		})
	}
	wg.Wait()
	for i, r := range out {
		switch {
		case i == 13:
			if !strings.Contains(r.Error, "invalid_request_error") {
				t.Errorf("q13: %+v", r)
			}
		case r.Text != fmt.Sprint("answer: q", i) || r.StopReason != "end_turn":
			t.Errorf("q%d: %+v", i, r)
		}
	}
	if srv.Requests.Load() != 0 {
		t.Fatal("direct calls made in batch mode")
	}
	created := srv.BatchesCreated.Load()
	if created < 3 || created > 6 || srv.BatchRequests.Load() != n+3 {
		t.Fatalf("%d batches, %d batched requests", created, srv.BatchRequests.Load())
	}
	u := c.Usage()[0]
	full := (float64(u.InputTokens)*3 + float64(u.OutputTokens)*15) / 1e6
	if u.Batches != created || math.Abs(u.CostUSD-full/2) > 1e-12 || u.Failures != 1 {
		t.Fatalf("usage %+v (full price %v)", u, full)
	}
	text := log.String()
	for _, want := range []string{"model batch sent", "model batch ended", "resubmitting", "overloaded_error", "HTTP 500", "batch request expired"} {
		if !strings.Contains(text, want) {
			t.Errorf("log lacks %q", want)
		}
	}
	// Every answer is in the store, and a direct client replays them.
	if n, _ := st.ModelCacheSize(context.Background()); n != 59 {
		t.Fatalf("%d cached", n)
	}
	direct := newClient(t, opts(st, nil), claude(srv))
	r, err := caller(t, direct, "values", "claude").Call(context.Background(), []protocol.ModelCall{call("v", "q5")})
	if err != nil || r[0].Text != "answer: q5" || srv.Requests.Load() != 0 {
		t.Fatalf("%+v %v", r, err)
	}
}

// A run interrupted while its batch is processed collects that batch when
// resumed, and does not pay for its calls again.
func TestBatchResume(t *testing.T) {
	t.Parallel()
	srv := fakeapi.NewAnthropic(anthropicKey)
	defer srv.Close()
	srv.PollsToEnd = 1 << 30 // never, for now
	dir := t.TempDir()
	st := openStore(t, dir)
	c1, err := model.New([]model.Model{batchModel(srv, 100)}, opts(st, nil))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Go(func() {
			_, err := caller(t, c1, "s", "claude").Call(ctx, []protocol.ModelCall{call("v", fmt.Sprint("q", i))})
			if err == nil {
				t.Error("answered by a batch that never ends")
			}
		})
	}
	for srv.BatchRequests.Load() < 10 {
		time.Sleep(time.Millisecond)
	}
	cancel() // Ctrl-C
	wg.Wait()
	c1.Close()

	srv.PollsToEnd = 0
	c2 := newClient(t, opts(st, nil), batchModel(srv, 100))
	for i := range 10 {
		wg.Go(func() {
			r, err := caller(t, c2, "s", "claude").Call(context.Background(), []protocol.ModelCall{call("v", fmt.Sprint("q", i))})
			if err != nil || r[0].Text != fmt.Sprint("answer: q", i) {
				t.Errorf("%+v %v", r, err)
			}
		})
	}
	wg.Wait()
	if srv.BatchRequests.Load() != 10 {
		t.Fatalf("%d batches, %d requests: paid twice", srv.BatchesCreated.Load(), srv.BatchRequests.Load())
	}
	if recs, _ := st.ModelBatches(context.Background(), ""); len(recs) != 0 {
		t.Fatal(recs)
	}
}

// A batch the API no longer knows (archived, another account) is given up
// and its calls sent again.
func TestBatchLost(t *testing.T) {
	t.Parallel()
	srv := fakeapi.NewAnthropic(anthropicKey)
	defer srv.Close()
	srv.PollsToEnd = 1 << 30
	st := openStore(t, t.TempDir())
	c1 := newClient(t, opts(st, nil), batchModel(srv, 100))
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for srv.BatchesCreated.Load() == 0 {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	caller(t, c1, "s", "claude").Call(ctx, []protocol.ModelCall{call("v", "q1")})
	c1.Close()
	srv.DropBatches()
	srv.PollsToEnd = 1
	var log logBuf
	c := newClient(t, opts(st, &log), batchModel(srv, 100))
	r, err := caller(t, c, "s", "claude").Call(context.Background(), []protocol.ModelCall{call("v", "q1")})
	if err != nil || r[0].Text != "answer: q1" || srv.BatchesNotFound.Load() != 1 || srv.BatchesCreated.Load() != 2 {
		t.Fatalf("%+v %v", r, err)
	}
	if !strings.Contains(log.String(), "not_found_error") {
		t.Fatal(log.String())
	}
}

// askAll makes one call per text at once, each its own conversation, and
// returns the answers and errors in order.
func askAll(t *testing.T, ctx context.Context, c *model.Client, texts []string) ([]protocol.ModelResponse, []error) {
	t.Helper()
	out := make([]protocol.ModelResponse, len(texts))
	errs := make([]error, len(texts))
	var wg sync.WaitGroup
	for i, text := range texts {
		wg.Go(func() {
			r, err := caller(t, c, "values", "claude").ForConversation(fmt.Sprint("conv-", i)).Call(ctx, []protocol.ModelCall{call("v", text)})
			if err == nil {
				out[i] = r[0]
			}
			errs[i] = err
		})
	}
	wg.Wait()
	return out, errs
}

func questions(n int) []string {
	q := make([]string, n)
	for i := range q {
		q[i] = fmt.Sprint("q", i)
	}
	return q
}

// A batch the API ended unprocessed, expired (a batch ends after 24 hours,
// whatever is left expired) or canceled, is sent again, its calls
// answered from the next; the warning says so.
func TestBatchEndedUnprocessed(t *testing.T) {
	t.Parallel()
	srv := fakeapi.NewAnthropic(anthropicKey)
	defer srv.Close()
	srv.BatchEnd = func(n int64) string {
		return map[int64]string{1: "expired", 2: "canceled"}[n]
	}
	var log logBuf
	c := newClient(t, batchOpts(openStore(t, t.TempDir()), &log), batchModel(srv, 10))
	out, errs := askAll(t, context.Background(), c, questions(10))
	for i, r := range out {
		if errs[i] != nil || r.Text != fmt.Sprint("answer: q", i) {
			t.Errorf("q%d: %+v %v", i, r, errs[i])
		}
	}
	if srv.BatchesCreated.Load() != 3 || srv.BatchRequests.Load() != 30 {
		t.Fatalf("%d batches, %d requests", srv.BatchesCreated.Load(), srv.BatchRequests.Load())
	}
	if u := c.Usage()[0]; u.Retries != 20 || u.Failures != 0 || u.Batches != 3 {
		t.Fatalf("usage %+v", u)
	}
	text := log.String()
	for _, want := range []string{"batch request expired", "batch request canceled", "expired=10", "canceled=10", "model batch ended unprocessed"} {
		if !strings.Contains(text, want) {
			t.Errorf("log lacks %q", want)
		}
	}
}

// A request that keeps failing in its batches (errored retryably, or
// canceled) is sent at most MaxRetries times more, then is its call's
// error, naming the attempts and the last failure; the others are answered.
func TestBatchRetriesBounded(t *testing.T) {
	t.Parallel()
	srv := fakeapi.NewAnthropic(anthropicKey)
	defer srv.Close()
	srv.BatchResult = func(_, last string) string {
		if fate, ok := map[string]string{"q3": "errored", "q4": "canceled"}[last]; ok {
			return fate
		}
		return "succeeded"
	}
	m := batchModel(srv, 6)
	m.MaxRetries = 2
	c := newClient(t, batchOpts(openStore(t, t.TempDir()), nil), m)
	out, errs := askAll(t, context.Background(), c, questions(6))
	for i, r := range out {
		var ce *model.CallError
		var ex *model.ExhaustedError
		switch {
		case i == 3 || i == 4:
			want := map[int]string{3: "batch request errored: Overloaded", 4: "batch request canceled"}[i]
			if !errors.As(errs[i], &ce) || !errors.As(errs[i], &ex) || ex.Attempts != 3 || !strings.Contains(errs[i].Error(), want) || ce.Conversation != fmt.Sprint("conv-", i) {
				t.Errorf("q%d: %v, want its call's error after 3 attempts: %s", i, errs[i], want)
			}
		case errs[i] != nil || r.Text != fmt.Sprint("answer: q", i):
			t.Errorf("q%d: %+v %v", i, r, errs[i])
		}
	}
	if srv.BatchesCreated.Load() != 3 || srv.BatchRequests.Load() != 6+2+2 {
		t.Fatalf("%d batches, %d requests", srv.BatchesCreated.Load(), srv.BatchRequests.Load())
	}
	if u := c.Usage()[0]; u.Failures != 2 || u.Retries != 4 {
		t.Fatalf("usage %+v", u)
	}
}

// Batches are cut before their requests pass BatchBytes (the API takes
// 256 MB at most), however many calls wait; a request that could not fit
// in any batch is its call's answer's error, and sent nowhere.
func TestBatchBytes(t *testing.T) {
	t.Parallel()
	srv := fakeapi.NewAnthropic(anthropicKey)
	defer srv.Close()
	m := batchModel(srv, 100)
	m.BatchBytes = 5000 // about four requests of a few words
	c := newClient(t, batchOpts(openStore(t, t.TempDir()), nil), m)
	texts := append(questions(12), strings.Repeat("too long ", 1000))
	out, errs := askAll(t, context.Background(), c, texts)
	for i, r := range out {
		switch {
		case i == 12:
			if errs[i] != nil || !strings.Contains(r.Error, "does not fit in a batch (at most 5000 bytes)") {
				t.Errorf("the long request: %+v %v", r, errs[i])
			}
		case errs[i] != nil || r.Text != fmt.Sprint("answer: q", i):
			t.Errorf("q%d: %+v %v", i, r, errs[i])
		}
	}
	if srv.BatchesCreated.Load() < 3 || srv.BatchRequests.Load() != 12 {
		t.Fatalf("%d batches, %d requests", srv.BatchesCreated.Load(), srv.BatchRequests.Load())
	}
	for _, b := range srv.Bodies() {
		if bytes.HasPrefix(b, []byte(`{"requests"`)) && len(b) > 5000 {
			t.Errorf("a batch of %d bytes", len(b))
		}
	}
}

// A model's BatchPoll is how often its batches are polled, whatever the
// client's default (an hour here: the call would not be answered in time).
func TestBatchPoll(t *testing.T) {
	t.Parallel()
	srv := fakeapi.NewAnthropic(anthropicKey)
	defer srv.Close()
	srv.PollsToEnd = 5
	o := batchOpts(openStore(t, t.TempDir()), nil)
	o.PollInterval = time.Hour
	m := batchModel(srv, 1)
	m.BatchPoll = time.Millisecond
	c := newClient(t, o, m)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r, err := caller(t, c, "values", "claude").Call(ctx, []protocol.ModelCall{call("v", "q1")})
	if err != nil || r[0].Text != "answer: q1" || srv.BatchPolls.Load() != 5 {
		t.Fatalf("%+v %v after %d polls", r, err, srv.BatchPolls.Load())
	}
}

// A run's stage whose model sends batches has as many conversations in
// flight as the model's batch takes; other stages, and an offline run
// (which sends nothing), have [run] workers.
func TestWorkers(t *testing.T) {
	t.Parallel()
	srv := fakeapi.NewAnthropic(anthropicKey)
	defer srv.Close()
	batched, big, direct := batchModel(srv, 0), batchModel(srv, 500_000), claude(srv)
	batched.Name, big.Name, direct.Name = "batched", "big", "direct"
	stages := func(models ...string) []config.Stage {
		var s []config.Stage
		for _, m := range models {
			s = append(s, config.Stage{Name: "s-" + m, Model: m})
		}
		return s
	}
	c := newClient(t, opts(nil, nil), batched, big, direct)
	for _, tc := range []struct {
		stages []config.Stage
		want   int
	}{
		{stages("direct", ""), 16},
		{stages("", "batched"), 10_000},               // the default batch size
		{stages("direct", "batched", "big"), 100_000}, // the most a batch takes
	} {
		if got := c.Workers(16, tc.stages); got != tc.want {
			t.Errorf("%v: %d in flight, want %d", tc.stages, got, tc.want)
		}
	}
	if got := c.Workers(20_000, stages("batched")); got != 20_000 {
		t.Errorf("more workers than a batch: %d in flight", got)
	}
	o := opts(nil, nil)
	o.Offline = true
	if got := newClient(t, o, batched).Workers(16, stages("batched")); got != 16 {
		t.Errorf("offline: %d in flight", got)
	}
}
