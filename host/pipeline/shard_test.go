package pipeline_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/valuescope/valuescope/host/dataset"
	"github.com/valuescope/valuescope/host/pipeline"
	"github.com/valuescope/valuescope/host/store"
)

// The shards of a run, with a limit or a sample, together hold the whole
// run's conversations at the positions the whole run gives them, each in
// exactly one shard: the one its ID falls in by the split `datasets
// --shard` makes (dataset.Shard.Keep).
func TestShardsPartitionTheRun(t *testing.T) {
	for _, o := range []pipeline.Options{{Limit: 60}, {Sample: 50, Seed: 7}} {
		o.Log = quiet
		whole := openStore(t)
		if _, err := pipeline.Run(context.Background(), demo(t), whole, stages(t, nil, ""), o); err != nil {
			t.Fatal(err)
		}
		want := conversations(t, whole)
		if len(want) != max(o.Limit, o.Sample) {
			t.Fatalf("%+v: the whole run holds %d conversations", o, len(want))
		}
		var got []string
		for i := range 3 {
			o.Shard = dataset.Shard{Index: i, Count: 3}
			st := openStore(t)
			p, err := pipeline.Run(context.Background(), demo(t), st, stages(t, nil, ""), o)
			if err != nil {
				t.Fatal(err)
			}
			part := conversations(t, st)
			if p.Conversations != int64(len(part)) || len(part) == 0 || len(part) == len(want) {
				t.Fatalf("shard %s: %d conversations (progress says %d) of %d", o.Shard, len(part), p.Conversations, len(want))
			}
			for _, c := range part {
				if _, id, _ := strings.Cut(c, " "); !o.Shard.Keep(id) {
					t.Fatalf("shard %s holds %s, which is not its", o.Shard, c)
				}
			}
			got = append(got, part...)
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Fatalf("%+v: the shards hold\n%v\nthe whole run\n%v", o, got, want)
		}
	}
}

// conversations lists a store's conversations as "seq id", sorted.
func conversations(t *testing.T, st *store.Store) []string {
	t.Helper()
	var out []string
	for c, err := range snapshot(t, st).Conversations().All() {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%03d %s", c.Seq, c.ID))
	}
	slices.Sort(out)
	return out
}
