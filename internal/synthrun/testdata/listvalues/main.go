// Command listvalues is the synthetic runs' extractor: it answers, as the
// field ai_values, the values listed on the assistant turn's lines that start
// with "value: ", so that a generated run's annotations are the generator's
// draw while the run itself goes through the real pipeline (Wasm plugin,
// store, resumption).
package main

import (
	"strings"

	"github.com/valuescope/valuescope/sdk"
	"github.com/valuescope/valuescope/sdk/protocol"
	"github.com/valuescope/valuescope/sdk/wasm"
)

func annotate(c *protocol.Conversation) ([]protocol.Annotation, error) {
	var items []protocol.Item
	for _, t := range c.Turns {
		if t.Role != "assistant" {
			continue
		}
		for _, line := range strings.Split(t.Content, "\n") {
			if v, ok := strings.CutPrefix(line, "value: "); ok {
				items = append(items, protocol.Item{Name: v})
			}
		}
	}
	return []protocol.Annotation{{Items: items}}, nil
}

func init() {
	wasm.Serve(&sdk.Func{
		Info:     protocol.Manifest{Name: "listvalues", Version: "0.1.0", Kind: protocol.Extractor, Field: "ai_values"},
		Annotate: annotate,
	})
}

func main() {}
