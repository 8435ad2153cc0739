package plugin_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/valuescope/valuescope/host/plugin"
	"github.com/valuescope/valuescope/plugins/classifiers/responsetype"
	"github.com/valuescope/valuescope/plugins/extractors/cuevalues"
	"github.com/valuescope/valuescope/sdk"
	"github.com/valuescope/valuescope/sdk/protocol"
)

// BenchmarkBuiltin: the built-in plugins through the Wasm host against the
// same plugin code called natively, in the same run:
//
//	go test -run XXX -bench Builtin -benchmem ./host/plugin/
func BenchmarkBuiltin(b *testing.B) {
	for _, c := range []struct {
		ref    string
		native sdk.Plugin
	}{{"builtin:cue-values", cuevalues.New()}, {"builtin:response-type", responsetype.New()}} {
		for _, size := range []int{2 << 10, 64 << 10} {
			req := &protocol.ProcessRequest{Conversation: benchConversation(size)}
			name := fmt.Sprintf("%s/%dKB", strings.TrimPrefix(c.ref, "builtin:"), size>>10)
			b.Run(name+"/native", func(b *testing.B) {
				for b.Loop() {
					if r := c.native.Process(req); r.Error != "" {
						b.Fatal(r.Error)
					}
				}
			})
			for _, d := range []struct {
				name     string
				deadline int64
			}{{"wasm", -1}, {"wasm-deadline", 10e9}} {
				p, _, err := plugin.Load(context.Background(), c.ref, plugin.Options{Log: quiet, Deadline: time.Duration(d.deadline)})
				if err != nil {
					b.Fatal(err)
				}
				b.Run(name+"/"+d.name, func(b *testing.B) {
					for b.Loop() {
						if _, err := p.Process(context.Background(), req); err != nil {
							b.Fatal(err)
						}
					}
				})
				p.Close()
			}
		}
	}
}

// benchConversation is advice-like English of about size bytes, with cues
// for the built-in plugins to find.
func benchConversation(size int) *protocol.Conversation {
	user := "My sister keeps asking me to lend her money and I don't know how to say no without hurting her. What should I do? "
	asst := "That sounds really hard, and it's clear you care about her. To be honest, setting healthy boundaries is not unkind. " +
		"It's ultimately your decision, but you might explain your own budget calmly, offer help in other ways, and consider talking to a financial counselor. "
	c := &protocol.Conversation{ID: fmt.Sprintf("bench-%d", size)}
	n := 0
	for i := 0; n < size; i++ {
		t := protocol.Turn{Role: "user", Content: user}
		if i%2 == 1 {
			t = protocol.Turn{Role: "assistant", Content: strings.Repeat(asst, 3)}
		}
		c.Turns = append(c.Turns, t)
		n += len(t.Content)
	}
	return c
}

// BenchmarkBuiltinStart: loading a built-in (compile from the warm
// compilation cache, instantiate, describe, configure), as a run does per
// stage; every built-in shares one module, so an instance carries every
// built-in's code and runs every one's package initialisers.
func BenchmarkBuiltinStart(b *testing.B) {
	for _, ref := range []string{"builtin:cue-values", "builtin:values"} {
		p, _, err := plugin.Load(context.Background(), ref, plugin.Options{Log: quiet, Instances: 1})
		if err != nil {
			b.Fatal(err)
		}
		p.Close() // warms the compilation cache
		b.Run(strings.TrimPrefix(ref, "builtin:"), func(b *testing.B) {
			for b.Loop() {
				p, _, err := plugin.Load(context.Background(), ref, plugin.Options{Log: quiet, Instances: 1})
				if err != nil {
					b.Fatal(err)
				}
				p.Close()
			}
		})
	}
}
