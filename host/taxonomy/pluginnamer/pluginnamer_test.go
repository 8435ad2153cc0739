package pluginnamer

import (
	"context"
	"encoding/json"
	"errors"
	"github.com/valuescope/valuescope/host/taxonomy"
	"github.com/valuescope/valuescope/host/taxonomy/embed"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/valuescope/valuescope/host/plugin"
	"github.com/valuescope/valuescope/sdk/protocol"
)

var quiet = slog.New(slog.DiscardHandler)

// namingModel is a fake model for the namer plugin: it names a cluster
// "Model: FIRST MEMBER" (read from the prompt), or answers what answer
// returns for the prompt's first member and the call's round (0, or 1 for a
// repair call).
type namingModel struct {
	mu     sync.Mutex
	calls  []protocol.ModelCall
	answer func(first string, repair bool) string
}

func (m *namingModel) Call(_ context.Context, calls []protocol.ModelCall) ([]protocol.ModelResponse, error) {
	m.mu.Lock()
	m.calls = append(m.calls, calls...)
	m.mu.Unlock()
	out := make([]protocol.ModelResponse, len(calls))
	for i, c := range calls {
		first := firstMember(c.Messages[0].Content)
		text := ""
		if m.answer != nil {
			text = m.answer(first, len(c.Messages) > 1)
		}
		if text == "" {
			b, _ := json.Marshal(map[string]string{"name": "Model: " + first, "description": "This group of values emphasized " + first + "."})
			text = string(b)
		}
		out[i] = protocol.ModelResponse{ID: c.ID, Text: text, StopReason: "end_turn"}
	}
	return out, nil
}

// firstMember reads the first member listed in the user message.
func firstMember(prompt string) string {
	_, rest, _ := strings.Cut(prompt, "most central first:\n- ")
	first, _, _ := strings.Cut(rest, "\n")
	return first
}

// recorder keeps what a namer was given.
type recorder struct {
	taxonomy.Namer
	seen []taxonomy.ClusterToName
}

func (r *recorder) Name(ctx context.Context, cs []taxonomy.ClusterToName) ([]taxonomy.Naming, error) {
	r.seen = append(r.seen, cs...)
	return r.Namer.Name(ctx, cs)
}

func loadNamer(t *testing.T, model plugin.ModelCaller) *PluginNamer {
	t.Helper()
	n, err := Load(context.Background(), DefaultPlugin, plugin.Options{Log: quiet, Instances: 2}, model)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Plugin.Close() })
	return n
}

// The built-in contrastive namer, run through the host, names a small real
// tree from the model's answers, each cluster contrasted with its nearest
// non-members.
func TestPluginNamer(t *testing.T) {
	model := &namingModel{}
	n := loadNamer(t, model)
	rec := &recorder{Namer: n}
	tree, _ := buildSmall(t, taxonomy.Options{Namer: rec})
	if len(model.calls) != 11 || len(rec.seen) != 11 {
		t.Fatalf("%d model calls for %d clusters, want 11 (8 + 3)", len(model.calls), len(rec.seen))
	}
	for _, l := range []int{1, 2} {
		for _, c := range tree.Level(l) {
			if !strings.HasPrefix(c.Name, "Model: ") || !strings.HasPrefix(c.Description, "This group of values emphasized ") {
				t.Errorf("level %d: %q / %q", l, c.Name, c.Description)
			}
		}
	}
	// Level 2's members are level 1's names, as the model gave them.
	for _, c := range rec.seen[8:] {
		if !strings.HasPrefix(c.Members[0].Name, "Model: ") {
			t.Errorf("level 2 member %q", c.Members[0].Name)
		}
	}
	// The contrast reaches the prompt.
	prompts := map[string]string{}
	for _, c := range model.calls {
		prompts[firstMember(c.Messages[0].Content)] = c.Messages[0].Content
	}
	for _, c := range rec.seen {
		if len(c.Contrast) == 0 {
			t.Fatalf("cluster of %q has no contrast", c.Members[0].Name)
		}
		p := prompts[c.Members[0].Name]
		_, contrast, ok := strings.Cut(p, "NOT in the cluster:\n")
		if !ok {
			t.Fatalf("no contrast in the prompt:\n%s", p)
		}
		for _, x := range c.Contrast {
			if !strings.Contains(contrast, "- "+x+"\n") {
				t.Errorf("contrast %q of the cluster of %q not in its prompt:\n%s", x, c.Members[0].Name, p)
			}
		}
	}
}

// A malformed answer gets one repair round; the repaired answer names the
// cluster.
func TestPluginNamerRepair(t *testing.T) {
	model := &namingModel{answer: func(first string, repair bool) string {
		if first == "honesty" && !repair {
			return `{"name": "Truth"}`
		}
		if first == "honesty" {
			return `{"name": "Truth telling", "description": "Repaired."}`
		}
		return ""
	}}
	tree, _ := buildSmall(t, taxonomy.Options{Namer: loadNamer(t, model)})
	if len(model.calls) != 12 {
		t.Errorf("%d model calls, want 11 and a repair", len(model.calls))
	}
	found := false
	for _, c := range tree.Level(1) {
		found = found || c.Name == "Truth telling" && c.Description == "Repaired."
	}
	if !found {
		t.Errorf("the repaired name is not in the tree: %v", tree.Level(1))
	}
}

// A cluster the plugin cannot name fails the build with an error naming the
// cluster; with a fallback, it keeps the fallback's name and the failure is
// recorded.
func TestPluginNamerFailure(t *testing.T) {
	model := &namingModel{answer: func(first string, _ bool) string {
		if first == "honesty" {
			return "I would call it honesty."
		}
		return ""
	}}
	vals, _, err := taxonomy.ReadValuesCSV("../testdata/values.csv")
	if err != nil {
		t.Fatal(err)
	}
	n := loadNamer(t, model)
	_, _, err = taxonomy.Build(context.Background(), vals, taxonomy.Options{Levels: []int{8, 3}, Embedder: testEmbedder(t), Namer: n})
	if err == nil || !strings.Contains(err.Error(), `naming level 1: level 1 cluster `) || !strings.Contains(err.Error(), `("honesty", `) ||
		!strings.Contains(err.Error(), "contrastive-namer: the model's answer did not parse after a repair round") {
		t.Fatalf("error %v", err)
	}
	var pe *plugin.PluginError
	if !errors.As(err, &pe) {
		t.Errorf("not a plugin error: %T", err)
	}

	n.Fallback = taxonomy.RepresentativeNamer{}
	tree, _ := buildSmall(t, taxonomy.Options{Namer: n})
	if len(n.Failures) != 1 || !strings.Contains(n.Failures[0], `("honesty", `) {
		t.Fatalf("failures %q", n.Failures)
	}
	model.mu.Lock()
	model.answer = func(string, bool) string { return "no" }
	model.mu.Unlock()
	models := 0
	for _, c := range tree.Level(1) {
		if strings.HasPrefix(c.Name, "Model: ") {
			models++
		}
	}
	if models != 7 {
		t.Errorf("%d clusters named by the model, want 7 of 8", models)
	}
	// A level whose every cluster fails fails even with a fallback.
	if _, _, err = taxonomy.Build(context.Background(), vals, taxonomy.Options{Levels: []int{8, 3}, Embedder: testEmbedder(t), Namer: n}); err == nil ||
		!strings.Contains(err.Error(), "every cluster failed, e.g. level 1 cluster 1 of 8") {
		t.Fatalf("every cluster failing: %v", err)
	}
}

func TestLoad(t *testing.T) {
	ctx := context.Background()
	if _, err := Load(ctx, "builtin:cue-values", plugin.Options{Log: quiet}, nil); err == nil ||
		!strings.Contains(err.Error(), `is not a namer: its kind is "extractor"`) {
		t.Errorf("an extractor: %v", err)
	}
	var nm *NeedsModelError
	if _, err := Load(ctx, DefaultPlugin, plugin.Options{Log: quiet}, nil); !errors.As(err, &nm) {
		t.Errorf("no model: %v", err)
	}
	n := &PluginNamer{}
	for c, want := range map[int]int{0: 10, -1: 0, 3: 3} {
		if n.Contrasts = c; n.Contrast() != want {
			t.Errorf("Contrasts %d: Contrast() = %d, want %d", c, n.Contrast(), want)
		}
	}
	// The caller's cancellation ends the naming.
	n = loadNamer(t, &namingModel{})
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := n.Name(cctx, []taxonomy.ClusterToName{{Level: 1, Members: []taxonomy.Member{{Name: "a"}}}}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
}

func testEmbedder(t testing.TB) taxonomy.Embedder {
	e, err := embed.NewOffline()
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func buildSmall(t *testing.T, o taxonomy.Options) (*taxonomy.Tree, taxonomy.Info) {
	t.Helper()
	vals, _, err := taxonomy.ReadValuesCSV("../testdata/values.csv")
	if err != nil {
		t.Fatal(err)
	}
	o.Embedder = testEmbedder(t)
	if o.Levels == nil {
		o.Levels = []int{8, 3}
	}
	tree, info, err := taxonomy.Build(context.Background(), vals, o)
	if err != nil {
		t.Fatal(err)
	}
	return tree, info
}
