//go:build wasip1

// Command badnames is a broken plugin of the conformance gallery: an
// extractor that names its item with the assistant's first sentence as it
// stands ("Honesty matters, and so does kindness.") instead of a short
// normalised value name ("honesty"). It fails the outputs check.
package main

import (
	"strings"

	"github.com/valuescope/valuescope/sdk"
	"github.com/valuescope/valuescope/sdk/protocol"
	"github.com/valuescope/valuescope/sdk/wasm"
)

func init() {
	wasm.Serve(&sdk.Func{
		Info: protocol.Manifest{Name: "bad-names", Version: "0.1.0", Kind: protocol.Extractor, Field: "ai_values"},
		Annotate: func(c *protocol.Conversation) ([]protocol.Annotation, error) {
			var items []protocol.Item
			for _, t := range c.Turns {
				if t.Role != "assistant" || strings.TrimSpace(t.Content) == "" {
					continue
				}
				sentence, _, _ := strings.Cut(t.Content, ". ")
				if len(sentence) > 80 {
					sentence = sentence[:80]
				}
				items = append(items, protocol.Item{Name: sentence})
				break
			}
			return []protocol.Annotation{{Items: items}}, nil
		},
	})
}

func main() {}
