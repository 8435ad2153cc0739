package plugin_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
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
		{item(" padded", nil), "surrounding space"},
		{item("a\x07", nil), "control characters"},
		{item("a", map[string]string{"evidence": "x"}), `attribute "evidence"`},
		{item("a", map[string]string{"description": "\xff"}), "not valid UTF-8"},
	} {
		if _, _, err := plugin.ClusterName(m, c.anns); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v; want %q", c.anns, err, c.want)
		}
	}
}
