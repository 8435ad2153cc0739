//go:build wasip1

// Command memhog is a broken plugin of the conformance gallery: it keeps a
// 64 MiB scratch buffer per conversation in a global cache that is never
// emptied. After a few conversations the instance runs out of its memory
// limit (256 MiB by default) and the Go runtime ends it. It fails the
// limits check.
package main

import (
	"github.com/valuescope/valuescope/sdk"
	"github.com/valuescope/valuescope/sdk/protocol"
	"github.com/valuescope/valuescope/sdk/wasm"
)

var scratch [][]byte // the bug: grows forever

func init() {
	wasm.Serve(&sdk.Func{
		Info: protocol.Manifest{Name: "memory-hog", Version: "0.1.0", Kind: protocol.Extractor, Field: "ai_values"},
		Annotate: func(c *protocol.Conversation) ([]protocol.Annotation, error) {
			buf := make([]byte, 64<<20)
			for _, t := range c.Turns {
				copy(buf, t.Content)
			}
			scratch = append(scratch, buf)
			return []protocol.Annotation{{Items: []protocol.Item{{Name: "thoroughness"}}}}, nil
		},
	})
}

func main() {}
