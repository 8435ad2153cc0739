package merge_test

import (
	"context"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/valuescope/valuescope/host/config"
	"github.com/valuescope/valuescope/host/dataset"
	"github.com/valuescope/valuescope/host/merge"
	"github.com/valuescope/valuescope/host/run"
	"github.com/valuescope/valuescope/host/store"
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
		if strings.HasPrefix(last, "Answer with one value name") {
			return "Clarity" // the repair round: always mended (a stage error would reject its answers)
		}
		h := fnv.New32a()
		h.Write([]byte(last))
		return values[h.Sum32()%uint32(len(values))] // "garbage" is repaired: two calls
	}
	cfg := modelConfig(t, srv)
	root := t.TempDir()
	shard := func(i int) string { return filepath.Join(root, fmt.Sprint("shard", i)) }
	for i := range 2 {
		res := execute(t, cfg, run.Options{Out: shard(i), Shard: dataset.Shard{Index: i, Count: 2}})
		if n := res.Manifest.Counts.Total(); n != 0 {
			t.Fatalf("shard %d: %d stage errors", i, n)
		}
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

	// In a new folder: a --fresh rerun in the shard's own folder would
	// answer from its own cache, --cache-from or not.
	again := execute(t, cfg, run.Options{Out: filepath.Join(root, "again"), Shard: dataset.Shard{Index: 0, Count: 2}, CacheFrom: []string{out}})
	if n := srv.Requests.Load() - paid; n != 0 || again.Progress.Done == 0 || again.Progress.Done == 80 {
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

// quickstart is the offline quickstart over the demo conversations.
func quickstart(t *testing.T) *config.Config {
	t.Helper()
	cfg, err := config.Load(filepath.Join("..", "..", "configs", "quickstart.toml"), config.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// A merged folder that valuescope run has since written to holds work no
// shard has: a later merge refuses to replace it. A folder a shard's run
// made but was killed in before its first manifest is an unfinished shard
// (merged with --partial), and model settings that decide answers are
// compared.
func TestMergeGuards(t *testing.T) {
	cfg := quickstart(t)
	root := t.TempDir()
	shard := func(i int) string { return filepath.Join(root, fmt.Sprint("shard", i)) }
	for i := range 2 {
		execute(t, cfg, run.Options{Out: shard(i), Shard: dataset.Shard{Index: i, Count: 3}})
	}
	ctx := context.Background()
	// Shard 2 "killed" after claiming its folder and writing its store's
	// metadata, before its first manifest.
	execute(t, cfg, run.Options{Out: shard(2), Shard: dataset.Shard{Index: 2, Count: 3}})
	for _, f := range []string{"manifest.json", "annotations.csv", "conversations.csv", "errors.csv", "annotations.parquet"} {
		os.Remove(filepath.Join(shard(2), f))
	}
	st, err := store.Open(filepath.Join(shard(2), "store.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Reset(ctx); err != nil {
		t.Fatal(err)
	}
	st.SetMeta(run.ShardKey, "2/3")
	st.Close()
	all := []string{shard(0), shard(1), shard(2)}
	if _, err := merge.Merge(ctx, filepath.Join(root, "m"), all, merge.Options{NoReport: true}); err == nil || !strings.Contains(err.Error(), "its run never started") {
		t.Fatalf("a shard that never started, without --partial: %v", err)
	}
	res, err := merge.Merge(ctx, filepath.Join(root, "m"), all, merge.Options{NoReport: true, Partial: true})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Unfinished, []int{2}) || res.Manifest.Run.Complete || len(res.Shards) != 2 {
		t.Fatalf("partial merge: unfinished %v, complete %v, %d shards", res.Unfinished, res.Manifest.Run.Complete, len(res.Shards))
	}
	// Finished by a run: the folder now holds work of its own.
	finished := execute(t, cfg, run.Options{Out: filepath.Join(root, "m")})
	if finished.Progress.Done == 0 || !finished.Manifest.Run.Complete || finished.Manifest.Merged == nil {
		t.Fatalf("finishing the partial merge: %+v, merged %v", finished.Progress, finished.Manifest.Merged)
	}
	if _, err := merge.Merge(ctx, filepath.Join(root, "m"), all[:2], merge.Options{NoReport: true, Partial: true}); err == nil || !strings.Contains(err.Error(), "valuescope run has added to since") {
		t.Fatalf("merging over a merge a run finished: %v", err)
	}
	// Started over with --fresh: a run of its own, not a merge.
	if _, err := merge.Merge(ctx, filepath.Join(root, "f"), all[:2], merge.Options{NoReport: true, Partial: true}); err != nil {
		t.Fatal(err)
	}
	fresh := execute(t, cfg, run.Options{Out: filepath.Join(root, "f"), Fresh: true})
	if fresh.Manifest.Merged != nil {
		t.Fatalf("a --fresh run keeps the merge record: %+v", fresh.Manifest.Merged)
	}
	if _, err := merge.Merge(ctx, filepath.Join(root, "f"), all[:2], merge.Options{NoReport: true, Partial: true}); err == nil || !strings.Contains(err.Error(), "not a merge of shards") {
		t.Fatalf("merging over a run started over: %v", err)
	}
	if n, _ := os.ReadDir(filepath.Join(root, "f")); len(n) < 5 {
		t.Fatalf("the refused merge removed the run's files: %v", n)
	}
}

// Shards whose model gives calls that set no max_tokens another default
// are not parts of one run.
func TestMergeComparesModelSettings(t *testing.T) {
	srv := fakeapi.NewOpenAI("")
	defer srv.Close()
	srv.Answer = func(_, _ string) string { return "Honesty" }
	cfg := modelConfig(t, srv)
	other := *cfg
	other.Models = map[string]config.Model{"m": cfg.Models["m"]}
	m := other.Models["m"]
	m.MaxTokens = 16
	other.Models["m"] = m
	root := t.TempDir()
	execute(t, cfg, run.Options{Out: filepath.Join(root, "0"), Shard: dataset.Shard{Index: 0, Count: 2}})
	execute(t, &other, run.Options{Out: filepath.Join(root, "1"), Shard: dataset.Shard{Index: 1, Count: 2}})
	_, err := merge.Merge(context.Background(), filepath.Join(root, "m"), []string{filepath.Join(root, "0"), filepath.Join(root, "1")}, merge.Options{NoReport: true})
	if err == nil || !strings.Contains(err.Error(), "model m: max_tokens 1024 vs 16") {
		t.Fatalf("merge of shards with other max_tokens: %v", err)
	}
}
