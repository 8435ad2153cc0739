// Package plugintest helps the built-in model-backed plugins' tests drive
// their Wasm modules through the host: it builds a module once per test
// binary and answers model calls with a fake model.
package plugintest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/valuescope/valuescope/host/plugin"
	"github.com/valuescope/valuescope/internal/testplugins"
	"github.com/valuescope/valuescope/internal/wasmbuild"
	"github.com/valuescope/valuescope/plugins"
	"github.com/valuescope/valuescope/sdk/protocol"
)

var (
	mu    sync.Mutex
	built = map[string]string{}
)

// Mod is a built-in plugin in a module built from source.
type Mod struct {
	// Path is the module's file; Name is the built-in it serves.
	Path, Name string
}

// Module builds the built-in plugins' shared module (plugins.Main) from
// source, once per test binary (the go build cache makes a rebuild of
// unchanged sources cheap), and returns it serving the built-in name.
func Module(tb testing.TB, name string) Mod {
	tb.Helper()
	if _, ok := plugins.Lookup(name); !ok {
		tb.Fatalf("no built-in plugin %q", name)
	}
	return Mod{Path: buildModule(tb, plugins.Main), Name: name}
}

func buildModule(tb testing.TB, pkg string) string {
	mu.Lock()
	defer mu.Unlock()
	if p, ok := built[pkg]; ok {
		return p
	}
	root := testplugins.ModuleRoot(tb)
	sum := sha256.Sum256([]byte(root + "\x00" + pkg))
	dir := filepath.Join(os.TempDir(), "valuescope-plugintest")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	out := filepath.Join(dir, strings.ReplaceAll(strings.Trim(pkg, "./"), "/", "_")+"-"+hex.EncodeToString(sum[:8])+".wasm")
	tmp, err := os.CreateTemp(dir, "build-*.wasm")
	if err != nil {
		tb.Fatal(err)
	}
	tmp.Close()
	defer os.Remove(tmp.Name())
	if err := wasmbuild.Build(context.Background(), root, pkg, tmp.Name(), ""); err != nil {
		tb.Fatal(err)
	}
	if err := os.Rename(tmp.Name(), out); err != nil {
		tb.Fatal(err)
	}
	built[pkg] = out
	return out
}

// Load loads the module through the host with a stage's config table
// (JSON) and prompt text, and closes it when the test ends.
func Load(tb testing.TB, mod Mod, configJSON, prompt string) (plugin.Plugin, error) {
	tb.Helper()
	b, _ := plugins.Lookup(mod.Name)
	p, _, err := plugin.Load(context.Background(), mod.Path, plugin.Options{
		Env:       b.Env(),
		Log:       slog.New(slog.DiscardHandler),
		Instances: 1,
		Config:    protocol.ConfigureRequest{ConfigJSON: configJSON, Prompt: prompt},
	})
	if err != nil {
		return nil, err
	}
	tb.Cleanup(func() { p.Close() })
	return p, nil
}

// Model is a fake plugin.ModelCaller: it answers the calls, in order, with
// Answers (a call past the last answer gets the last one again), and records
// every call it got.
type Model struct {
	Answers []string
	mu      sync.Mutex
	Calls   []protocol.ModelCall
}

// Call implements plugin.ModelCaller.
func (m *Model) Call(ctx context.Context, calls []protocol.ModelCall) ([]protocol.ModelResponse, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []protocol.ModelResponse
	for _, c := range calls {
		i := min(len(m.Calls), len(m.Answers)-1)
		m.Calls = append(m.Calls, c)
		out = append(out, protocol.ModelResponse{ID: c.ID, Text: m.Answers[i], StopReason: "end_turn"})
	}
	return out, nil
}

// Conversation is a small value-laden conversation.
var Conversation = &protocol.Conversation{ID: "c1", Turns: []protocol.Turn{
	{Role: "system", Content: "You are a helpful assistant."},
	{Role: "user", Content: "I value honesty above everything. Should I tell my friend her business plan has a serious flaw?"},
	{Role: "assistant", Content: "I think honesty is the kinder choice here, as long as you share it with care: point to the flaw, suggest a fix, and leave the decision to her."},
}}

// ParseCase is one model answer and what a plugin's Parse must make of it:
// Want, or an error containing Err.
type ParseCase struct {
	Name, Answer string
	Want         []protocol.Annotation
	Err          string
}

// Parse runs the cases through parse, each as a subtest.
func Parse(t *testing.T, parse func(text string) ([]protocol.Annotation, error), cases []ParseCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			got, err := parse(c.Answer)
			check(t, got, err, c.Want, c.Err)
		})
	}
}

func check(t *testing.T, got []protocol.Annotation, err error, want []protocol.Annotation, wantErr string) {
	t.Helper()
	if wantErr != "" {
		if err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Fatalf("got %+v, %v; want an error containing %q", got, err, wantErr)
		}
		return
	}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %+v, %v\nwant %+v", got, err, want)
	}
}

// RoundCase is one run through the host: the model's answers, in order; how
// many model calls it must take; and the annotations (Want) or the error
// (containing Err) it must end in.
type RoundCase struct {
	Name    string
	Answers []string
	Calls   int
	Want    []protocol.Annotation
	Err     string
}

// Rounds runs conv through p once per case, each as a subtest, with a Model
// answering the case's answers; more, if set, looks further at a case that
// ended in annotations.
func Rounds(t *testing.T, p plugin.Plugin, conv *protocol.Conversation, cases []RoundCase, more func(t *testing.T, c RoundCase, m *Model)) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			model := &Model{Answers: c.Answers}
			got, err := plugin.Annotate(context.Background(), p, conv, model, 0)
			if len(model.Calls) != c.Calls {
				t.Errorf("%d model calls, want %d", len(model.Calls), c.Calls)
			}
			check(t, got, err, c.Want, c.Err)
			if c.Err == "" && more != nil {
				more(t, c, model)
			}
		})
	}
}

// PromptIsConfigFile fails unless configs/prompts/file is prompt, byte for
// byte: a plugin's built-in prompt is the file researchers start from.
func PromptIsConfigFile(t *testing.T, file, prompt string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testplugins.ModuleRoot(t), "configs", "prompts", file))
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != prompt {
		t.Errorf("configs/prompts/%s differs from the built-in prompt; copy one onto the other", file)
	}
}
