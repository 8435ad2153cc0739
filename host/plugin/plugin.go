// Package plugin loads extractor, classifier and namer plugins and runs
// conversations (for a namer: taxonomy clusters) through them. A plugin is a
// WebAssembly module (run in-process by wazero, sandboxed) or a subprocess
// speaking gRPC (hashicorp/go-plugin); both speak protocol v1 (sdk/proto) and
// look the same from here: a Plugin.
//
// References, as a run config or the CLI writes them:
//
//	builtin:NAME          a plugin shipped inside valuescope (see Builtins)
//	path/to/plugin.wasm   a Wasm module
//	grpc:COMMAND ARGS...  a subprocess started with that command line
//
// A plugin that traps, loops, runs out of memory, crashes or answers garbage
// fails the conversation it was working on with an error; the Plugin stays
// usable for the next one (a Wasm instance is replaced, a subprocess
// restarted). Nothing a plugin does can crash the host. A call the plugin did
// not complete is a *CallError, whichever the backend, whose Kind says how
// (Trap, Timeout, Crashed, Malformed...).
//
// The kinds of plugin (extractor, classifier, namer) are one table, Kinds:
// what each kind's manifest must declare, what it is given and answers, how
// its answers are checked, whether a run may use it as a stage. The host's
// checks, the pipeline and the conformance kit read it.
package plugin

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/valuescope/valuescope/host/conversation"
	"github.com/valuescope/valuescope/host/plugin/callerr"
	"github.com/valuescope/valuescope/sdk/protocol"
)

// Plugin is a loaded, configured plugin. It is safe for concurrent use: the
// backends keep a pool of instances (Wasm) or multiplex calls (gRPC).
type Plugin interface {
	// Manifest is what the plugin said it is, checked at load.
	Manifest() protocol.Manifest
	// Process runs one round for one conversation. An error means the
	// plugin failed (trap, deadline, crash, malformed reply); a plugin's own
	// refusal comes back in the response's Error field.
	Process(ctx context.Context, req *protocol.ProcessRequest) (*protocol.ProcessResponse, error)
	Close() error
}

// ModelCaller performs the model calls a plugin asks for. The host's model
// package implements it (cache, limits, retries); tests use fakes.
type ModelCaller interface {
	Call(ctx context.Context, calls []protocol.ModelCall) ([]protocol.ModelResponse, error)
}

// DefaultMaxRounds bounds the rounds of model calls for one conversation.
const DefaultMaxRounds = 8

// Annotate runs a conversation through p to the end: round after round while
// the plugin asks for model calls, which models performs. The annotations are
// checked against the manifest (fields, labels, item names).
func Annotate(ctx context.Context, p Plugin, c *protocol.Conversation, models ModelCaller, maxRounds int) ([]protocol.Annotation, error) {
	if maxRounds <= 0 {
		maxRounds = DefaultMaxRounds
	}
	req := &protocol.ProcessRequest{Conversation: c}
	for {
		resp, err := p.Process(ctx, req)
		if err != nil {
			return nil, err
		}
		switch {
		case resp.Error != "":
			return nil, &PluginError{Plugin: p.Manifest().Name, Msg: resp.Error}
		case len(resp.ModelCalls) == 0:
			if err := CheckAnnotations(p.Manifest(), resp.Annotations); err != nil {
				return nil, err
			}
			return resp.Annotations, nil
		case len(resp.Annotations) > 0:
			return nil, malformed(p, "both annotations and model calls in one response")
		case models == nil:
			return nil, malformed(p, "asked for model calls, but this stage has no model")
		case int(req.Round)+1 >= maxRounds:
			return nil, malformed(p, fmt.Sprintf("still asking for model calls after %d rounds", maxRounds))
		}
		answers, err := models.Call(ctx, resp.ModelCalls)
		if err != nil {
			return nil, err
		}
		req = &protocol.ProcessRequest{Conversation: c, Round: req.Round + 1, ModelResponses: answers, State: resp.State}
	}
}

// PluginError is a conversation the plugin itself declined or failed to
// handle (it answered with an error, or broke the protocol).
type PluginError struct {
	Plugin string
	Msg    string
}

func (e *PluginError) Error() string { return e.Plugin + ": " + e.Msg }

func malformed(p Plugin, msg string) error {
	return &PluginError{Plugin: p.Manifest().Name, Msg: "protocol violation: " + msg}
}

// CheckManifest checks what a plugin says of itself at load.
func CheckManifest(m protocol.Manifest) error {
	var errs []string
	if m.ABI != protocol.ABI {
		errs = append(errs, fmt.Sprintf("speaks plugin ABI %d; this host speaks ABI %d", m.ABI, protocol.ABI))
	}
	if m.Name == "" {
		errs = append(errs, "manifest has no name")
	}
	if spec, err := LookupKind(m.Kind); err != nil {
		errs = append(errs, err.Error())
	} else {
		errs = append(errs, spec.CheckManifest(m)...)
	}
	if m.Field == "" {
		errs = append(errs, "manifest names no field")
	}
	for _, n := range m.Needs {
		if n != protocol.NeedModel && n != protocol.NeedEmbeddings {
			errs = append(errs, fmt.Sprintf("needs %q: want %q or %q", n, protocol.NeedModel, protocol.NeedEmbeddings))
		}
	}
	if len(errs) > 0 {
		name := m.Name
		if name == "" {
			name = "plugin"
		}
		return fmt.Errorf("%s: invalid manifest: %s", name, strings.Join(errs, "; "))
	}
	return nil
}

// MaxItemName bounds an item name: protocol.MaxItemNameBytes, kept under
// its old name for callers of this package.
const MaxItemName = protocol.MaxItemNameBytes

// CheckAnnotations checks a plugin's output against its manifest: fields it
// declared, labels from its label set, item names short and non-empty.
func CheckAnnotations(m protocol.Manifest, anns []protocol.Annotation) error {
	fields := append([]string{m.Field}, m.Fields...)
	spec, _ := LookupKind(m.Kind) // known: CheckManifest passed at load
	for i, a := range anns {
		field := a.Field
		if field == "" {
			field = m.Field
		}
		if !slices.Contains(fields, field) {
			return &PluginError{m.Name, fmt.Sprintf("annotation %d: field %q not declared in the manifest (%s)", i, field, strings.Join(fields, ", "))}
		}
		if a.Label != "" && !slices.Contains(m.Labels, a.Label) {
			return &PluginError{m.Name, fmt.Sprintf("annotation %d: label %q not in the manifest's labels", i, a.Label)}
		}
		if spec != nil && spec.Output == OutputLabels && a.Label == "" {
			return &PluginError{m.Name, fmt.Sprintf("annotation %d: a classifier's annotation needs a label", i)}
		}
		for j, it := range a.Items {
			if strings.TrimSpace(it.Name) == "" || len(it.Name) > MaxItemName {
				return &PluginError{m.Name, fmt.Sprintf("annotation %d item %d: name %q: want 1 to %d bytes", i, j, truncate(it.Name, 40), MaxItemName)}
			}
		}
	}
	return nil
}

// ClusterName reads a namer's answer (sdk/ABI.md, "Namer plugins"): one
// annotation of the field cluster_name with one item, the cluster's name,
// whose "description" attribute is its description. anns passed
// CheckAnnotations.
func ClusterName(m protocol.Manifest, anns []protocol.Annotation) (name, description string, err error) {
	items := 0
	for _, a := range anns {
		items += len(a.Items)
	}
	if len(anns) != 1 || items != 1 {
		return "", "", &PluginError{m.Name, fmt.Sprintf("a namer answers one annotation with one item (the cluster's name); got %d annotation(s) with %d item(s)", len(anns), items)}
	}
	it := anns[0].Items[0]
	if !utf8.ValidString(it.Name) || strings.TrimSpace(it.Name) != it.Name || strings.ContainsFunc(it.Name, unicode.IsControl) {
		return "", "", &PluginError{m.Name, fmt.Sprintf("cluster name %q: want valid UTF-8 without control characters or surrounding space", truncate(it.Name, 40))}
	}
	for k := range it.Attrs {
		if k != protocol.AttrDescription {
			return "", "", &PluginError{m.Name, fmt.Sprintf("cluster name %q: attribute %q: a namer's item has only %q", truncate(it.Name, 40), truncate(k, 40), protocol.AttrDescription)}
		}
	}
	desc := it.Attrs[protocol.AttrDescription]
	if !utf8.ValidString(desc) {
		return "", "", &PluginError{m.Name, fmt.Sprintf("cluster name %q: the description is not valid UTF-8", truncate(it.Name, 40))}
	}
	return it.Name, desc, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// CallError is a call the plugin did not complete (trap, deadline, crash,
// malformed reply...), the one error both transports return for it; its Kind
// says how it failed. Use errors.As; errors.Is(err, &CallError{Kind: k})
// matches any call error of kind k.
type CallError = callerr.Error

// CallErrorKind is how a call failed.
type CallErrorKind = callerr.Kind

// The kinds of CallError (see package callerr).
const (
	Trap          = callerr.Trap
	Exited        = callerr.Exited
	Timeout       = callerr.Timeout
	Canceled      = callerr.Canceled
	Crashed       = callerr.Crashed
	HandlerFailed = callerr.HandlerFailed
	Malformed     = callerr.Malformed
)

// ErrClosed is returned by Process after Close.
var ErrClosed = errors.New("plugin closed")

// FromConversation is the protocol's view of a conversation: metaJSON is
// its metadata already encoded (the pipeline encodes it once, for the store
// and for every stage).
func FromConversation(c *conversation.Conversation, metaJSON string) *protocol.Conversation {
	pc := &protocol.Conversation{ID: c.ID, Source: c.Source, MetaJSON: metaJSON, Turns: make([]protocol.Turn, len(c.Turns))}
	for i, t := range c.Turns {
		pc.Turns[i] = protocol.Turn{Role: t.Role, Content: t.Content}
	}
	return pc
}
