//go:build wasip1

// Command nondeterministic is a broken plugin of the conformance gallery: a
// keyword extractor that collects the assistant's long words in a Go map and
// lists them in the map's iteration order, which Go randomises on every
// range. The same conversation gives its items in another order each time.
// It fails the determinism check.
package main

import (
	"strings"

	"github.com/valuescope/valuescope/sdk"
	"github.com/valuescope/valuescope/sdk/protocol"
	"github.com/valuescope/valuescope/sdk/wasm"
)

func init() {
	wasm.Serve(&sdk.Func{
		Info: protocol.Manifest{Name: "nondeterministic", Version: "0.1.0", Kind: protocol.Extractor, Field: "keywords"},
		Annotate: func(c *protocol.Conversation) ([]protocol.Annotation, error) {
			words := map[string]bool{}
			for _, t := range c.Turns {
				if t.Role != "assistant" {
					continue
				}
				for _, w := range strings.FieldsFunc(strings.ToLower(t.Content), func(r rune) bool { return r < 'a' || r > 'z' }) {
					if len(w) >= 7 && len(w) <= 20 {
						words[w] = true
					}
				}
			}
			var items []protocol.Item
			for w := range words { // the bug: map order
				items = append(items, protocol.Item{Name: w})
			}
			return []protocol.Annotation{{Items: items}}, nil
		},
	})
}

func main() {}
