//go:build wasip1

// Command trapmodel is a broken plugin of the conformance gallery: it asks
// a model for the values in a conversation, as JSON, and calls log.Fatalf
// when the answer does not parse, which ends the Wasm module (a trap) where
// it should have answered an error or asked again. With well-formed answers
// it works. It fails the models check.
package main

import (
	"encoding/json"
	"log"
	"strings"

	"github.com/valuescope/valuescope/sdk"
	"github.com/valuescope/valuescope/sdk/protocol"
	"github.com/valuescope/valuescope/sdk/wasm"
)

const schema = `{"type":"object","properties":{"values":{"type":"array","items":{"type":"string"}}},"required":["values"]}`

func init() {
	wasm.Serve(&sdk.Rounds{
		Info: protocol.Manifest{Name: "trap-model", Version: "0.1.0", Kind: protocol.Extractor, Field: "ai_values",
			Needs: []string{protocol.NeedModel}},
		Ask: func(c *protocol.Conversation) ([]protocol.ModelCall, string, error) {
			var b strings.Builder
			for _, t := range c.Turns {
				b.WriteString(t.Role + ": " + t.Content + "\n")
			}
			return []protocol.ModelCall{{ID: "values", MaxTokens: 256, SchemaJSON: schema, Messages: []protocol.Message{
				{Role: "user", Content: "List the values the assistant expresses:\n" + b.String()}}}}, "", nil
		},
		Answer: func(c *protocol.Conversation, round uint32, rs []protocol.ModelResponse, state string) sdk.Result {
			var out struct{ Values []string }
			if err := json.Unmarshal([]byte(rs[0].Text), &out); err != nil {
				log.Fatalf("cannot parse the model's answer %q: %v", rs[0].Text, err) // the bug
			}
			var items []protocol.Item
			for _, v := range out.Values {
				if v = strings.ToLower(strings.TrimSpace(v)); v != "" && len(v) <= 100 {
					items = append(items, protocol.Item{Name: v})
				}
			}
			return sdk.Result{Annotations: []protocol.Annotation{{Items: items}}}
		},
	})
}

func main() {}
