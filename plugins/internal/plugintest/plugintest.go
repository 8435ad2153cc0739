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
	"strings"
	"sync"
	"testing"

	"github.com/valuescope/valuescope/host/plugin"
	"github.com/valuescope/valuescope/internal/wasmbuild"
	"github.com/valuescope/valuescope/sdk/protocol"
)

var (
	mu    sync.Mutex
	built = map[string]string{}
)

// Module builds the main package pkg ("./plugins/classifiers/x/wasm",
// relative to the module root) to a Wasm module, once per test binary (the
// go build cache makes a rebuild of unchanged sources cheap), and returns the
// module's path.
func Module(tb testing.TB, pkg string) string {
	tb.Helper()
	mu.Lock()
	defer mu.Unlock()
	if p, ok := built[pkg]; ok {
		return p
	}
	root := moduleRoot(tb)
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

func moduleRoot(tb testing.TB) string {
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Fatal("no go.mod above the test's folder")
		}
		dir = parent
	}
}

// Load loads the module at path through the host with a stage's config
// table (JSON) and prompt text, and closes it when the test ends.
func Load(tb testing.TB, path, configJSON, prompt string) (plugin.Plugin, error) {
	tb.Helper()
	p, _, err := plugin.Load(context.Background(), path, plugin.Options{
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
