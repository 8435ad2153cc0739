package wasm_test

import (
	"context"
	"testing"

	"github.com/valuescope/valuescope/host/plugin/wasm"
	"github.com/valuescope/valuescope/internal/testplugins"
	"github.com/valuescope/valuescope/sdk/protocol"
)

// BenchmarkProtocolOnly isolates the protocol's cost from the plugin's work:
// "raw" answers a constant without reading the request (host encoding, the
// copy in, the call), "sdk-constant" decodes the request through the SDK and
// answers a constant (adds the guest's decoding and encoding).
func BenchmarkProtocolOnly(b *testing.B) {
	req := &protocol.ProcessRequest{Conversation: conversationOf(2 << 10)}
	for _, c := range []struct {
		name, plugin, config string
	}{{"raw", "raw", ""}, {"sdk-constant", "echo", `{"mode": "badlabel"}`}} {
		p, err := wasm.Load(context.Background(), testplugins.Wasm(b, c.plugin, ""), wasm.Options{Log: quiet, Deadline: -1,
			Config: protocol.ConfigureRequest{ConfigJSON: c.config}})
		if err != nil {
			b.Fatal(err)
		}
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := p.Process(context.Background(), req); err != nil {
					b.Fatal(err)
				}
			}
		})
		p.Close()
	}
}
