package report_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/valuescope/valuescope/host/analysis/analysistest"
	"github.com/valuescope/valuescope/host/report"
)

// BenchmarkOneLongConversation: a report of a run with one conversation of
// n distinct items among a few ordinary ones, alone and compared with a copy
// of itself. The cost must grow with n, not
// n²: 100k items in one conversation took 178 s while each value was
// searched for among the conversation's others; the 100k case should take
// about 100 times the 1k case, not 10,000 times.
//
//	go test -run XXX -bench OneLongConversation -benchtime 3x ./host/report/
func BenchmarkOneLongConversation(b *testing.B) {
	for _, c := range []struct {
		n       int
		compare bool
	}{{1_000, false}, {100_000, false}, {1_000, true}, {100_000, true}} {
		name := "items=" + strconv.Itoa(c.n)
		if c.compare {
			name += "/compared"
		}
		b.Run(name, func(b *testing.B) {
			n := c.n
			dir := b.TempDir()
			long := analysistest.Conv{ID: "long", Text: "many values", Label: "supportive", Values: make([]string, n)}
			for i := range long.Values {
				long.Values[i] = "value " + strconv.Itoa(i)
			}
			convs := []analysistest.Conv{long}
			for i := range 20 {
				convs = append(convs, analysistest.Conv{ID: "c" + strconv.Itoa(i), Text: "hi", Label: "supportive", Values: []string{"honesty", "care"}})
			}
			analysistest.Write(b, dir, convs)
			opts := report.Options{Flat: true}
			if c.compare {
				other := b.TempDir()
				analysistest.Write(b, other, convs)
				opts.Compare = []string{other}
			}
			for b.Loop() {
				if _, err := report.Build(context.Background(), dir, opts); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
