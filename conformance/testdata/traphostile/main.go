//go:build wasip1

// Command traphostile is a broken plugin of the conformance gallery: it
// reads each conversation in a worker goroutine and assumes there is an
// assistant turn. On a conversation without one, the worker indexes past
// the end of a slice; a panic in a goroutine cannot be recovered by the SDK,
// so the module traps. Ordinary conversations all have an assistant turn.
// It fails the hostile check.
package main

import (
	"strings"

	"github.com/valuescope/valuescope/sdk"
	"github.com/valuescope/valuescope/sdk/protocol"
	"github.com/valuescope/valuescope/sdk/wasm"
)

func lastAnswer(c *protocol.Conversation) string {
	var answers []string
	for _, t := range c.Turns {
		if t.Role == "assistant" {
			answers = append(answers, t.Content)
		}
	}
	return answers[len(answers)-1] // the bug: there may be none
}

func init() {
	wasm.Serve(&sdk.Func{
		Info: protocol.Manifest{Name: "trap-hostile", Version: "0.1.0", Kind: protocol.Extractor, Field: "ai_values"},
		Annotate: func(c *protocol.Conversation) ([]protocol.Annotation, error) {
			done := make(chan string)
			go func() { done <- lastAnswer(c) }()
			var items []protocol.Item
			if strings.Contains(strings.ToLower(<-done), "honest") {
				items = append(items, protocol.Item{Name: "honesty"})
			}
			return []protocol.Annotation{{Items: items}}, nil
		},
	})
}

func main() {}
