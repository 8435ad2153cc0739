package run_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/valuescope/valuescope/host/config"
	"github.com/valuescope/valuescope/host/run"
	"github.com/valuescope/valuescope/host/store"
)

// --fresh starts the run over and keeps the cache of model answers, which
// was paid for.
func TestFreshKeepsModelCache(t *testing.T) {
	cfg, err := config.Load("../../configs/quickstart.toml", config.Options{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	first, err := run.Execute(context.Background(), cfg, run.Options{Out: dir, NoReport: true})
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(filepath.Join(dir, "store.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := st.CacheModelResponses(ctx, []store.ModelCacheEntry{{Key: "k", Response: []byte("paid for")}}); err != nil {
		t.Fatal(err)
	}
	st.Close()

	again, err := run.Execute(ctx, cfg, run.Options{Out: dir, NoReport: true})
	if err != nil {
		t.Fatal(err)
	}
	if again.Progress.Done != 0 || again.Progress.Skipped != first.Progress.Done {
		t.Fatalf("rerun: %+v, want every conversation already done", again.Progress)
	}
	fresh, err := run.Execute(ctx, cfg, run.Options{Out: dir, NoReport: true, Fresh: true})
	if err != nil {
		t.Fatal(err)
	}
	if fresh.Progress.Done != first.Progress.Done || fresh.Progress.Skipped != 0 || fresh.Manifest.Run.Resumed {
		t.Fatalf("fresh run: %+v (resumed %v), want all %d conversations done again", fresh.Progress, fresh.Manifest.Run.Resumed, first.Progress.Done)
	}
	st, err = store.Open(filepath.Join(dir, "store.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	got, ok, err := st.CachedModelResponse(ctx, "k")
	if err != nil || !ok || string(got) != "paid for" {
		t.Fatalf("cache after --fresh: %q %v %v", got, ok, err)
	}
	c, err := st.Count(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c.Conversations != first.Progress.Done {
		t.Errorf("store holds %d conversations after --fresh, want %d", c.Conversations, first.Progress.Done)
	}
}
