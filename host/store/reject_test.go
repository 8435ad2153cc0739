package store

import (
	"slices"
	"testing"
)

func cached(t testing.TB, st *Store, key string) (string, bool) {
	t.Helper()
	b, ok, err := st.CachedModelResponse(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(b), ok
}

// A rejection moves the very answer it names out of the cache, and only
// that one: a fresh answer cached under the key since stays; the answer is
// kept with who rejected it and why, and is known as rejected by key and
// bytes (not another answer to the same key).
func TestRejectModelResponses(t *testing.T) {
	st, _ := newStore(t)
	if err := st.CacheModelResponses(ctx, []ModelCacheEntry{{Key: "k1", Response: []byte("old")}, {Key: "k2", Response: []byte("a2")}}); err != nil {
		t.Fatal(err)
	}
	// Nothing rejected yet: the table does not even exist.
	if r, err := st.ModelResponseRejected(ctx, "k1", []byte("old")); err != nil || r {
		t.Fatalf("rejected before any rejection: %v %v", r, err)
	}
	n, err := st.RejectModelResponses(ctx, []ModelRejection{
		{Key: "k1", Response: []byte("old"), Stage: "values", Conversation: "c1", Reason: "did not parse"},
		{Key: "k2", Response: []byte("not what is cached"), Stage: "values", Conversation: "c1", Reason: "did not parse"},
		{Key: "k3", Response: []byte("never cached"), Stage: "values", Conversation: "c1", Reason: "did not parse"},
	})
	if err != nil || n != 1 {
		t.Fatalf("moved %d, %v; want 1", n, err)
	}
	if _, ok := cached(t, st, "k1"); ok {
		t.Fatal("k1 still cached")
	}
	if a, ok := cached(t, st, "k2"); !ok || a != "a2" {
		t.Fatalf("k2 = %q %v: another answer than the one rejected was moved", a, ok)
	}
	// A fresh answer under k1, rejected again by a conversation that had
	// the old one: the fresh one stays.
	st.CacheModelResponses(ctx, []ModelCacheEntry{{Key: "k1", Response: []byte("fresh")}})
	if n, err := st.RejectModelResponses(ctx, []ModelRejection{{Key: "k1", Response: []byte("old"), Stage: "values", Conversation: "c2", Reason: "x"}}); err != nil || n != 0 {
		t.Fatalf("moved %d, %v; want 0", n, err)
	}
	if a, _ := cached(t, st, "k1"); a != "fresh" {
		t.Fatalf("k1 = %q, want the fresh answer", a)
	}
	for resp, want := range map[string]bool{"old": true, "fresh": false} {
		if r, err := st.ModelResponseRejected(ctx, "k1", []byte(resp)); err != nil || r != want {
			t.Errorf("%s rejected: %v %v, want %v", resp, r, err, want)
		}
	}
	r, ok, err := st.ModelRejected(ctx, "k1")
	if err != nil || !ok || string(r.Response) != "old" || r.Stage != "values" || r.Conversation != "c1" || r.Reason != "did not parse" || r.At.IsZero() {
		t.Fatalf("%+v %v %v", r, ok, err)
	}
	if _, ok, _ := st.ModelRejected(ctx, "k2"); ok {
		t.Fatal("k2 has a rejection")
	}
	all, err := st.ModelRejections(ctx)
	if err != nil || len(all) != 1 {
		t.Fatalf("%d rejections, %v", len(all), err)
	}
}

// A store opened read-only that never rejected anything (no table) answers
// "not rejected" rather than failing: --cache-from stores are opened so.
func TestRejectedReadOnly(t *testing.T) {
	st, path := newStore(t)
	st.CacheModelResponses(ctx, []ModelCacheEntry{{Key: "k", Response: []byte("a")}})
	ro, err := OpenReadOnly(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if r, err := ro.ModelResponseRejected(ctx, "k", []byte("a")); err != nil || r {
		t.Fatalf("%v %v", r, err)
	}
	if _, ok, err := ro.ModelRejected(ctx, "k"); err != nil || ok {
		t.Fatalf("%v %v", ok, err)
	}
	if l, err := ro.Reasks(ctx); err != nil || l != nil {
		t.Fatalf("%v %v", l, err)
	}
}

// A reask: begun, it forgets the results of the stages to redo (once: a
// resumed one forgets nothing more); each call is claimed once, the first
// claim moving its cached answer aside (reason "reask"); finished, it is
// gone, and a new one claims every call again.
func TestReask(t *testing.T) {
	st, _ := newStore(t)
	setStages(t, st, "a=1", "b=1", "c=1")
	write(t, st, Result{Conv: conv(1), Stage: "a"}, Result{Conv: conv(1), Stage: "b"}, Result{Conv: conv(1), Stage: "c"})
	st.CacheModelResponses(ctx, []ModelCacheEntry{{Key: "k", Response: []byte("old")}})

	resumed, err := st.StartReask(ctx, "b", []string{"b", "c"})
	if err != nil || resumed {
		t.Fatalf("%v %v", resumed, err)
	}
	if got := pairs(t, st); !slices.Equal(got, []string{"1/a/true"}) {
		t.Fatalf("after the reask began: %v", got)
	}
	write(t, st, Result{Conv: conv(1), Stage: "b"})
	if resumed, err := st.StartReask(ctx, "b", []string{"b", "c"}); err != nil || !resumed {
		t.Fatalf("again: %v %v", resumed, err)
	}
	if got := pairs(t, st); !slices.Equal(got, []string{"1/a/true", "1/b/true"}) {
		t.Fatalf("a resumed reask forgot results: %v", got)
	}
	if l, err := st.Reasks(ctx); err != nil || !slices.Equal(l, []string{"b"}) {
		t.Fatalf("%v %v", l, err)
	}

	claim := func(stage, key string) bool {
		t.Helper()
		first, err := st.ClaimReask(ctx, stage, key, "c1")
		if err != nil {
			t.Fatal(err)
		}
		return first
	}
	if !claim("b", "k") {
		t.Fatal("first claim is not first")
	}
	if _, ok := cached(t, st, "k"); ok {
		t.Fatal("the claimed call's old answer is still cached")
	}
	st.CacheModelResponses(ctx, []ModelCacheEntry{{Key: "k", Response: []byte("new")}})
	if claim("b", "k") {
		t.Fatal("second claim is first")
	}
	if a, _ := cached(t, st, "k"); a != "new" {
		t.Fatalf("k = %q: a second claim moved the new answer", a)
	}
	if !claim("b", "never-cached") || !claim("c", "k") {
		t.Fatal("a call never cached, or another stage's, is not claimed first")
	}
	r, ok, _ := st.ModelRejected(ctx, "k")
	if !ok || r.Reason != ReasonReask || string(r.Response) != "new" || r.Stage != "c" {
		// Stage c's own reask (claimed last) moved b's new answer.
		t.Fatalf("%+v", r)
	}
	if err := st.FinishReask(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	if l, _ := st.Reasks(ctx); len(l) != 0 {
		t.Fatalf("after finishing: %v", l)
	}
	if !claim("b", "k") {
		t.Fatal("after finishing, a call is not claimed afresh")
	}
}
