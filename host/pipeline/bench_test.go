package pipeline_test

import (
	"context"
	"io"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	"github.com/valuescope/valuescope/host/dataset"
	"github.com/valuescope/valuescope/host/pipeline"
	"github.com/valuescope/valuescope/host/plugin"
	"github.com/valuescope/valuescope/host/store"
	"github.com/valuescope/valuescope/internal/shareddata"
	"github.com/valuescope/valuescope/sdk/protocol"
)

// BenchmarkPipeline measures the pipeline's own cost on the real Chatbot
// Arena file with the two built-in plugins, against baselines in the same
// run:
//
//	reader   the bare dataset reader
//	plugins  the reader feeding the plugins from as many goroutines as the
//	         pipeline has workers, results dropped (what the work costs)
//	pipeline the whole run into a fresh store
//
// The pipeline's overhead is pipeline / plugins (goal: at most 1.2).
//
//	go test -run XXX -bench Pipeline ./host/pipeline/
func BenchmarkPipeline(b *testing.B) {
	path := shareddata.Path(b, "chatbot-arena/chatbot_arena_messages.jsonl")
	open := func() (dataset.Source, error) { return dataset.Open([]string{path}, dataset.Options{}) }
	sts := stages(b, nil, "")
	report := func(b *testing.B, n int) {
		b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "conv/s")
	}
	b.Run("reader", func(b *testing.B) {
		var n int
		for b.Loop() {
			n = 0
			src, _ := open()
			for {
				if _, err := src.Next(); err == io.EOF {
					break
				}
				n++
			}
			src.Close()
		}
		report(b, n)
	})
	b.Run("plugins", func(b *testing.B) {
		var n int
		for b.Loop() {
			n = 0
			src, _ := open()
			queue := make(chan *protocol.Conversation, 64)
			var wg sync.WaitGroup
			for range runtime.GOMAXPROCS(0) {
				wg.Go(func() {
					for pc := range queue {
						for _, s := range sts {
							if _, err := plugin.Annotate(context.Background(), s.Plugin, pc, nil, 0); err != nil {
								b.Error(err)
							}
						}
					}
				})
			}
			for {
				c, err := src.Next()
				if err == io.EOF {
					break
				}
				n++
				queue <- plugin.FromConversation(c, "")
			}
			close(queue)
			wg.Wait()
			src.Close()
		}
		report(b, n)
	})
	b.Run("pipeline", func(b *testing.B) {
		var n int64
		for b.Loop() {
			st, err := store.Open(filepath.Join(b.TempDir(), "store.sqlite"))
			if err != nil {
				b.Fatal(err)
			}
			p, err := pipeline.Run(context.Background(), open, st, sts, pipeline.Options{Log: quiet})
			if err != nil {
				b.Fatal(err)
			}
			n = p.Done
			st.Close()
		}
		report(b, int(n))
	})
}
