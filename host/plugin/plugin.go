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
// the plugin asks for model calls, which models performs. Every reply is
// checked (CheckResponse: its shape, the protocol's limits, the manifest's
// fields, labels and the item-name rule) before anything of it is used, so
// that a faulty or hostile plugin's reply fails its conversation with a short
// error rather than reaching the store.
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
		if err := CheckResponse(p.Manifest(), resp); err != nil {
			return nil, err
		}
		switch {
		case resp.Error != "":
			return nil, &PluginError{Plugin: p.Manifest().Name, Msg: Printable(resp.Error, 0)}
		case len(resp.ModelCalls) == 0:
			return resp.Annotations, nil
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

// CheckResponse checks one reply of Process: exactly one of an error, model
// calls or annotations (none at all is valid: the plugin found nothing); an
// error message of at most protocol.MaxErrorBytes; annotations that pass
// CheckAnnotations. The error is a *PluginError whose message begins
// "protocol violation:" and quotes at most a short prefix of anything big.
func CheckResponse(m protocol.Manifest, resp *protocol.ProcessResponse) error {
	violation := func(format string, args ...any) error {
		err := fmt.Errorf("protocol violation: "+format, args...)
		return &PluginError{Plugin: m.Name, Msg: err.Error(), Err: err}
	}
	if err := protocol.CheckError(resp.Error); err != nil {
		return violation("%w", callerr.OverLimit(err.Error()))
	}
	switch {
	case resp.Error != "" && (len(resp.Annotations) > 0 || len(resp.ModelCalls) > 0):
		return violation("an error (%s) and %d annotation(s) and %d model call(s) in one response: set exactly one of annotations, model_calls, error",
			protocol.Quote(resp.Error, 60), len(resp.Annotations), len(resp.ModelCalls))
	case len(resp.Annotations) > 0 && len(resp.ModelCalls) > 0:
		return violation("both annotations and model calls in one response")
	}
	return CheckAnnotations(m, resp.Annotations)
}

// PluginError is a conversation the plugin itself declined or failed to
// handle (it answered with an error, or broke the protocol).
type PluginError struct {
	Plugin string
	Msg    string
	// Err is the cause, when there is one: a reply refused for one of the
	// protocol's limits matches ErrOverLimit.
	Err error
}

func (e *PluginError) Error() string { return e.Plugin + ": " + e.Msg }
func (e *PluginError) Unwrap() error { return e.Err }

// ErrOverLimit is matched (errors.Is) by the error of a reply refused for
// one of the protocol's limits (sdk/protocol/limits.go), by CheckResponse
// or by a transport (the reply's size).
var ErrOverLimit = callerr.ErrOverLimit

// StartTimeout is the error (errors.As) of a plugin that did not start
// within its start-up deadline, whichever the transport.
type StartTimeout = callerr.StartTimeout

func malformed(p Plugin, msg string) error {
	return &PluginError{Plugin: p.Manifest().Name, Msg: "protocol violation: " + msg}
}

// Bounds on a manifest's strings and lists: a manifest is printed by the
// kit and `plugins list` and recorded in every run's manifest, so it must be
// short text a terminal shows as it is.
const (
	maxManifestName        = 100
	maxManifestVersion     = 100
	maxManifestDescription = 4 << 10
	maxManifestList        = protocol.MaxItems // labels, fields or needs
)

// CheckManifest checks what a plugin says of itself at load: the ABI, a
// known kind and what that kind needs, a name and a field, and every string
// short, valid UTF-8 and free of control and formatting characters.
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
			errs = append(errs, fmt.Sprintf("needs %s: want %q or %q", protocol.Quote(n, 60), protocol.NeedModel, protocol.NeedEmbeddings))
		}
	}
	text := func(what, s string, max int) {
		if err := checkText(what, s, max); err != nil {
			errs = append(errs, err.Error())
		}
	}
	text("name", m.Name, maxManifestName)
	text("version", m.Version, maxManifestVersion)
	text("description", m.Description, maxManifestDescription)
	text("field", m.Field, protocol.MaxAttrKeyBytes)
	for _, l := range []struct {
		what string
		n    int
	}{{"labels", len(m.Labels)}, {"fields", len(m.Fields)}, {"needs", len(m.Needs)}} {
		if l.n > maxManifestList {
			errs = append(errs, fmt.Sprintf("%d %s, over the limit of %d", l.n, l.what, maxManifestList))
		}
	}
	for _, f := range m.Fields {
		text("field", f, protocol.MaxAttrKeyBytes)
	}
	for _, l := range m.Labels {
		text("label", l, protocol.MaxLabelBytes)
	}
	if len(errs) > 0 {
		name := "plugin"
		if m.Name != "" && checkText("", m.Name, maxManifestName) == nil {
			name = m.Name
		}
		return fmt.Errorf("%s: invalid manifest: %s", name, strings.Join(errs, "; "))
	}
	return nil
}

// checkText refuses a manifest's string that is longer than max bytes, not
// valid UTF-8, or has a control or formatting character (an escape code a
// terminal would obey, a right-to-left override that makes text lie).
func checkText(what, s string, max int) error {
	switch {
	case len(s) > max:
		return fmt.Errorf("%s %s is %d bytes long, over the limit of %d", what, protocol.Quote(s, 60), len(s), max)
	case !utf8.ValidString(s):
		return fmt.Errorf("%s %s is not valid UTF-8", what, protocol.Quote(s, 60))
	}
	if i := strings.IndexFunc(s, isControlOrFormat); i >= 0 {
		r, _ := utf8.DecodeRuneInString(s[i:])
		return fmt.Errorf("%s %s has the control or formatting character %U", what, protocol.Quote(s, 60), r)
	}
	return nil
}

// CheckAnnotations checks a plugin's annotations against its manifest and the
// protocol's limits: at most protocol.MaxItems annotations and items in all;
// fields it declared; labels from its label set; item names that pass
// protocol.CheckItemName (protocol.CheckDisplayName for a kind with display
// names, a namer's); at most protocol.MaxAttrs attributes an item, with
// non-empty keys of at most protocol.MaxAttrKeyBytes without control
// characters and values of at most protocol.MaxAttrValueBytes, all valid
// UTF-8. The error is a *PluginError.
func CheckAnnotations(m protocol.Manifest, anns []protocol.Annotation) error {
	bad := func(format string, args ...any) error {
		err := fmt.Errorf(format, args...)
		return &PluginError{Plugin: m.Name, Msg: err.Error(), Err: err}
	}
	// Counted first, so that a huge reply is refused before it is walked.
	items := 0
	for _, a := range anns {
		items += len(a.Items)
	}
	if len(anns) > protocol.MaxItems || items > protocol.MaxItems {
		return bad("%w", callerr.OverLimit(fmt.Sprintf("%d annotations with %d items in one reply, over the limit of %d", len(anns), items, protocol.MaxItems)))
	}
	spec, _ := LookupKind(m.Kind) // known: CheckManifest passed at load
	checkName := protocol.CheckItemName
	if spec != nil && spec.DisplayNames {
		checkName = protocol.CheckDisplayName
	}
	for i, a := range anns {
		field := a.Field
		if field == "" {
			field = m.Field
		}
		if field != m.Field && !slices.Contains(m.Fields, field) {
			return bad("annotation %d: field %s not declared in the manifest (%s)", i, protocol.Quote(field, 60), strings.Join(append([]string{m.Field}, m.Fields...), ", "))
		}
		if a.Label != "" && !slices.Contains(m.Labels, a.Label) {
			return bad("annotation %d: label %s not in the manifest's labels", i, protocol.Quote(a.Label, 60))
		}
		if spec != nil && spec.Output == OutputLabels && a.Label == "" {
			return bad("annotation %d: a classifier's annotation needs a label", i)
		}
		for j, it := range a.Items {
			if err := checkName(it.Name); err != nil {
				return bad("annotation %d item %d: %v", i, j, err)
			}
			if len(it.Attrs) > protocol.MaxAttrs {
				return bad("annotation %d item %d (%s): %w", i, j, protocol.Quote(it.Name, 60), callerr.OverLimit(fmt.Sprintf("%d attributes, over the limit of %d", len(it.Attrs), protocol.MaxAttrs)))
			}
			for k, v := range it.Attrs {
				if err := checkAttr(k, v); err != nil {
					return bad("annotation %d item %d (%s): %w", i, j, protocol.Quote(it.Name, 60), err)
				}
			}
		}
	}
	return nil
}

// checkAttr checks one attribute of an item against the protocol's limits.
func checkAttr(k, v string) error {
	switch {
	case k == "":
		return errors.New("an attribute with an empty key")
	case len(k) > protocol.MaxAttrKeyBytes:
		return callerr.OverLimit(fmt.Sprintf("attribute key %s is %d bytes long, over the limit of %d", protocol.Quote(k, 60), len(k), protocol.MaxAttrKeyBytes))
	case !utf8.ValidString(k) || strings.ContainsFunc(k, isControlOrFormat):
		return fmt.Errorf("attribute key %s: want valid UTF-8 without control or formatting characters", protocol.Quote(k, 60))
	case len(v) > protocol.MaxAttrValueBytes:
		return callerr.OverLimit(fmt.Sprintf("attribute %s is %d bytes long, over the limit of %d (it began %s)", protocol.Quote(k, 60), len(v), protocol.MaxAttrValueBytes, protocol.Quote(v, 60)))
	case !utf8.ValidString(v):
		return fmt.Errorf("attribute %s: the value %s is not valid UTF-8", protocol.Quote(k, 60), protocol.Quote(v, 60))
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
		return "", "", &PluginError{Plugin: m.Name, Msg: fmt.Sprintf("a namer answers one annotation with one item (the cluster's name); got %d annotation(s) with %d item(s)", len(anns), items)}
	}
	it := anns[0].Items[0]
	if err := protocol.CheckDisplayName(it.Name); err != nil {
		return "", "", &PluginError{Plugin: m.Name, Msg: "cluster " + err.Error()}
	}
	for k := range it.Attrs {
		if k != protocol.AttrDescription {
			return "", "", &PluginError{Plugin: m.Name, Msg: fmt.Sprintf("cluster name %s: attribute %s: a namer's item has only %q", protocol.Quote(it.Name, 60), protocol.Quote(k, 60), protocol.AttrDescription)}
		}
	}
	desc := it.Attrs[protocol.AttrDescription]
	if err := checkAttr(protocol.AttrDescription, desc); err != nil {
		return "", "", &PluginError{Plugin: m.Name, Msg: fmt.Sprintf("cluster name %s: %v", protocol.Quote(it.Name, 60), err)}
	}
	return it.Name, desc, nil
}

func isControlOrFormat(r rune) bool { return unicode.IsControl(r) || unicode.Is(unicode.Cf, r) }

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
