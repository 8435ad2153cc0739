package model_test

import (
	"context"
	"errors"
	"testing"

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
