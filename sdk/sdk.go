// Package sdk is what a plugin author in Go imports. A plugin implements
// Plugin — most simply through Func (one pass, no model) or Rounds (asks a
// model, reads the answers) — and hands it to sdk/wasm (compiled to a
// WebAssembly module) or sdk/grpc (run as a subprocess). The same plugin code
// serves both; the encoding of messages and the rounds of model calls are the
// SDK's business, not the author's.
//
// A plugin is a pure function of (conversation, configuration, model
// responses): no files, network, clock or randomness. That is what lets the
// host cache and replay every model call, run many conversations through few
// instances, and certify a plugin with the conformance kit.
package sdk

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/valuescope/valuescope/sdk/protocol"
)

// Plugin is protocol v1 from the plugin's side.
type Plugin interface {
	// Manifest describes the plugin. ABI is filled in by the SDK when zero.
	Manifest() protocol.Manifest
	// Configure receives the plugin's config table and prompt before any
	// conversation. An error refuses the configuration; the run does not start.
	Configure(req protocol.ConfigureRequest) error
	// Process handles one round for one conversation. Errors go in the
	// response's Error field; a panic is turned into one by the SDK.
	Process(req *protocol.ProcessRequest) *protocol.ProcessResponse
}

// Func is a plugin that needs no model: one call, annotations out.
type Func struct {
	Info protocol.Manifest
	// Config, if set, receives the configuration; nil accepts only an empty
	// config table.
	Config func(req protocol.ConfigureRequest) error
	// Annotate reads a conversation.
	Annotate func(c *protocol.Conversation) ([]protocol.Annotation, error)
}

// Manifest returns Info, with ABI filled in when zero.
func (f *Func) Manifest() protocol.Manifest { return withABI(f.Info) }

// Configure calls Config, or without it accepts only an empty config table.
func (f *Func) Configure(req protocol.ConfigureRequest) error {
	if f.Config != nil {
		return f.Config(req)
	}
	return DecodeConfig(req, &struct{}{})
}

// Process calls Annotate on the request's conversation, in one round.
func (f *Func) Process(req *protocol.ProcessRequest) *protocol.ProcessResponse {
	return Guard(func() *protocol.ProcessResponse {
		if req.Conversation == nil {
			return &protocol.ProcessResponse{Error: "request has no conversation"}
		}
		anns, err := f.Annotate(req.Conversation)
		if err != nil {
			return &protocol.ProcessResponse{Error: err.Error()}
		}
		return &protocol.ProcessResponse{Annotations: anns}
	})
}

// Rounds is a plugin that asks a model. Ask makes the first round's calls;
// Answer reads the responses and either finishes (annotations) or asks again
// (a repair round when an answer did not parse, say). State carries what the
// plugin wants to remember between rounds; the host hands it back unchanged.
type Rounds struct {
	Info   protocol.Manifest
	Config func(req protocol.ConfigureRequest) error
	Ask    func(c *protocol.Conversation) (calls []protocol.ModelCall, state string, err error)
	Answer func(c *protocol.Conversation, round uint32, responses []protocol.ModelResponse, state string) Result
	// MaxRounds bounds the rounds (default 3): past it the conversation fails.
	MaxRounds uint32
}

// Result is what Answer decides: annotations (done), more calls, or an error.
type Result struct {
	Annotations []protocol.Annotation
	Calls       []protocol.ModelCall
	State       string
	Err         error
}

// Manifest returns Info, with ABI filled in when zero.
func (r *Rounds) Manifest() protocol.Manifest { return withABI(r.Info) }

// Configure calls Config, or without it accepts only an empty config table.
func (r *Rounds) Configure(req protocol.ConfigureRequest) error {
	if r.Config != nil {
		return r.Config(req)
	}
	return DecodeConfig(req, &struct{}{})
}

// Process calls Ask in round 0 and Answer in later rounds, failing the
// conversation when Answer still asks for calls after MaxRounds.
func (r *Rounds) Process(req *protocol.ProcessRequest) *protocol.ProcessResponse {
	return Guard(func() *protocol.ProcessResponse {
		c := req.Conversation
		if c == nil {
			return &protocol.ProcessResponse{Error: "request has no conversation"}
		}
		if req.Round == 0 {
			calls, state, err := r.Ask(c)
			if err != nil {
				return &protocol.ProcessResponse{Error: err.Error()}
			}
			return &protocol.ProcessResponse{ModelCalls: calls, State: state}
		}
		max := r.MaxRounds
		if max == 0 {
			max = 3
		}
		res := r.Answer(c, req.Round, req.ModelResponses, req.State)
		switch {
		case res.Err != nil:
			return &protocol.ProcessResponse{Error: res.Err.Error()}
		case len(res.Calls) > 0 && req.Round >= max:
			return &protocol.ProcessResponse{Error: fmt.Sprintf("no usable answer after %d rounds", req.Round)}
		case len(res.Calls) > 0:
			return &protocol.ProcessResponse{ModelCalls: res.Calls, State: res.State}
		}
		return &protocol.ProcessResponse{Annotations: res.Annotations}
	})
}

// Guard runs f, turning a panic into an error response: a bug in one
// conversation's handling must not take the plugin down. An error message
// over protocol.MaxErrorBytes is cut to fit, so that the host reports the
// plugin's error rather than a protocol violation.
func Guard(f func() *protocol.ProcessResponse) (resp *protocol.ProcessResponse) {
	defer func() {
		if p := recover(); p != nil {
			resp = &protocol.ProcessResponse{Error: fmt.Sprintf("plugin panicked: %v", p)}
		}
		if resp != nil && len(resp.Error) > protocol.MaxErrorBytes {
			resp.Error = clip(resp.Error, protocol.MaxErrorBytes)
		}
	}()
	return f()
}

// clip cuts s to at most n bytes at a character boundary, ending it with
// "…" (which the n bytes include).
func clip(s string, n int) string {
	const ellipsis = "…"
	cut := n - len(ellipsis)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + ellipsis
}

// DecodeConfig decodes the config table into v, rejecting keys v does not
// have, so that a typo in a run config is an error and not a silent default.
func DecodeConfig(req protocol.ConfigureRequest, v any) error {
	s := strings.TrimSpace(req.ConfigJSON)
	if s == "" {
		s = "{}"
	}
	dec := json.NewDecoder(strings.NewReader(s))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	return nil
}

func withABI(m protocol.Manifest) protocol.Manifest {
	if m.ABI == 0 {
		m.ABI = protocol.ABI
	}
	return m
}
