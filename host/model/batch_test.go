package model_test

import (
	"context"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

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
