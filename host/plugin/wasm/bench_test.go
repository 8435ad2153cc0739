package wasm_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/valuescope/valuescope/host/plugin/wasm"
	"github.com/valuescope/valuescope/internal/testplugins"
	"github.com/valuescope/valuescope/sdk/protocol"
)

// Benchmarks of the Wasm backend, each against native Go doing the same work
// in the same run (compare the sub-benchmarks' ns/op):
//
//	go test -run XXX -bench . -benchmem ./host/plugin/wasm/
//
// The plugin is the echo test plugin (one item per turn: the role and its
// word count); the native baseline runs the same logic as a Go call.

// conversationOf builds a conversation of about size bytes of English text.
func conversationOf(size int) *protocol.Conversation {
	const para = "I want to be honest with you: the decision is yours, but it may help to talk to someone you trust first. "
	c := &protocol.Conversation{ID: fmt.Sprintf("bench-%d", size)}
	for i := 0; c.Turns == nil || totalBytes(c) < size; i++ {
		role := "user"
		if i%2 == 1 {
			role = "assistant"
		}
		c.Turns = append(c.Turns, protocol.Turn{Role: role, Content: strings.Repeat(para, 5)})
	}
	return c
}

func totalBytes(c *protocol.Conversation) int {
	n := 0
	for _, t := range c.Turns {
		n += len(t.Content)
	}
	return n
}

// nativeEcho is the echo plugin's logic as a plain Go call.
func nativeEcho(req *protocol.ProcessRequest) *protocol.ProcessResponse {
	var items []protocol.Item
	for _, t := range req.Conversation.Turns {
		items = append(items, protocol.Item{Name: fmt.Sprintf("%s %d", t.Role, len(strings.Fields(t.Content)))})
	}
	return &protocol.ProcessResponse{Annotations: []protocol.Annotation{{Items: items}}}
}

func benchLoad(b *testing.B, opts wasm.Options) *wasm.Plugin {
	b.Helper()
	opts.Log = quiet
	if opts.CacheDir == "" {
		opts.CacheDir = filepath.Join(os.TempDir(), "valuescope-test-wazero")
	}
	p, err := wasm.Load(context.Background(), testplugins.Wasm(b, "echo", ""), opts)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { p.Close() })
	return p
}

func BenchmarkRoundTrip(b *testing.B) {
	ctx := context.Background()
	for _, size := range []int{2 << 10, 64 << 10} {
		req := &protocol.ProcessRequest{Conversation: conversationOf(size)}
		name := fmt.Sprintf("%dKB", size>>10)
		b.Run(name+"/native", func(b *testing.B) {
			for b.Loop() {
				nativeEcho(req)
			}
		})
		for _, d := range []struct {
			name string
			opts wasm.Options
		}{{"wasm", wasm.Options{}}, {"wasm-no-deadline", wasm.Options{Deadline: -1}}} {
			p := benchLoad(b, d.opts)
			b.Run(name+"/"+d.name, func(b *testing.B) {
				for b.Loop() {
					if _, err := p.Process(ctx, req); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkThroughput: conversations/s with one instance per core.
func BenchmarkThroughput(b *testing.B) {
	req := &protocol.ProcessRequest{Conversation: conversationOf(2 << 10)}
	b.Run("native", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				nativeEcho(req)
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "conv/s")
	})
	p := benchLoad(b, wasm.Options{Instances: runtime.GOMAXPROCS(0)})
	b.Run("wasm", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := p.Process(context.Background(), req); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "conv/s")
	})
}

// BenchmarkStart: loading a plugin (compile, instantiate, describe,
// configure) with a cold compilation cache and a warm one, and starting one
// more instance; memory per instance from the heap.
func BenchmarkStart(b *testing.B) {
	mod := testplugins.Wasm(b, "echo", "")
	b.Run("load-cold-cache", func(b *testing.B) {
		for b.Loop() {
			p, err := wasm.Load(context.Background(), mod, wasm.Options{CacheDir: b.TempDir(), Log: quiet})
			if err != nil {
				b.Fatal(err)
			}
			p.Close()
		}
	})
	warm := b.TempDir()
	p, _ := wasm.Load(context.Background(), mod, wasm.Options{CacheDir: warm, Log: quiet})
	p.Close()
	b.Run("load-warm-cache", func(b *testing.B) {
		for b.Loop() {
			p, err := wasm.Load(context.Background(), mod, wasm.Options{CacheDir: warm, Log: quiet})
			if err != nil {
				b.Fatal(err)
			}
			p.Close()
		}
	})
	b.Run("instances", func(b *testing.B) {
		const n = 8
		req := &protocol.ProcessRequest{Conversation: conversationOf(2 << 10)}
		var perInstance float64
		for b.Loop() {
			p, err := wasm.Load(context.Background(), mod, wasm.Options{CacheDir: warm, Log: quiet, Instances: n})
			if err != nil {
				b.Fatal(err)
			}
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			// n concurrent calls make the pool start n instances.
			var wg sync.WaitGroup
			start := make(chan struct{})
			for range n {
				wg.Go(func() { <-start; p.Process(context.Background(), req) })
			}
			close(start)
			wg.Wait()
			runtime.GC()
			runtime.ReadMemStats(&after)
			perInstance = float64(after.HeapInuse+after.StackInuse+after.OtherSys-before.HeapInuse-before.StackInuse-before.OtherSys) / (n - 1)
			p.Close()
		}
		b.ReportMetric(perInstance/(1<<20), "MiB/instance")
	})
}
