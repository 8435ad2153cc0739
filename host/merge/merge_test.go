package merge_test

import (
	"context"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"testing"

	"github.com/valuescope/valuescope/host/config"
	"github.com/valuescope/valuescope/host/dataset"
	"github.com/valuescope/valuescope/host/merge"
	"github.com/valuescope/valuescope/host/run"
	"github.com/valuescope/valuescope/internal/fakeapi"
	"github.com/valuescope/valuescope/internal/testplugins"
)

// modelConfig is a run of the demo conversations through a plugin that asks
// a model (a fake OpenAI server) for one value per conversation.
func modelConfig(t *testing.T, srv *fakeapi.OpenAI) *config.Config {
	t.Helper()
	dir := t.TempDir()
	plugin := filepath.Join(dir, "echo.wasm")
	if err := os.WriteFile(plugin, testplugins.Wasm(t, "echo", ""), 0o644); err != nil {
		t.Fatal(err)
	}
	demo, _ := filepath.Abs(filepath.Join("..", "..", "data", "demo", "conversations.jsonl"))
	path := filepath.Join(dir, "run.toml")
	os.WriteFile(path, []byte(fmt.Sprintf(`[run]
workers = 4
[dataset]
paths = [%q]
[models.m]
provider = "openai"
base_url = %q
model = "fake"
max_concurrency = 4
[[stages]]
name = "values"
plugin = %q
model = "m"
[stages.config]
mode = "rounds"
`, demo, srv.BaseURL(), plugin)), 0o644)
	cfg, err := config.Load(path, config.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func execute(t *testing.T, cfg *config.Config, o run.Options) *run.Result {
	t.Helper()
	o.NoReport = true
	res, err := run.Execute(context.Background(), cfg, o)
	if err != nil {
		t.Fatalf("run into %s: %v", o.Out, err)
	}
	return res
}

// A model-backed run in two shards: the merged manifest's usage is every
// call the server answered; after the merge, a shard run again from the
// merged folder's answers, and the whole run from both shards' (one given as
// a folder, one as its store file), call the model not once more.
func TestMergeSharesModelAnswers(t *testing.T) {
	srv := fakeapi.NewOpenAI("")
	defer srv.Close()
	values := []string{"Honesty", "Care", "Clarity", "garbage"}
	srv.Answer = func(_, last string) string {
		h := fnv.New32a()
		h.Write([]byte(last))
		return values[h.Sum32()%uint32(len(values))] // "garbage" is repaired: two calls
	}
	cfg := modelConfig(t, srv)
	root := t.TempDir()
	shard := func(i int) string { return filepath.Join(root, fmt.Sprint("shard", i)) }
	for i := range 2 {
		execute(t, cfg, run.Options{Out: shard(i), Shard: dataset.Shard{Index: i, Count: 2}})
	}
	paid := srv.Requests.Load()
	out := filepath.Join(root, "merged")
	res, err := merge.Merge(context.Background(), out, []string{shard(1), shard(0)}, merge.Options{NoReport: true})
	if err != nil {
		t.Fatal(err)
	}
	var calls int64
	for _, u := range res.Manifest.ModelUsage {
		calls += u.Requests
	}
	if calls != paid || paid < 80 {
		t.Fatalf("merged manifest counts %d model requests; the server answered %d", calls, paid)
	}
	if res.Manifest.Counts.Conversations != 80 || len(res.Manifest.Invocations) != 2 {
		t.Fatalf("merged: %d conversations, %d invocations", res.Manifest.Counts.Conversations, len(res.Manifest.Invocations))
	}

	again := execute(t, cfg, run.Options{Out: shard(0), Shard: dataset.Shard{Index: 0, Count: 2}, Fresh: true, CacheFrom: []string{out}})
	if n := srv.Requests.Load() - paid; n != 0 || again.Progress.Done == 0 {
		t.Fatalf("shard 0 rerun from the merged answers: %d model requests, %d conversations done", n, again.Progress.Done)
	}
	whole := execute(t, cfg, run.Options{Out: filepath.Join(root, "whole"), CacheFrom: []string{shard(0), filepath.Join(shard(1), "store.sqlite")}})
	if n := srv.Requests.Load() - paid; n != 0 || whole.Progress.Done != 80 {
		t.Fatalf("whole run from both shards' answers: %d model requests, %d conversations done", n, whole.Progress.Done)
	}
	// Annotations are the merged run's.
	a, _ := os.ReadFile(filepath.Join(out, "annotations.csv"))
	b, _ := os.ReadFile(filepath.Join(root, "whole", "annotations.csv"))
	if len(a) == 0 || string(a) != string(b) {
		t.Fatalf("annotations.csv of the merge (%d bytes) and of the whole run (%d bytes) differ", len(a), len(b))
	}
	// A shard's store is not a cache of anything else's.
	if _, err := run.Execute(context.Background(), cfg, run.Options{Out: filepath.Join(root, "bad"), NoReport: true,
		CacheFrom: []string{filepath.Join(root, "whole", "annotations.csv")}}); err == nil {
		t.Fatal("--cache-from accepted a file that is not a run store")
	}
}
