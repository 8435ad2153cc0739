package store

import (
	"path/filepath"
	"strconv"
	"testing"
)

// BenchmarkLongConversation: storing one conversation's result with n items
// and reading them back (what export and the analysis read) must cost
// linearly in n: 100k items should take about 10 times 10k, not 100 times.
// A reply holds at most protocol.MaxItems items; a conversation gets n over
// it from many stages, or a store written otherwise (a merge).
//
//	go test -run XXX -bench LongConversation ./host/store/
func BenchmarkLongConversation(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		b.Run("items="+strconv.Itoa(n), func(b *testing.B) {
			anns := items(n)
			for b.Loop() {
				st, err := Open(filepath.Join(b.TempDir(), "store.sqlite"))
				if err != nil {
					b.Fatal(err)
				}
				if _, err := st.SetStages([]Stage{{Name: "a", Fingerprint: "1"}}); err != nil {
					b.Fatal(err)
				}
				if err := st.Write(ctx, []Result{{Conv: conv(1), Stage: "a", Items: anns}}); err != nil {
					b.Fatal(err)
				}
				sn, err := st.Snapshot(ctx)
				if err != nil {
					b.Fatal(err)
				}
				got := 0
				for _, err := range sn.Annotations().All() {
					if err != nil {
						b.Fatal(err)
					}
					got++
				}
				sn.Close()
				st.Close()
				if got != n {
					b.Fatalf("read %d of %d", got, n)
				}
			}
		})
	}
}
