package conformance

import (
	"context"
	"encoding/json"
	"hash/fnv"
	"strings"

	"github.com/valuescope/valuescope/host/plugin"
	"github.com/valuescope/valuescope/internal/jsonschema"
	"github.com/valuescope/valuescope/sdk/protocol"
)

// The kit stands in for the host's models: answers are a pure function of
// the call (and, for the repair scenario, of the round), so that a
// deterministic plugin gives the same output whatever the order or the
// parallelism of the calls.

// modelScenario is one way of answering every model call.
type modelScenario struct {
	name string
	// answer answers one call made in round (0 = the plugin's first calls).
	answer func(round int, c protocol.ModelCall) protocol.ModelResponse
}

// goodAnswer is a well-formed answer: an instance of the call's JSON schema
// when it gives one, else a value name; for embeddings, a unit-ish vector
// per message.
func goodAnswer(c protocol.ModelCall) protocol.ModelResponse {
	if c.Kind == "embed" {
		r := protocol.ModelResponse{ID: c.ID, StopReason: "end_turn"}
		for _, m := range c.Messages {
			r.Embeddings = append(r.Embeddings, protocol.Embedding{Vector: vector(m.Content, 8)})
		}
		return r
	}
	text := "honesty"
	if c.SchemaJSON != "" {
		var schema any
		if json.Unmarshal([]byte(c.SchemaJSON), &schema) == nil {
			if b, err := json.Marshal(jsonschema.Example(schema, "honesty")); err == nil {
				text = string(b)
			}
		}
	}
	return protocol.ModelResponse{ID: c.ID, Text: text, StopReason: "end_turn"}
}

func vector(s string, dim int) []float32 {
	h := fnv.New64a()
	h.Write([]byte(s))
	x := h.Sum64()
	v := make([]float32, dim)
	for i := range v {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		v[i] = float32(x%2000)/1000 - 1
	}
	return v
}

// modelScenarios are the answers the models check gives: each malformed in
// its own way. A conformant plugin ends every conversation in annotations or
// an error (its own), within the host's rounds.
var modelScenarios = []modelScenario{
	{"unparseable text", func(_ int, c protocol.ModelCall) protocol.ModelResponse {
		if c.Kind == "embed" {
			return protocol.ModelResponse{ID: c.ID}
		}
		return protocol.ModelResponse{ID: c.ID, Text: "Sure! The values here are: honesty, {kindness", StopReason: "end_turn"}
	}},
	{"empty answer", func(_ int, c protocol.ModelCall) protocol.ModelResponse {
		return protocol.ModelResponse{ID: c.ID, StopReason: "end_turn"}
	}},
	{"truncated answer", func(_ int, c protocol.ModelCall) protocol.ModelResponse {
		r := goodAnswer(c)
		r.Text = r.Text[:len(r.Text)/2]
		if len(r.Embeddings) > 0 {
			r.Embeddings = r.Embeddings[:len(r.Embeddings)/2]
		}
		r.StopReason = "max_tokens"
		return r
	}},
	{"wrong JSON shape", func(_ int, c protocol.ModelCall) protocol.ModelResponse {
		if c.Kind == "embed" {
			return protocol.ModelResponse{ID: c.ID, Embeddings: []protocol.Embedding{{Vector: []float32{1}}, {}, {Vector: []float32{1, 2, 3}}}}
		}
		return protocol.ModelResponse{ID: c.ID, Text: `{"unexpected": [1, "two", null], "values": 42}`, StopReason: "end_turn"}
	}},
	{"failed call", func(_ int, c protocol.ModelCall) protocol.ModelResponse {
		return protocol.ModelResponse{ID: c.ID, Error: "the model call failed after 5 retries: 529 overloaded"}
	}},
	{"malformed, then good (repair round)", func(round int, c protocol.ModelCall) protocol.ModelResponse {
		if round == 0 {
			return protocol.ModelResponse{ID: c.ID, Text: "I'm not sure what you mean.", StopReason: "end_turn"}
		}
		return goodAnswer(c)
	}},
}

// goodModels answers well-formed: Options.Models when given, else the kit's
// stand-in.
func goodModels(custom plugin.ModelCaller) func(ctx context.Context, round int, calls []protocol.ModelCall) ([]protocol.ModelResponse, error) {
	if custom != nil {
		return func(ctx context.Context, _ int, calls []protocol.ModelCall) ([]protocol.ModelResponse, error) {
			return custom.Call(ctx, calls)
		}
	}
	return scenarioModels(modelScenario{"good", func(_ int, c protocol.ModelCall) protocol.ModelResponse { return goodAnswer(c) }})
}

func scenarioModels(s modelScenario) func(ctx context.Context, round int, calls []protocol.ModelCall) ([]protocol.ModelResponse, error) {
	return func(_ context.Context, round int, calls []protocol.ModelCall) ([]protocol.ModelResponse, error) {
		out := make([]protocol.ModelResponse, len(calls))
		for i, c := range calls {
			out[i] = s.answer(round, c)
		}
		return out, nil
	}
}

// AnswersModels is a plugin.ModelCaller answering each call with one of
// answers, chosen by a hash of the call: deterministic whatever the order of
// calls. The CLI's --model-answer uses it.
type AnswersModels []string

func (a AnswersModels) Call(_ context.Context, calls []protocol.ModelCall) ([]protocol.ModelResponse, error) {
	out := make([]protocol.ModelResponse, len(calls))
	for i, c := range calls {
		if c.Kind == "embed" || len(a) == 0 {
			out[i] = goodAnswer(c)
			continue
		}
		b, _ := json.Marshal(c)
		h := fnv.New32a()
		h.Write(b)
		out[i] = protocol.ModelResponse{ID: c.ID, Text: a[int(h.Sum32()%uint32(len(a)))], StopReason: "end_turn"}
	}
	return out, nil
}

// checkCalls checks the model calls of one round against the protocol and
// the manifest's needs; it returns the first problem.
func checkCalls(m protocol.Manifest, calls []protocol.ModelCall) string {
	ids := map[string]bool{}
	needs := func(n string) bool {
		for _, x := range m.Needs {
			if x == n {
				return true
			}
		}
		return false
	}
	for i, c := range calls {
		switch {
		case c.ID == "":
			return "model call " + itoa(i) + " has no id: answers are matched to calls by id"
		case ids[c.ID]:
			return "two model calls share the id " + quote(c.ID) + ": answers are matched to calls by id"
		case c.Kind != "" && c.Kind != "embed":
			return "model call " + quote(c.ID) + " has kind " + quote(c.Kind) + `; want "" (chat) or "embed"`
		case c.Kind == "" && !needs(protocol.NeedModel):
			return "asks for a chat model call (" + quote(c.ID) + `), but the manifest's needs do not list "model"`
		case c.Kind == "embed" && !needs(protocol.NeedEmbeddings):
			return "asks for embeddings (" + quote(c.ID) + `), but the manifest's needs do not list "embeddings"`
		case len(c.Messages) == 0:
			return "model call " + quote(c.ID) + " has no messages"
		}
		for _, msg := range c.Messages {
			if msg.Role != "user" && msg.Role != "assistant" {
				return "model call " + quote(c.ID) + " has a message with role " + quote(msg.Role) + `; want "user" or "assistant" (put instructions in system)`
			}
		}
		if c.SchemaJSON != "" && !json.Valid([]byte(c.SchemaJSON)) {
			return "model call " + quote(c.ID) + " has a schema_json that is not JSON: " + quote(truncate(c.SchemaJSON, 60))
		}
		ids[c.ID] = true
	}
	return ""
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "..."
}
