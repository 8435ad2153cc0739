package sdk_test

import (
	"fmt"
	"strings"

	"github.com/valuescope/valuescope/sdk"
	"github.com/valuescope/valuescope/sdk/protocol"
)

// A plugin that needs no model is a Func: a manifest and a function from a
// conversation to annotations. Hand it to wasm.Serve or grpc.Serve; here it
// is called directly, as the host would.
func ExampleFunc() {
	p := &sdk.Func{
		Info: protocol.Manifest{
			Name:    "mentions-honesty",
			Version: "0.1.0",
			Kind:    protocol.Extractor,
			Field:   "ai_values",
		},
		Annotate: func(c *protocol.Conversation) ([]protocol.Annotation, error) {
			var items []protocol.Item
			for _, t := range c.Turns {
				if t.Role == "assistant" && strings.Contains(strings.ToLower(t.Content), "honest") {
					items = append(items, protocol.Item{Name: "honesty"})
					break
				}
			}
			return []protocol.Annotation{{Field: "ai_values", Items: items}}, nil
		},
	}

	fmt.Println(p.Manifest().Name, "speaks ABI", p.Manifest().ABI)
	fmt.Println(p.Configure(protocol.ConfigureRequest{ConfigJSON: `{"typo": 1}`}))
	resp := p.Process(&protocol.ProcessRequest{Conversation: &protocol.Conversation{
		ID:    "c1",
		Turns: []protocol.Turn{{Role: "user", Content: "Is it good?"}, {Role: "assistant", Content: "To be honest, not yet."}},
	}})
	fmt.Println(resp.Annotations[0].Items[0].Name)
	// Output:
	// mentions-honesty speaks ABI 1
	// config: json: unknown field "typo"
	// honesty
}

// A plugin that asks a model is Rounds: Ask returns the model calls, the host
// makes them, and Answer reads the responses (or asks again).
func ExampleRounds() {
	p := &sdk.Rounds{
		Info: protocol.Manifest{Name: "sentiment", Kind: protocol.Classifier, Field: "sentiment",
			Labels: []string{"positive", "negative"}, Needs: []string{protocol.NeedModel}},
		Ask: func(c *protocol.Conversation) ([]protocol.ModelCall, string, error) {
			call := protocol.ModelCall{ID: "q", Messages: []protocol.Message{{Role: "user",
				Content: "positive or negative? " + c.Turns[len(c.Turns)-1].Content}}}
			return []protocol.ModelCall{call}, "", nil
		},
		Answer: func(c *protocol.Conversation, round uint32, rs []protocol.ModelResponse, state string) sdk.Result {
			label := strings.TrimSpace(rs[0].Text)
			if label != "positive" && label != "negative" {
				return sdk.Result{Err: fmt.Errorf("unexpected answer %q", label)}
			}
			return sdk.Result{Annotations: []protocol.Annotation{{Field: "sentiment", Label: label}}}
		},
	}

	conv := &protocol.Conversation{ID: "c1", Turns: []protocol.Turn{{Role: "assistant", Content: "Great question!"}}}
	first := p.Process(&protocol.ProcessRequest{Conversation: conv})
	fmt.Println(len(first.ModelCalls), "call:", first.ModelCalls[0].Messages[0].Content)
	// The host makes the call and sends the answer back in round 1.
	done := p.Process(&protocol.ProcessRequest{Conversation: conv, Round: 1,
		ModelResponses: []protocol.ModelResponse{{ID: "q", Text: "positive"}}})
	fmt.Println(done.Annotations[0].Label)
	// Output:
	// 1 call: positive or negative? Great question!
	// positive
}
