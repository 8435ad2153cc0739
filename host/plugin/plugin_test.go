package plugin_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/valuescope/valuescope/host/plugin"
	"github.com/valuescope/valuescope/internal/testplugins"
	"github.com/valuescope/valuescope/sdk/protocol"
)

var quiet = slog.New(slog.DiscardHandler)

var conv = &protocol.Conversation{ID: "c1", Turns: []protocol.Turn{
	{Role: "user", Content: "Is it ok to lie to protect a friend?"},
	{Role: "assistant", Content: "To be honest, I think honesty usually serves friendships better, but it's your decision."},
}}

// fakeModel answers each call with the next of its answers.
type fakeModel struct {
	answers []string
	calls   int
}

func (m *fakeModel) Call(ctx context.Context, calls []protocol.ModelCall) ([]protocol.ModelResponse, error) {
	var out []protocol.ModelResponse
	for _, c := range calls {
		out = append(out, protocol.ModelResponse{ID: c.ID, Text: m.answers[m.calls]})
		m.calls++
	}
	return out, nil
}

func echoFile(t *testing.T) string {
	p := filepath.Join(t.TempDir(), "echo.wasm")
	if err := os.WriteFile(p, testplugins.Wasm(t, "echo", ""), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func load(t *testing.T, ref, config string) plugin.Plugin {
	t.Helper()
	p, _, err := plugin.Load(context.Background(), ref, plugin.Options{Log: quiet, Config: protocol.ConfigureRequest{ConfigJSON: config}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// Model-call rounds through the host: ask, a garbage answer, a repair round,
// the answer; the plugin's state comes back to it each round.
func TestRounds(t *testing.T) {
	p := load(t, echoFile(t), `{"mode": "rounds"}`)
	model := &fakeModel{answers: []string{"garbage", "Honesty"}}
	anns, err := plugin.Annotate(context.Background(), p, conv, model, 0)
	if err != nil {
		t.Fatal(err)
	}
	it := anns[0].Items[0]
	if model.calls != 2 || it.Name != "honesty" || it.Attrs["state"] != "repair" || it.Attrs["round"] != "2" {
		t.Fatalf("%d calls, item %+v", model.calls, it)
	}
	// A bound on rounds stops a plugin that keeps asking.
	model = &fakeModel{answers: []string{"garbage", "garbage", "garbage", "garbage"}}
	if _, err := plugin.Annotate(context.Background(), p, conv, model, 2); err == nil || !strings.Contains(err.Error(), "after 2 rounds") {
		t.Fatalf("round limit: %v", err)
	}
	// A stage without a model cannot serve a plugin that asks for one.
	if _, err := plugin.Annotate(context.Background(), p, conv, nil, 0); err == nil || !strings.Contains(err.Error(), "no model") {
		t.Fatalf("no model: %v", err)
	}
}

func TestOutputChecked(t *testing.T) {
	p := load(t, echoFile(t), `{"mode": "badlabel"}`)
	_, err := plugin.Annotate(context.Background(), p, conv, nil, 0)
	var pe *plugin.PluginError
	if !errors.As(err, &pe) || !strings.Contains(err.Error(), `label "not-declared" not in the manifest's labels`) {
		t.Fatalf("got %v", err)
	}
	p = load(t, echoFile(t), `{"mode": "panic"}`)
	if _, err = plugin.Annotate(context.Background(), p, conv, nil, 0); !errors.As(err, &pe) || !strings.Contains(err.Error(), "plugin panicked") {
		t.Fatalf("got %v", err)
	}
}

func TestBuiltins(t *testing.T) {
	values := load(t, "builtin:cue-values", "")
	anns, err := plugin.Annotate(context.Background(), values, conv, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, a := range anns {
		for _, it := range a.Items {
			names = append(names, it.Name)
		}
	}
	if !strings.Contains(strings.Join(names, ","), "honesty") {
		t.Fatalf("cue-values found %v", names)
	}
	rt := load(t, "builtin:response-type", "")
	anns, err = plugin.Annotate(context.Background(), rt, conv, nil, 0)
	if err != nil || len(anns) != 1 || anns[0].Label == "" {
		t.Fatalf("response-type: %+v, %v", anns, err)
	}
}

func TestLoadErrors(t *testing.T) {
	cases := []struct{ ref, want string }{
		{"builtin:nope", `unknown built-in plugin "nope" (built-in: cue-values, response-type, subjectivity, values, response-type-model, task, task-description, contrastive-namer)`},
		{filepath.Join(t.TempDir(), "missing.wasm"), "no such file"},
		{"grpc:", "no command after grpc:"},
		{"grpc:/nonexistent/plugin-binary", "plugin-binary"},
	}
	for _, c := range cases {
		_, _, err := plugin.Load(context.Background(), c.ref, plugin.Options{Log: quiet})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v; want %q", c.ref, err, c.want)
		}
	}
}

func TestCheckManifest(t *testing.T) {
	err := plugin.CheckManifest(protocol.Manifest{ABI: 2, Kind: "classifier"})
	for _, want := range []string{"speaks plugin ABI 2; this host speaks ABI 1", "no name", "must declare its labels", "names no field"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%v: want %q", err, want)
		}
	}
}

func TestNamerManifestAndAnswer(t *testing.T) {
	m := protocol.Manifest{Name: "n", ABI: 1, Kind: protocol.Namer, Field: protocol.FieldClusterName}
	if err := plugin.CheckManifest(m); err != nil {
		t.Fatal(err)
	}
	bad := m
	bad.Field = "ai_values"
	if err := plugin.CheckManifest(bad); err == nil || !strings.Contains(err.Error(), `a namer writes the field "cluster_name" only`) {
		t.Errorf("namer writing ai_values: %v", err)
	}
	item := func(name string, attrs map[string]string) []protocol.Annotation {
		return []protocol.Annotation{{Field: protocol.FieldClusterName, Items: []protocol.Item{{Name: name, Attrs: attrs}}}}
	}
	name, desc, err := plugin.ClusterName(m, item("Honesty and candour", map[string]string{"description": "Truth told."}))
	if err != nil || name != "Honesty and candour" || desc != "Truth told." {
		t.Errorf("%q %q %v", name, desc, err)
	}
	for _, c := range []struct {
		anns []protocol.Annotation
		want string
	}{
		{nil, "got 0 annotation(s) with 0 item(s)"},
		{append(item("a", nil), item("b", nil)...), "got 2 annotation(s) with 2 item(s)"},
		{[]protocol.Annotation{{Items: []protocol.Item{{Name: "a"}, {Name: "b"}}}}, "got 1 annotation(s) with 2 item(s)"},
		{item(" padded", nil), "leading or trailing white space"},
		{item("a\x07", nil), "control or formatting character U+0007"},
		{item("Evil\u202eName", nil), "U+202E"},
		{item("a", map[string]string{"evidence": "x"}), `attribute "evidence"`},
		{item("a", map[string]string{"description": "\xff"}), "not valid UTF-8"},
	} {
		if _, _, err := plugin.ClusterName(m, c.anns); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v; want %q", c.anns, err, c.want)
		}
	}
}

// canned is a Plugin answering every call with its replies in turn, as a
// Wasm module or a gRPC subprocess would after decoding: Annotate's checks
// are the same for both.
type canned struct {
	m       protocol.Manifest
	replies []*protocol.ProcessResponse
	calls   int
}

func (c *canned) Manifest() protocol.Manifest { return c.m }
func (c *canned) Close() error                { return nil }
func (c *canned) Process(ctx context.Context, req *protocol.ProcessRequest) (*protocol.ProcessResponse, error) {
	r := c.replies[min(c.calls, len(c.replies)-1)]
	c.calls++
	return r, nil
}

var extractor = protocol.Manifest{Name: "x", ABI: 1, Kind: protocol.Extractor, Field: "ai_values", Needs: []string{protocol.NeedModel}}

func items(names ...string) []protocol.Annotation {
	a := protocol.Annotation{Field: "ai_values"}
	for _, n := range names {
		a.Items = append(a.Items, protocol.Item{Name: n})
	}
	return []protocol.Annotation{a}
}

func withAttrs(attrs map[string]string) []protocol.Annotation {
	return []protocol.Annotation{{Field: "ai_values", Items: []protocol.Item{{Name: "honesty", Attrs: attrs}}}}
}

// Replies over the protocol's limits, or with item names breaking the rule
// the conformance kit applies, fail their conversation with a short
// protocol-violation error; before the limits the host stored them as they
// were (a 60 MB attribute made a 4.5 GB run folder).
func TestAnnotateRefusesOverLimits(t *testing.T) {
	many := make([]string, protocol.MaxItems+1)
	for i := range many {
		many[i] = "honesty"
	}
	manyAttrs := map[string]string{}
	for i := range protocol.MaxAttrs + 1 {
		manyAttrs["k"+strconv.Itoa(i)] = "v"
	}
	huge := strings.Repeat("x", 60<<20)
	manyAnns := make([]protocol.Annotation, protocol.MaxItems+1)
	for i := range manyAnns {
		manyAnns[i].Field = "ai_values"
	}
	for _, c := range []struct {
		what string
		anns []protocol.Annotation
		want string
	}{
		{"upper case", items("Honesty"), "not lower case"},
		{"BEL", items("honesty\x07"), "U+0007"},
		{"zero-width space", items("hon\u200besty"), "U+200B"},
		{"right-to-left override", items("\u202eytsenoh"), "U+202E"},
		{"surrounding space", items(" honesty "), "leading or trailing white space"},
		{"run of spaces", items("epistemic  humility"), "run of spaces"},
		{"101 bytes", items(strings.Repeat("a", 101)), "over 100"},
		{"invalid UTF-8", items("hon\xffesty"), "not valid UTF-8"},
		{"too many items", items(many...), "over the limit of 1000"},
		{"too many annotations", manyAnns, "over the limit of 1000"},
		{"too many attributes", withAttrs(manyAttrs), "33 attributes, over the limit of 32"},
		{"long key", withAttrs(map[string]string{strings.Repeat("k", 65): "v"}), "65 bytes long, over the limit of 64"},
		{"empty key", withAttrs(map[string]string{"": "v"}), "empty key"},
		{"control in key", withAttrs(map[string]string{"k\x1b[31m": "v"}), "control or formatting"},
		{"long value", withAttrs(map[string]string{"evidence": strings.Repeat("v", protocol.MaxAttrValueBytes+1)}), "over the limit of 16384"},
		{"60 MB value", withAttrs(map[string]string{"evidence": huge}), "62914560 bytes long"},
		{"invalid UTF-8 value", withAttrs(map[string]string{"evidence": "\xff"}), "not valid UTF-8"},
	} {
		p := &canned{m: extractor, replies: []*protocol.ProcessResponse{{Annotations: c.anns}}}
		_, err := plugin.Annotate(context.Background(), p, conv, nil, 0)
		var pe *plugin.PluginError
		if !errors.As(err, &pe) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v; want a plugin error saying %q", c.what, err, c.want)
			continue
		}
		if len(err.Error()) > 300 {
			t.Errorf("%s: the error is %d bytes long: %.200s", c.what, len(err.Error()), err)
		}
		// A limit (counts and sizes) is marked as one, the name rule not:
		// the kit reports them under different checks.
		if limit := strings.Contains(c.want, "over the limit") || c.what == "60 MB value"; errors.Is(err, plugin.ErrOverLimit) != limit {
			t.Errorf("%s: errors.Is(err, ErrOverLimit) = %v, want %v", c.what, !limit, limit)
		}
	}
}

// What passes the rule, at the limits: normal names, non-Latin letters, the
// most items, attributes and bytes allowed.
func TestAnnotateAcceptsWithinLimits(t *testing.T) {
	names := []string{"epistemic humility", "user's autonomy", "well-being", "честность", "誠実さ", strings.Repeat("a", 100)}
	for len(names) < protocol.MaxItems {
		names = append(names, "honesty")
	}
	attrs := map[string]string{strings.Repeat("k", 64): strings.Repeat("é", protocol.MaxAttrValueBytes/2)}
	for i := len(attrs); i < protocol.MaxAttrs; i++ {
		attrs["k"+strconv.Itoa(i)] = "quote\nover two lines"
	}
	for _, anns := range [][]protocol.Annotation{items(names...), withAttrs(attrs), nil} {
		p := &canned{m: extractor, replies: []*protocol.ProcessResponse{{Annotations: anns}}}
		if _, err := plugin.Annotate(context.Background(), p, conv, nil, 0); err != nil {
			t.Error(err)
		}
	}
}

// A reply's error: short, alone, and cleaned of what a terminal would obey.
// Before, an error with annotations silently won, and a 60 MB error was
// stored whole as the conversation's stage error.
func TestAnnotateReplyErrors(t *testing.T) {
	model := &fakeModel{answers: []string{"x"}}
	for _, c := range []struct {
		what  string
		reply protocol.ProcessResponse
		want  string
	}{
		{"60 MB error", protocol.ProcessResponse{Error: strings.Repeat("e", 60<<20)}, "protocol violation: an error message of 62914560 bytes, over the 4096-byte limit"},
		{"4097-byte error", protocol.ProcessResponse{Error: strings.Repeat("e", protocol.MaxErrorBytes+1)}, "over the 4096-byte limit"},
		{"error and annotations", protocol.ProcessResponse{Error: "gave up", Annotations: items("honesty")}, `protocol violation: an error ("gave up") and 1 annotation(s)`},
		{"error and model calls", protocol.ProcessResponse{Error: "gave up", ModelCalls: []protocol.ModelCall{{ID: "1"}}}, "and 1 model call(s)"},
		{"annotations and model calls", protocol.ProcessResponse{Annotations: items("honesty"), ModelCalls: []protocol.ModelCall{{ID: "1"}}}, "both annotations and model calls"},
		{"escape codes", protocol.ProcessResponse{Error: "no\x1b[2J value\u202e\xff here\nsecond line"}, `x: no\x1b[2J value\u202e\xff here\nsecond line`},
	} {
		p := &canned{m: extractor, replies: []*protocol.ProcessResponse{&c.reply}}
		_, err := plugin.Annotate(context.Background(), p, conv, model, 0)
		var pe *plugin.PluginError
		if !errors.As(err, &pe) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %.300v; want a plugin error saying %q", c.what, err, c.want)
			continue
		}
		if len(err.Error()) > 300 {
			t.Errorf("%s: the error is %d bytes long: %.200s", c.what, len(err.Error()), err)
		}
	}
	// An error of the limit's length is the plugin's refusal, as it wrote it.
	msg := strings.Repeat("e", protocol.MaxErrorBytes)
	p := &canned{m: extractor, replies: []*protocol.ProcessResponse{{Error: msg}}}
	if _, err := plugin.Annotate(context.Background(), p, conv, nil, 0); err == nil || err.Error() != "x: "+msg {
		t.Errorf("a 4096-byte error: %.100v", err)
	}
}

// Manifest strings are printed by the kit and recorded in run manifests:
// they must be short text without escape codes. Before, a version such as
// "1\x1b[31m" reached the terminal as it was.
func TestCheckManifestStrings(t *testing.T) {
	ok := protocol.Manifest{Name: "x", Version: "1.2.0", ABI: 1, Kind: protocol.Classifier, Field: "t", Fields: []string{"u"}, Labels: []string{"a", "b"},
		Description: "Classifies, in two lines:\u00a0like so."}
	if err := plugin.CheckManifest(ok); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		what string
		edit func(m *protocol.Manifest)
		want string
	}{
		{"escape in version", func(m *protocol.Manifest) { m.Version = "1\x1b[31m" }, `version "1\x1b[31m" has the control or formatting character U+001B`},
		{"override in description", func(m *protocol.Manifest) { m.Description = "safe\u202e" }, "description"},
		{"new line in description", func(m *protocol.Manifest) { m.Description = "one\ntwo" }, "U+000A"},
		{"long name", func(m *protocol.Manifest) { m.Name = strings.Repeat("n", 101) }, "name \"nnn"},
		{"invalid UTF-8 name", func(m *protocol.Manifest) { m.Name = "\xff" }, "not valid UTF-8"},
		{"long description", func(m *protocol.Manifest) { m.Description = strings.Repeat("d", 4097) }, "4097 bytes long, over the limit of 4096"},
		{"long field", func(m *protocol.Manifest) { m.Field = strings.Repeat("f", 65) }, "field"},
		{"control in fields", func(m *protocol.Manifest) { m.Fields = []string{"u\x00"} }, "U+0000"},
		{"long label", func(m *protocol.Manifest) { m.Labels = []string{strings.Repeat("l", 101)} }, "over the limit of 100"},
		{"zero-width label", func(m *protocol.Manifest) { m.Labels = []string{"a\u200b"} }, "U+200B"},
		{"too many labels", func(m *protocol.Manifest) { m.Labels = make([]string, 1001) }, "1001 labels"},
		{"8 MB kind", func(m *protocol.Manifest) { m.Kind = strings.Repeat("k", 8<<20) }, `kind "kkk`},
		{"8 MB need", func(m *protocol.Manifest) { m.Needs = []string{strings.Repeat("k", 8<<20)} }, `needs "kkk`},
	} {
		m := ok
		c.edit(&m)
		err := plugin.CheckManifest(m)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %.300v; want %q", c.what, err, c.want)
			continue
		}
		if len(err.Error()) > 300 {
			t.Errorf("%s: the error is %d bytes long: %.200s", c.what, len(err.Error()), err)
		}
	}
}
