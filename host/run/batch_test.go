package run_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/valuescope/valuescope/host/config"
	"github.com/valuescope/valuescope/host/run"
	"github.com/valuescope/valuescope/internal/fakeapi"
	"github.com/valuescope/valuescope/internal/testplugins"
)

const batchKeyEnv = "VALUESCOPE_TEST_BATCH_KEY"

// manyConversations writes the demo conversations, copied until there are
// n, each copy with its own ID and its own first turn (identical calls
// would be made once), into a JSONL file.
func manyConversations(t testing.TB, n int) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "data", "demo", "conversations.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	type message struct {
		Role    string `json:"role"`
		Content string `json:"content"`
	}
	type record struct {
		ID       string    `json:"id"`
		Messages []message `json:"messages"`
	}
	var demo []record
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		demo = append(demo, r)
	}
	path := filepath.Join(t.TempDir(), "many.jsonl")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	enc := json.NewEncoder(w)
	for i := range n {
		r := demo[i%len(demo)]
		r.ID = fmt.Sprintf("%s-%d", r.ID, i/len(demo))
		r.Messages = append([]message{{Role: r.Messages[0].Role, Content: fmt.Sprintf("(copy %d) %s", i/len(demo), r.Messages[0].Content)}}, r.Messages[1:]...)
		if err := enc.Encode(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// batchConfig is a run of data through the echo plugin asking a fake
// Anthropic API for a value per conversation, in batches polled every poll,
// with the shipped configs' 16 workers.
func batchConfig(t testing.TB, srv *fakeapi.Anthropic, data, poll string) *config.Config {
	t.Helper()
	dir := t.TempDir()
	plugin := filepath.Join(dir, "echo.wasm")
	if err := os.WriteFile(plugin, testplugins.Wasm(t, "echo", ""), 0o644); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "batch.toml")
	text := fmt.Sprintf(`[run]
workers = 16
[dataset]
paths = [%q]
[models.claude]
provider = "anthropic"
model = "claude-test"
base_url = %q
api_key_env = %q
batch = true
batch_poll = %q
[[stages]]
name = "values"
plugin = %q
model = "claude"
[stages.config]
mode = "rounds"
`, data, srv.URL, batchKeyEnv, poll, plugin)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path, config.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// someGarbage answers a value, or "garbage" for about one question in six,
// which the plugin asks to repair in a second round.
func someGarbage(_, last string) string {
	h := fnv.New32a()
	h.Write([]byte(last))
	return []string{"Honesty", "Care", "Clarity", "Creativity", "Helpfulness", "garbage"}[h.Sum32()%6]
}

// A 2,000-conversation run through a stage whose model sends batches, with
// 16 workers: its calls go out in a handful of batches, gathered across the
// dataset, not one batch per 16 conversations in flight; every
// conversation is annotated and no call is made outside a batch.
func TestBatchesSizedByDataset(t *testing.T) {
	const n = 2000
	srv := fakeapi.NewAnthropic("k")
	defer srv.Close()
	srv.Answer = someGarbage
	t.Setenv(batchKeyEnv, "k")
	cfg := batchConfig(t, srv, manyConversations(t, n), "5ms")
	start := time.Now()
	res, err := run.Execute(context.Background(), cfg, run.Options{Out: t.TempDir(), NoReport: true, Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	elapsed := time.Since(start)
	batches := srv.BatchesCreated.Load()
	t.Logf("%d conversations: %d batches of %d requests in all, %v", n, batches, srv.BatchRequests.Load(), elapsed.Round(time.Millisecond))
	if res.Progress.Done != n || res.Progress.Errors != 0 {
		t.Fatalf("progress %+v", res.Progress)
	}
	// 2,000 first calls and one repair call (the same for every
	// conversation answered "garbage"): two batches; a few more if the
	// first gathering is cut by a pause of the run.
	if batches < 2 || batches > 5 || srv.Requests.Load() != 0 || srv.BatchRequests.Load() != n+1 {
		t.Fatalf("%d batches, %d batched requests, %d direct", batches, srv.BatchRequests.Load(), srv.Requests.Load())
	}
	u := res.Manifest.Invocations[len(res.Manifest.Invocations)-1].Models[0]
	if u.Batches != batches || u.Requests != n+1 {
		t.Fatalf("manifest usage %+v", u)
	}
}

// BenchmarkBatchWaiting measures what a conversation waiting for its batch
// costs a run: the heap and goroutine stacks with 2,500 conversations of
// the demo's (1.4 kB of JSON each on average) waiting, less those with 500
// (the fixed costs cancel), per conversation. The fake API, in the same
// process, is made to forget what it received before measuring.
//
//	go test ./host/run -run '^$' -bench BatchWaiting -benchtime 1x
func BenchmarkBatchWaiting(b *testing.B) {
	for b.Loop() {
		small, big := waitingMemory(b, 500), waitingMemory(b, 2500)
		b.ReportMetric(float64(int64(big)-int64(small))/2000, "B/waiting-conversation")
	}
}

// waitingMemory runs n conversations into a batch that does not end and
// returns the heap in use and the goroutines' stacks once they all wait.
func waitingMemory(b *testing.B, n int) uint64 {
	srv := fakeapi.NewAnthropic("k")
	defer srv.Close()
	srv.PollsToEnd = 1 << 30
	b.Setenv(batchKeyEnv, "k")
	cfg := batchConfig(b, srv, manyConversations(b, n), "1h")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := run.Execute(ctx, cfg, run.Options{Out: b.TempDir(), NoReport: true, Log: quiet})
		done <- err
	}()
	for srv.BatchRequests.Load() < int64(n) {
		select {
		case err := <-done:
			b.Fatalf("the run ended before its calls were batched: %v", err)
		case <-time.After(10 * time.Millisecond):
		}
	}
	time.Sleep(200 * time.Millisecond) // the batch's creation answered and recorded
	srv.DropBatches()
	srv.ForgetBodies()
	for range 2 {
		runtime.GC()
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	cancel()
	<-done
	b.Logf("%d waiting: heap %d, stacks %d, goroutines %d", n, ms.HeapAlloc, ms.StackInuse, runtime.NumGoroutine())
	return ms.HeapAlloc + ms.StackInuse
}
