package plugin_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/valuescope/valuescope/host/plugin"
	"github.com/valuescope/valuescope/internal/testplugins"
	"github.com/valuescope/valuescope/sdk/protocol"
)

// The table has each kind once, the protocol's three, and what each may
// do follows from its entry.
func TestKinds(t *testing.T) {
	var names []string
	for _, k := range plugin.Kinds() {
		names = append(names, k.Kind)
		got, err := plugin.LookupKind(k.Kind)
		if err != nil || got.Kind != k.Kind {
			t.Fatalf("LookupKind(%q) = %+v, %v", k.Kind, got, err)
		}
		if k.Input == 0 || k.Output == 0 || k.OutputCheck == "" || k.Stage == (k.NotStage != "") {
			t.Errorf("kind %s: incomplete entry %+v", k.Kind, k)
		}
	}
	if want := []string{protocol.Extractor, protocol.Classifier, protocol.Namer}; strings.Join(names, ",") != strings.Join(want, ",") {
		t.Fatalf("kinds %v, want %v", names, want)
	}
	if ns, _ := plugin.LookupKind(protocol.Namer); ns.Input != plugin.InputClusters || ns.Output != plugin.OutputClusterName || ns.Stage {
		t.Fatalf("namer: %+v", ns)
	}
}

// A kind the host does not know is refused, saying which it knows.
func TestUnknownKind(t *testing.T) {
	_, err := plugin.LookupKind("summarizer")
	var uk *plugin.UnknownKindError
	if !errors.As(err, &uk) || uk.Kind != "summarizer" || err.Error() != `kind "summarizer": want "extractor", "classifier" or "namer"` {
		t.Fatalf("got %v", err)
	}
	m := protocol.Manifest{Name: "s", ABI: protocol.ABI, Kind: "summarizer", Field: "summary"}
	if err := plugin.CheckManifest(m); err == nil || err.Error() != `s: invalid manifest: kind "summarizer": want "extractor", "classifier" or "namer"` {
		t.Fatalf("CheckManifest: %v", err)
	}
	if err := plugin.StageError(m); err != nil {
		t.Fatalf("StageError of an unknown kind (CheckManifest's business): %v", err)
	}
}

// Each kind's own manifest rules, and which may be a run's stage.
func TestKindRules(t *testing.T) {
	base := protocol.Manifest{Name: "p", ABI: protocol.ABI, Field: "f"}
	for _, c := range []struct {
		kind   string
		edit   func(*protocol.Manifest)
		want   string // CheckManifest's complaint, "" for none
		stage  string // StageError, "" for none
		answer bool   // CheckAnswer refuses an answer of two items
	}{
		{kind: protocol.Extractor},
		{kind: protocol.Classifier, want: "a classifier must declare its labels"},
		{kind: protocol.Classifier, edit: func(m *protocol.Manifest) { m.Labels = []string{"a"} }},
		{kind: protocol.Namer, want: `a namer writes the field "cluster_name" only`,
			stage: "is a namer: it names taxonomy clusters (valuescope taxonomy build --name-plugin), not conversations", answer: true},
		{kind: protocol.Namer, edit: func(m *protocol.Manifest) { m.Field = protocol.FieldClusterName },
			stage: "is a namer: it names taxonomy clusters (valuescope taxonomy build --name-plugin), not conversations", answer: true},
	} {
		m := base
		m.Kind = c.kind
		if c.edit != nil {
			c.edit(&m)
		}
		err := plugin.CheckManifest(m)
		if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%s %+v: CheckManifest %v, want %q", c.kind, m, err, c.want)
		}
		err = plugin.StageError(m)
		if c.stage == "" && err != nil || c.stage != "" && (err == nil || err.Error() != c.stage) {
			t.Errorf("%s: StageError %v, want %q", c.kind, err, c.stage)
		}
		spec, _ := plugin.LookupKind(c.kind)
		two := []protocol.Annotation{{Field: m.Field, Items: []protocol.Item{{Name: "a"}, {Name: "b"}}}}
		var pe *plugin.PluginError
		if err := spec.CheckAnswer(m, two); c.answer != (err != nil) || err != nil && !errors.As(err, &pe) {
			t.Errorf("%s: CheckAnswer %v, want refused %v", c.kind, err, c.answer)
		}
	}
}

// Both transports fail a call the plugin did not complete with one error
// type, of the right kind, naming the plugin and the conversation.
func TestCallErrorBothTransports(t *testing.T) {
	t.Run("wasm trap", func(t *testing.T) {
		p := load(t, echoFile(t), `{"mode": "trap"}`)
		_, err := plugin.Annotate(context.Background(), p, conv, nil, 0)
		var ce *plugin.CallError
		if !errors.As(err, &ce) || ce.Kind != plugin.Trap || ce.Conversation != "c1" || ce.Plugin == "" ||
			!strings.Contains(err.Error(), "conversation c1: trap: wasm error: unreachable") {
			t.Fatalf("got %v (%+v)", err, ce)
		}
		if !errors.Is(err, &plugin.CallError{Kind: plugin.Trap}) || errors.Is(err, &plugin.CallError{Kind: plugin.Crashed}) {
			t.Fatalf("errors.Is by kind: %v", err)
		}
	})
	t.Run("grpc crash", func(t *testing.T) {
		bin := testplugins.Binary(t, "host/plugin/grpc/testdata/goplugin")
		p := load(t, "grpc:"+bin, `{"mode": "echo"}`)
		c := *conv
		c.ID, c.MetaJSON = "x1", `{"mode": "exit"}`
		_, err := plugin.Annotate(context.Background(), p, &c, nil, 0)
		var ce *plugin.CallError
		if !errors.As(err, &ce) || ce.Kind != plugin.Crashed || ce.Conversation != "x1" || ce.Plugin == "" ||
			!strings.Contains(err.Error(), "conversation x1: crash: the plugin process") {
			t.Fatalf("got %v (%+v)", err, ce)
		}
	})
}
