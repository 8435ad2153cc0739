package model_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/valuescope/valuescope/host/model"
	"github.com/valuescope/valuescope/internal/fakeapi"
	"github.com/valuescope/valuescope/sdk/protocol"
)

// An --offline replay whose plugin fails (a new, buggy version, say) asks
// nothing again: it takes no answer away from the run it replays.
func TestOfflineFailureRejectsNothing(t *testing.T) {
	srv := fakeapi.NewAnthropic(anthropicKey)
	t.Cleanup(srv.Close)
	srv.Answer = func(_, last string) string { return "Honesty" }
	st := openStore(t, t.TempDir())
	ctx := context.Background()
	k := caller(t, newClient(t, opts(st, nil), claude(srv)), "values", "claude")
	if _, err := k.Call(ctx, []protocol.ModelCall{call("v", "x")}); err != nil {
		t.Fatal(err)
	}
	o := opts(st, nil)
	o.Offline = true
	ko := caller(t, newClient(t, o, claude(srv)), "values", "claude").ForConversation("c1")
	if _, err := ko.Call(ctx, []protocol.ModelCall{call("v", "x")}); err != nil {
		t.Fatal(err)
	}
	if err := ko.Settle(ctx, "c1", errors.New("plugin v2: index out of range")); err != nil {
		t.Fatal(err)
	}
	if _, err := ko.Call(ctx, []protocol.ModelCall{call("v", "x")}); err != nil {
		t.Fatalf("the answer is gone after an offline failure: %v", err)
	}
	if rej, _ := st.ModelRejections(ctx); len(rej) != 0 {
		t.Fatalf("%d answers rejected offline", len(rej))
	}
}

// A call the provider refused for good (a 400, a refused key) is no
// answer: a stage that fails on it rejects none of the answers its other
// calls got.
func TestRefusedCallRejectsNothing(t *testing.T) {
	srv := fakeapi.NewAnthropic(anthropicKey)
	t.Cleanup(srv.Close)
	srv.Answer = func(_, last string) string { return "Honesty" }
	srv.Fault = func(_ int64, last string) fakeapi.Fault {
		if last == "b" {
			return fakeapi.BadRequest
		}
		return fakeapi.OK
	}
	st := openStore(t, t.TempDir())
	ctx := context.Background()
	k := caller(t, newClient(t, opts(st, nil), claude(srv)), "values", "claude").ForConversation("c1")
	out, err := k.Call(ctx, []protocol.ModelCall{call("a", "a"), call("b", "b")})
	if err != nil || out[0].Error != "" || out[1].Error == "" {
		t.Fatalf("call: %v; answers' errors %q %q", err, out[0].Error, out[1].Error)
	}
	if err := k.Settle(ctx, "c1", errors.New("plugin: call b failed: 400")); err != nil {
		t.Fatal(err)
	}
	if rej, _ := st.ModelRejections(ctx); len(rej) != 0 {
		t.Fatalf("%d good answers rejected after a refusal of the other call", len(rej))
	}
}

// The usage recorded as an invocation goes counts the answers' tokens too,
// not only the requests: a kill once the calls are answered (a batch that
// ended, say) leaves their cost on record.
func TestRecordedUsageCountsTokens(t *testing.T) {
	for _, batch := range []bool{false, true} {
		srv := fakeapi.NewAnthropic(anthropicKey)
		t.Cleanup(srv.Close)
		srv.Answer = func(_, last string) string { return "Honesty" }
		m := claude(srv)
		m.Batch = batch
		m.InputPrice, m.OutputPrice = 3, 15
		st := openStore(t, t.TempDir())
		o := opts(st, nil)
		o.UsageLog, o.Invocation = st, "inv"
		c := newClient(t, o, m)
		k := caller(t, c, "values", "claude")
		var wg sync.WaitGroup
		for i := range 20 {
			wg.Go(func() {
				if _, err := k.Call(context.Background(), []protocol.ModelCall{call("v", fmt.Sprint(i))}); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		mem := c.Usage()[0]
		var rec model.Usage
		// The tokens go with the next commit, which follows at once.
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			b, _ := st.ModelUsage(context.Background())
			if us, err := model.DecodeUsage(b["inv"]); err == nil && len(us) == 1 {
				if rec = us[0]; rec.InputTokens == mem.InputTokens && rec.CostUSD == mem.CostUSD {
					break
				}
			}
		}
		if rec.Requests != mem.Requests || rec.InputTokens != mem.InputTokens || rec.OutputTokens != mem.OutputTokens || rec.CostUSD != mem.CostUSD || mem.CostUSD == 0 {
			t.Errorf("batch %v: recorded %+v; in memory %+v", batch, rec, mem)
		}
	}
}
