package model

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"

	"github.com/valuescope/valuescope/host/model/provider"
	"github.com/valuescope/valuescope/sdk/protocol"
)

// Caller is the Client seen from one stage; it implements plugin.ModelCaller.
type Caller struct {
	c     *Client
	stage string
	ep    *endpoint
	conv  string
}

// ForStage is the caller for a stage whose model is the named one.
func (c *Client) ForStage(stage, model string) (*Caller, error) {
	ep, ok := c.models[model]
	if !ok {
		return nil, fmt.Errorf("stage %s: unknown model %q (defined: %s)", stage, model, c.names())
	}
	return &Caller{c: c, stage: stage, ep: ep}, nil
}

func (c *Client) names() string {
	var n []string
	for _, ep := range c.sorted() {
		n = append(n, ep.name)
	}
	if len(n) == 0 {
		return "none"
	}
	return strings.Join(n, ", ")
}

// ForConversation is the same caller with the conversation its errors name
// (a small copy; one per conversation is cheap). Without it, the
// conversation comes from the context (WithConversation).
func (k *Caller) ForConversation(id string) *Caller {
	cp := *k
	cp.conv = id
	return &cp
}

type convKey struct{}

// WithConversation marks ctx as working on a conversation: model errors
// name it. (plugin.ModelCaller.Call has no conversation argument; the
// pipeline sets this on the context it passes to plugin.Annotate.)
func WithConversation(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, convKey{}, id)
}

// Conversation is the id WithConversation put in ctx ("" if none).
func Conversation(ctx context.Context) string {
	id, _ := ctx.Value(convKey{}).(string)
	return id
}

// Call performs one round's calls, concurrently, and returns their answers
// in order. See the package documentation for what is an answer's Error
// and what is Call's error (then a *CallError, the first in call order).
func (k *Caller) Call(ctx context.Context, calls []protocol.ModelCall) ([]protocol.ModelResponse, error) {
	conv := k.conv
	if conv == "" {
		conv = Conversation(ctx)
	}
	out := make([]protocol.ModelResponse, len(calls))
	errs := make([]error, len(calls))
	if len(calls) == 1 {
		out[0], errs[0] = k.one(ctx, conv, &calls[0])
	} else {
		var wg sync.WaitGroup
		for i := range calls {
			wg.Go(func() { out[i], errs[i] = k.one(ctx, conv, &calls[i]) })
		}
		wg.Wait()
	}
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// one performs one call.
func (k *Caller) one(ctx context.Context, conv string, mc *protocol.ModelCall) (protocol.ModelResponse, error) {
	out := protocol.ModelResponse{ID: mc.ID}
	ep := k.ep
	if mc.Model != "" {
		if ep = k.c.models[mc.Model]; ep == nil {
			out.Error = fmt.Sprintf("unknown model %q (defined: %s)", mc.Model, k.c.names())
			return out, nil
		}
	}
	ep.use.calls.Add(1)
	req, maxTokens, err := ep.request(mc)
	if err != nil {
		ep.use.failures.Add(1)
		out.Error = fmt.Sprintf("model %s: %v", ep.name, err)
		return out, nil
	}
	key := Key(ep.id, ep.s.Model, mc, maxTokens)
	resp, err := k.c.answer(ctx, ep, key, req, mc.Kind, tag{stage: k.stage, conv: conv, call: mc.ID})
	if err != nil {
		if p, ok := err.(*permanent); ok {
			ep.use.failures.Add(1)
			out.Error = fmt.Sprintf("model %s: %v", ep.name, p.err)
			return out, nil
		}
		if ctx.Err() == nil {
			ep.use.failures.Add(1)
		}
		return out, &CallError{Stage: k.stage, Conversation: conv, Model: ep.name, CallID: mc.ID, Err: err}
	}
	out.Text, out.StopReason = resp.Text, resp.StopReason
	if len(resp.Embeddings) > 0 {
		out.Embeddings = make([]protocol.Embedding, len(resp.Embeddings))
		for i, v := range resp.Embeddings {
			out.Embeddings[i] = protocol.Embedding{Vector: v}
		}
	}
	return out, nil
}

// request renders a call for the provider, with the defaults applied.
func (ep *endpoint) request(mc *protocol.ModelCall) (*provider.Request, int, error) {
	maxTokens := int(mc.MaxTokens)
	if maxTokens == 0 {
		maxTokens = ep.s.MaxTokens
	}
	if math.IsNaN(mc.Temperature) || math.IsInf(mc.Temperature, 0) || mc.Temperature < 0 {
		return nil, 0, fmt.Errorf("temperature %v", mc.Temperature)
	}
	req := &provider.Request{Model: ep.s.Model, System: mc.System, MaxTokens: maxTokens, Temperature: mc.Temperature}
	switch mc.Kind {
	case "":
		if len(mc.Messages) == 0 {
			return nil, 0, errors.New("a chat call needs at least one message")
		}
		for _, m := range mc.Messages {
			switch m.Role {
			case "user", "assistant", "system":
			default:
				return nil, 0, fmt.Errorf("message role %q: want user or assistant", m.Role)
			}
			req.Messages = append(req.Messages, provider.Message{Role: m.Role, Content: m.Content})
		}
		if mc.SchemaJSON != "" {
			var v map[string]any
			if err := json.Unmarshal([]byte(mc.SchemaJSON), &v); err != nil {
				return nil, 0, fmt.Errorf("schema_json is not a JSON object: %v", err)
			}
			req.Schema = json.RawMessage(mc.SchemaJSON)
		}
	case "embed":
		if len(mc.Messages) == 0 {
			return nil, 0, errors.New("an embed call needs at least one message to embed")
		}
		for _, m := range mc.Messages {
			req.Inputs = append(req.Inputs, m.Content)
		}
		maxTokens = 0
	default:
		return nil, 0, fmt.Errorf("kind %q: want \"\" (chat) or \"embed\"", mc.Kind)
	}
	return req, maxTokens, nil
}

// tag names a call in logs and errors.
type tag struct{ stage, conv, call string }

func (t tag) attrs() []any {
	var a []any
	if t.stage != "" {
		a = append(a, "stage", t.stage)
	}
	if t.conv != "" {
		a = append(a, "conversation", t.conv)
	}
	if t.call != "" {
		a = append(a, "call", t.call)
	}
	return a
}
