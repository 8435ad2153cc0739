package store

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// Two shards' stores merged hold what one store written with both would:
// the same results and annotations, every record set aside and model answer
// once; a store overlapping what is merged already is refused whole.
func TestMerge(t *testing.T) {
	dir := t.TempDir()
	one := open(t, filepath.Join(dir, "one.sqlite"))
	setStages(t, one, "values=1")
	var shards [2]string
	for i := range shards {
		shards[i] = filepath.Join(dir, fmt.Sprintf("shard%d.sqlite", i))
		st := open(t, shards[i])
		setStages(t, st, "values=1")
		for seq := int64(1 + i); seq <= 10; seq += 2 {
			r := Result{Conv: conv(seq), Stage: "values", Items: items(int(seq))}
			if seq == 5 {
				r = Result{Conv: conv(seq), Stage: "values", Err: "model down"}
			}
			write(t, st, r)
			write(t, one, r)
		}
		for _, s := range []*Store{st, one} {
			if err := s.AddBadRecords(ctx, []BadRecord{{File: "data.jsonl", Record: 3, Line: 3, Reason: "not JSON"}}); err != nil {
				t.Fatal(err)
			}
			if err := s.CacheModelResponses(ctx, []ModelCacheEntry{{Key: "shared", Response: []byte("a")}, {Key: fmt.Sprint("k", i), Response: []byte("b")}}); err != nil {
				t.Fatal(err)
			}
		}
		if i == 1 {
			if err := st.AddModelBatch(ctx, ModelBatch{ID: "b1", Endpoint: "e", Keys: []string{"k9"}}); err != nil {
				t.Fatal(err)
			}
			if n, err := st.RejectModelResponses(ctx, []ModelRejection{{Key: "k1", Response: []byte("b"), Stage: "values", Conversation: "c2", Reason: "did not parse"}}); err != nil || n != 1 {
				t.Fatalf("reject: %d %v", n, err)
			}
			if _, err := st.StartReask(ctx, "values", nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	merged := open(t, filepath.Join(dir, "merged.sqlite"))
	setStages(t, merged, "values=1")
	var total MergeCounts
	for _, p := range shards {
		n, err := merged.Merge(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		total.Conversations += n.Conversations
		total.Annotations += n.Annotations
		total.BadRecords += n.BadRecords
		total.ModelAnswers += n.ModelAnswers
	}
	if total != (MergeCounts{Conversations: 10, Annotations: 50, BadRecords: 1, ModelAnswers: 2}) {
		t.Fatalf("copied %+v", total)
	}
	if got, want := pairs(t, merged), pairs(t, one); !slices.Equal(got, want) {
		t.Fatalf("results %v, want %v", got, want)
	}
	annotations := func(st *Store) []string {
		var out []string
		for a := range snap(t, st).Annotations().All() {
			out = append(out, fmt.Sprint(a))
		}
		return out
	}
	if got, want := annotations(merged), annotations(one); len(got) != 50 || !slices.Equal(got, want) {
		t.Fatalf("annotations differ: %d rows, want %d", len(got), len(want))
	}
	mc, _ := merged.Count(ctx)
	oc, _ := one.Count(ctx)
	if fmt.Sprint(mc) != fmt.Sprint(oc) {
		t.Fatalf("counts %+v, want %+v", mc, oc)
	}
	if n, _ := merged.ModelCacheSize(ctx); n != 2 {
		t.Fatalf("%d model answers, want 2 (shard 1 rejected its k1)", n)
	}
	if r, ok, err := merged.ModelRejected(ctx, "k1"); err != nil || !ok || r.Reason != "did not parse" {
		t.Fatalf("the rejection of k1: %+v %v %v", r, ok, err)
	}
	if rs, err := merged.Reasks(ctx); err != nil || len(rs) != 1 || rs[0] != "values" {
		t.Fatalf("the reask under way: %v %v", rs, err)
	}
	if b, err := merged.ModelBatches(ctx, "e"); err != nil || len(b) != 1 || b[0].ID != "b1" {
		t.Fatalf("batches in flight: %v %v", b, err)
	}

	// The same shard again: every conversation is already there.
	before, _ := merged.Count(ctx)
	_, err := merged.Merge(ctx, shards[0])
	if err == nil || !strings.Contains(err.Error(), "conversation c1 of data.jsonl (position 1) is already in the merged store") {
		t.Fatalf("overlap: %v", err)
	}
	// One overlapping conversation among new ones: nothing is copied.
	other := open(t, filepath.Join(dir, "other.sqlite"))
	write(t, other, Result{Conv: conv(11), Stage: "values"}, Result{Conv: Conversation{Seq: 12, ID: "c4", Source: "data.jsonl", ContentSHA: "x", MetaJSON: "{}"}, Stage: "values"})
	if _, err := merged.Merge(ctx, filepath.Join(dir, "other.sqlite")); err == nil || !strings.Contains(err.Error(), "conversation c4") {
		t.Fatalf("overlap by id: %v", err)
	}
	if after, _ := merged.Count(ctx); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatalf("a refused merge changed the store: %+v, was %+v", after, before)
	}
	// Not a store at all.
	if _, err := merged.Merge(ctx, filepath.Join(dir, "missing.sqlite")); err == nil {
		t.Fatal("merged a missing store")
	}
}

// BenchmarkMerge measures merging a shard's store into the merged one
// against its baseline, the run writing the same results (Write, in the
// batches the pipeline uses): a merge must cost little next to the runs it
// joins. One op is one shard of 10,000 conversations with 5 annotations
// each:
//
//	go test ./host/store -run '^$' -bench Merge -benchtime 3x
func BenchmarkMerge(b *testing.B) {
	const convs, perConv, batch = 10_000, 5, 256
	results := make([]Result, convs)
	for i := range results {
		results[i] = Result{Conv: conv(int64(i + 1)), Stage: "values", Items: items(perConv)}
		results[i].Conv.ID = fmt.Sprint("c", i+1)
	}
	writeAll := func(st *Store) {
		for i := 0; i < len(results); i += batch {
			if err := st.Write(ctx, results[i:min(i+batch, len(results))]); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("write", func(b *testing.B) {
		for range b.N {
			st, _ := newStore(b)
			setStages(b, st, "values=1")
			writeAll(st)
		}
	})
	shard, path := newStore(b)
	setStages(b, shard, "values=1")
	writeAll(shard)
	shard.Close()
	b.Run("merge", func(b *testing.B) {
		for range b.N {
			st, _ := newStore(b)
			setStages(b, st, "values=1")
			if _, err := st.Merge(ctx, path); err != nil {
				b.Fatal(err)
			}
		}
	})
}
