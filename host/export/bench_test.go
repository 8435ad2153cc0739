package export

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/valuescope/valuescope/host/store"
)

// BenchmarkWrite exports a run of 10,000 conversations with 100,000
// annotation rows (a label and 9 items each) and 5 metadata columns.
func BenchmarkWrite(b *testing.B) {
	const convs, items = 10_000, 9
	ctx := context.Background()
	st, err := store.Open(filepath.Join(b.TempDir(), "run.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	if _, err := st.SetStages([]store.Stage{{Name: "lang", Fingerprint: "a"}, {Name: "values", Fingerprint: "b"}}); err != nil {
		b.Fatal(err)
	}
	var batch []store.Result
	for i := range convs {
		c := store.Conversation{Seq: int64(i), ID: fmt.Sprintf("conv-%06d", i), Source: "data.jsonl", ContentSHA: "x",
			MetaJSON: fmt.Sprintf(`{"model":"gpt-4o","turns":%d,"toxic":%t,"language":"English","country":"France","state":{"a":1}}`, i%17, i%5 == 0)}
		anns := make([]store.Annotation, items)
		for j := range anns {
			anns[j] = store.Annotation{Field: "value", Value: fmt.Sprintf("value number %d", j),
				AttrsJSON: fmt.Sprintf(`{"evidence":"the user said something about %d, \"quoted\"","confidence":0.%d}`, j, j)}
		}
		batch = append(batch,
			store.Result{Conv: c, Stage: "lang", Items: []store.Annotation{{Field: "language", Value: "en", IsLabel: true}}},
			store.Result{Conv: c, Stage: "values", Items: anns})
		if len(batch) >= 512 || i == convs-1 {
			if err := st.Write(ctx, batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	dir := b.TempDir()
	b.ReportAllocs()
	b.ResetTimer()
	var rows int64
	for b.Loop() {
		sum, err := Write(ctx, st, dir)
		if err != nil {
			b.Fatal(err)
		}
		if sum.Annotations != convs*(items+1) {
			b.Fatalf("%d annotation rows", sum.Annotations)
		}
		rows += sum.Annotations
	}
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
}
