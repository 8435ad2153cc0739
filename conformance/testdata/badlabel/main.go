//go:build wasip1

// Command badlabel is a broken plugin of the conformance gallery: a
// classifier declaring the labels "agree" and "disagree" that answers
// "Agree", capitalised, outside its own label set. It fails the outputs
// check.
package main

import (
	"strings"

	"github.com/valuescope/valuescope/sdk"
	"github.com/valuescope/valuescope/sdk/protocol"
	"github.com/valuescope/valuescope/sdk/wasm"
)

func init() {
	wasm.Serve(&sdk.Func{
		Info: protocol.Manifest{Name: "bad-label", Version: "0.1.0", Kind: protocol.Classifier, Field: "agreement",
			Labels: []string{"agree", "disagree"}},
		Annotate: func(c *protocol.Conversation) ([]protocol.Annotation, error) {
			label := "Agree"
			for _, t := range c.Turns {
				if t.Role == "assistant" && strings.Contains(strings.ToLower(t.Content), "can't") {
					label = "disagree"
				}
			}
			return []protocol.Annotation{{Label: label}}, nil
		},
	})
}

func main() {}
