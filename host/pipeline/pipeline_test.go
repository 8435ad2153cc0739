package pipeline_test

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/valuescope/valuescope/host/dataset"
	"github.com/valuescope/valuescope/host/pipeline"
	"github.com/valuescope/valuescope/host/plugin"
	"github.com/valuescope/valuescope/host/store"
	"github.com/valuescope/valuescope/internal/shareddata"
	"github.com/valuescope/valuescope/sdk/protocol"
)

var quiet = slog.New(slog.DiscardHandler)

func demo(t testing.TB) pipeline.Opener {
	path := filepath.Join("..", "..", "data", "demo", "conversations.jsonl")
	return func() (dataset.Source, error) { return dataset.Open([]string{path}, dataset.Options{}) }
}

func stages(t testing.TB, keep []string, valuesConfig string) []pipeline.Stage {
	t.Helper()
	var out []pipeline.Stage
	for _, s := range []struct{ name, ref, config string }{
		{"response-type", "builtin:response-type", ""},
		{"values", "builtin:cue-values", valuesConfig},
	} {
		p, info, err := plugin.Load(context.Background(), s.ref, plugin.Options{Log: quiet, Config: protocol.ConfigureRequest{ConfigJSON: s.config}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.Close() })
		st := pipeline.Stage{Name: s.name, Plugin: p, Fingerprint: pipeline.Fingerprint(info.SHA256, s.config)}
		if s.name == "response-type" {
			st.Keep = keep
		}
		out = append(out, st)
	}
	return out
}

func openStore(t testing.TB) *store.Store {
	st, err := store.Open(filepath.Join(t.TempDir(), "store.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// dump lists every stored result and annotation in a stable order.
func dump(t testing.TB, st *store.Store) []string {
	t.Helper()
	sn, err := st.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer sn.Close()
	ids := map[int64]string{}
	for c, err := range sn.Conversations().All() {
		if err != nil {
			t.Fatal(err)
		}
		ids[c.Seq] = c.ID
	}
	var results []store.StoredResult
	for r, err := range sn.Results().All() {
		if err != nil {
			t.Fatal(err)
		}
		results = append(results, r)
	}
	slices.SortStableFunc(results, func(a, b store.StoredResult) int { return strings.Compare(a.Stage, b.Stage) })
	slices.SortStableFunc(results, func(a, b store.StoredResult) int { return cmp.Compare(a.Seq, b.Seq) })
	var res, anns []string
	for _, r := range results {
		res = append(res, fmt.Sprintf("%s|%s|%t|", ids[r.Seq], r.Stage, r.OK))
	}
	for e, err := range sn.Errors().All() {
		if err != nil {
			t.Fatal(err)
		}
		res = append(res, fmt.Sprintf("%s|%s|error|%s", e.ID, e.Stage, e.Err))
	}
	for a, err := range sn.Annotations().All() {
		if err != nil {
			t.Fatal(err)
		}
		anns = append(anns, fmt.Sprintf("%s|%s|%d|%s|%s|%s|%t", ids[a.Seq], a.Stage, a.Ord, a.Field, a.Value, a.AttrsJSON, a.IsLabel))
	}
	return append(res, anns...)
}

// count counts the rows that match.
func count[T any](t testing.TB, rows *store.Rows[T], match func(T) bool) int {
	t.Helper()
	n := 0
	for r, err := range rows.All() {
		if err != nil {
			t.Fatal(err)
		}
		if match(r) {
			n++
		}
	}
	return n
}

// snapshot takes a snapshot of st, closed with the test.
func snapshot(t testing.TB, st *store.Store) *store.Snapshot {
	t.Helper()
	sn, err := st.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sn.Close() })
	return sn
}

func TestRunDemo(t *testing.T) {
	st := openStore(t)
	p, err := pipeline.Run(context.Background(), demo(t), st, stages(t, nil, ""), pipeline.Options{Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	if p.Conversations != 80 || p.Done != 80 || p.Errors != 0 || !p.Finished {
		t.Fatalf("progress %+v", p)
	}
	rows := dump(t, st)
	if n := strings.Count(strings.Join(rows, "\n"), "|response-type|true|"); n != 80 {
		t.Fatalf("%d response-type results", n)
	}
	// A second run finds everything done.
	p, err = pipeline.Run(context.Background(), demo(t), st, stages(t, nil, ""), pipeline.Options{Log: quiet})
	if err != nil || p.Skipped != 80 || p.Done != 0 {
		t.Fatalf("rerun: %+v %v", p, err)
	}
	if !reflect.DeepEqual(dump(t, st), rows) {
		t.Fatal("a rerun changed the store")
	}
}

// Cancelled at many points and resumed, a run ends with exactly what an
// uninterrupted run stores.
func TestResumeAfterCancel(t *testing.T) {
	path := shareddata.Path(t, "chatbot-arena/chatbot_arena_messages.jsonl")
	open := func() (dataset.Source, error) { return dataset.Open([]string{path}, dataset.Options{}) }
	ref := openStore(t)
	if _, err := pipeline.Run(context.Background(), open, ref, stages(t, nil, ""), pipeline.Options{Log: quiet, Limit: 400}); err != nil {
		t.Fatal(err)
	}
	want := dump(t, ref)

	st := openStore(t)
	sts := stages(t, nil, "")
	rounds := 0
	for {
		ctx, cancel := context.WithCancel(context.Background())
		opts := pipeline.Options{Log: quiet, Limit: 400, ProgressEvery: time.Millisecond, Progress: func(p pipeline.Progress) {
			if p.Done >= 40 {
				cancel()
			}
		}}
		p, err := pipeline.Run(ctx, open, st, sts, opts)
		cancel()
		if err == nil {
			break
		}
		if p.Finished || err != context.Canceled {
			t.Fatalf("round %d: %+v %v", rounds, p, err)
		}
		if rounds++; rounds > 50 {
			t.Fatal("no end")
		}
	}
	if rounds < 5 {
		t.Fatalf("only %d interruptions", rounds)
	}
	if got := dump(t, st); !reflect.DeepEqual(got, want) {
		t.Fatalf("resumed run differs: %d rows vs %d", len(got), len(want))
	}
}

// A classifier stage with Keep filters what later stages see; changing a
// stage's fingerprint redoes it and the stages after it, and only them.
func TestFilterAndInvalidation(t *testing.T) {
	st := openStore(t)
	keep := []string{"strong resistance", "mild resistance"}
	if _, err := pipeline.Run(context.Background(), demo(t), st, stages(t, keep, ""), pipeline.Options{Log: quiet}); err != nil {
		t.Fatal(err)
	}
	kept := count(t, snapshot(t, st).Annotations(), func(a store.StoredAnnotation) bool {
		return a.Stage == "response-type" && slices.Contains(keep, a.Value)
	})
	isValues := func(r store.StoredResult) bool { return r.Stage == "values" } // one per conversation
	values := count(t, snapshot(t, st).Results(), isValues)
	if kept == 0 || values != kept {
		t.Fatalf("%d conversations kept by the filter, %d reached the values stage", kept, values)
	}
	// Another config for the values stage: only it is redone.
	p, err := pipeline.Run(context.Background(), demo(t), st, stages(t, keep, `{"min_turn_chars": 5}`), pipeline.Options{Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	if p.Done != int64(kept) || p.Skipped != 80-int64(kept) {
		t.Fatalf("after a values change: %+v (want %d redone)", p, kept)
	}
	// Without the filter, every conversation reaches the values stage.
	if _, err := pipeline.Run(context.Background(), demo(t), st, stages(t, nil, `{"min_turn_chars": 5}`), pipeline.Options{Log: quiet}); err != nil {
		t.Fatal(err)
	}
	values = count(t, snapshot(t, st).Results(), isValues)
	if values != 80 {
		t.Fatalf("%d conversations reached the values stage without the filter", values)
	}
}

func TestSample(t *testing.T) {
	run := func(seed int64) []string {
		st := openStore(t)
		p, err := pipeline.Run(context.Background(), demo(t), st, stages(t, nil, ""), pipeline.Options{Log: quiet, Sample: 10, Seed: seed})
		if err != nil || p.Conversations != 10 {
			t.Fatalf("%+v %v", p, err)
		}
		var ids []string
		for c, err := range snapshot(t, st).Conversations().All() {
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, c.ID)
		}
		return ids
	}
	a, b, c := run(1), run(1), run(2)
	if !reflect.DeepEqual(a, b) || reflect.DeepEqual(a, c) {
		t.Fatalf("samples: seed 1 %v, again %v, seed 2 %v", a, b, c)
	}
	_ = fmt.Sprint
}

// A namer names taxonomy clusters, not conversations: a run refuses it as a
// stage.
func TestNamerStageRefused(t *testing.T) {
	p, _, err := plugin.Load(context.Background(), "builtin:contrastive-namer", plugin.Options{Log: quiet, Instances: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	_, err = pipeline.Run(context.Background(), demo(t), openStore(t), []pipeline.Stage{{Name: "names", Plugin: p}}, pipeline.Options{Log: quiet})
	if err == nil || !strings.Contains(err.Error(), "stage names: plugin contrastive-namer is a namer") {
		t.Fatalf("%v", err)
	}
}
