//go:build wasip1

// Command slow is a broken plugin of the conformance gallery: it waits, by
// spinning, for a condition that never holds, so every conversation runs
// into the host's deadline. It fails the limits check.
package main

import (
	"github.com/valuescope/valuescope/sdk"
	"github.com/valuescope/valuescope/sdk/protocol"
	"github.com/valuescope/valuescope/sdk/wasm"
)

var ready bool // set by nothing: the bug

func init() {
	wasm.Serve(&sdk.Func{
		Info: protocol.Manifest{Name: "slow", Version: "0.1.0", Kind: protocol.Extractor, Field: "ai_values"},
		Annotate: func(c *protocol.Conversation) ([]protocol.Annotation, error) {
			spins := 0
			for !ready && spins >= 0 {
				spins++
			}
			return []protocol.Annotation{{Items: []protocol.Item{{Name: "patience"}}}}, nil
		},
	})
}

func main() {}
