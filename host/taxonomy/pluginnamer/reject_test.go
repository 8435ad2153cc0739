package pluginnamer

import (
	"context"
	"encoding/json"
	"hash/fnv"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/valuescope/valuescope/host/model"
	"github.com/valuescope/valuescope/host/store"
	"github.com/valuescope/valuescope/host/taxonomy"
	"github.com/valuescope/valuescope/internal/fakeapi"
)

// A cluster the namer plugin fails on (a model answering prose, repaired
// answer too) gets the built-in name, and its answers are rejected: the
// next build, with the model fixed, asks no call answered well before
// again and names every cluster. A reask of the names (Caller.Reask, as
// `taxonomy build --reask-names`) asks every cluster's call again.
func TestNamesRejectedAndReasked(t *testing.T) {
	srv := fakeapi.NewOpenAI("")
	defer srv.Close()
	srv.AsIs = true
	var bad atomic.Bool
	bad.Store(true)
	var mu sync.Mutex
	var asked []string
	failed := map[string]bool{}
	srv.Answer = func(_, last string) string {
		mu.Lock()
		defer mu.Unlock()
		asked = append(asked, last)
		first := firstMember(last)
		h := fnv.New32a()
		h.Write([]byte(first))
		if bad.Load() && (first == "" || h.Sum32()%4 == 0) { // "": a repair round
			if first != "" {
				failed[last] = true
			}
			return "I would call this group: values."
		}
		b, _ := json.Marshal(map[string]string{"name": "Model: " + first, "description": "This group of values emphasized " + first + "."})
		return string(b)
	}
	take := func() []string {
		mu.Lock()
		defer mu.Unlock()
		a := asked
		asked = nil
		slices.Sort(a)
		return a
	}
	st, err := store.Open(filepath.Join(t.TempDir(), "store.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	client, err := model.New([]model.Model{{Name: "chat", Settings: model.Settings{Provider: "openai", Model: "gpt-x", BaseURL: srv.BaseURL()}}},
		model.Options{Cache: st, Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	cc, err := client.ForStage("taxonomy", "chat")
	if err != nil {
		t.Fatal(err)
	}
	build := func(k *model.Caller) *PluginNamer {
		t.Helper()
		n := loadNamer(t, k)
		n.Fallback = taxonomy.RepresentativeNamer{}
		buildSmall(t, taxonomy.Options{Namer: n})
		return n
	}
	n := build(cc)
	nFailed := len(failed)
	if nFailed == 0 || len(n.Failures) != nFailed {
		t.Fatalf("%d clusters answered badly, %d named by the fallback", nFailed, len(n.Failures))
	}
	firstCalls := take()
	calls := len(firstCalls)
	ctx := context.Background()
	rej, _ := st.ModelRejections(ctx)
	if len(rej) != 2*nFailed || rej[0].Stage != "taxonomy" {
		t.Fatalf("%d answers rejected, want the answer and the repair of %d clusters", len(rej), nFailed)
	}

	bad.Store(false)
	if n := build(cc); len(n.Failures) != 0 {
		t.Fatalf("with the model fixed: %v", n.Failures)
	}
	// Asked again: the failed clusters' calls, or calls with new prompts
	// (a prompt lists the names of the clusters below, or nearby, which
	// were the fallback's and are now the model's); never a call answered
	// well before.
	got := take()
	for _, last := range got {
		if !failed[last] && slices.Contains(firstCalls, last) {
			t.Fatalf("the second build asked again a call that was answered well: %q", last)
		}
	}
	clusters := calls - nFailed // one call each, and a repair for each failed one
	if build(cc); len(take()) != 0 {
		t.Fatal("a third build asked the model")
	}

	if _, err := st.StartReask(ctx, "taxonomy", nil); err != nil {
		t.Fatal(err)
	}
	build(cc.Reask())
	if got := len(take()); got != clusters {
		t.Fatalf("the reask asked %d calls, want one per cluster (%d)", got, clusters)
	}
	t.Logf("%d clusters; %d failed on bad answers, asked again once fixed (%d calls with the clusters above them); the reask asked all", clusters, nFailed, len(got))
}
