package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// namingServer is an OpenAI-compatible server inside the test that names a
// cluster "Model: FIRST MEMBER", except the clusters whose first member is
// in garbage, which get an answer that never parses. It keeps the prompts.
type namingServer struct {
	*httptest.Server
	mu      sync.Mutex
	prompts []string
	garbage map[string]bool
}

func newNamingServer(t *testing.T) *namingServer {
	s := &namingServer{garbage: map[string]bool{}}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Model    string `json:"model"`
			Messages []struct {
				Role    string `json:"role"`
				Content string `json:"content"`
			} `json:"messages"`
		}
		if r.URL.Path != "/v1/chat/completions" || json.NewDecoder(r.Body).Decode(&req) != nil {
			http.Error(w, "unexpected request", 400)
			return
		}
		var user string
		for _, m := range req.Messages {
			if m.Role == "user" {
				user = m.Content
				break
			}
		}
		_, rest, _ := strings.Cut(user, "\n- ")
		first, _, _ := strings.Cut(rest, "\n")
		s.mu.Lock()
		s.prompts = append(s.prompts, user)
		bad := s.garbage[first]
		s.mu.Unlock()
		content, _ := json.Marshal(map[string]string{"name": "Model: " + first, "description": "This group of values emphasized " + first + "."})
		if bad {
			content = []byte("I cannot name this.")
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"id": "x", "object": "chat.completion", "model": req.Model,
			"choices": []map[string]any{{"index": 0, "finish_reason": "stop", "message": map[string]string{"role": "assistant", "content": string(content)}}},
			"usage":   map[string]int{"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20}})
	}))
	t.Cleanup(s.Close)
	return s
}

// taxonomy build names clusters with the built-in contrastive namer plugin
// and a model (--name-model), or another namer plugin, prompt or config.
func TestTaxonomyBuildNamePlugin(t *testing.T) {
	srv := newNamingServer(t)
	dir := t.TempDir()
	demo, err := filepath.Abs(filepath.Join("..", "..", "data", "demo", "conversations.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "config.toml")
	write := func(path, text string) {
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(cfg, fmt.Sprintf(`[run]
name = "naming"
[dataset]
paths = [%q]
[models.chat]
provider = "openai"
base_url = "%s/v1"
model = "gpt-x"
[[stages]]
name = "values"
plugin = "builtin:cue-values"
`, demo, srv.URL))
	values := filepath.Join(dir, "values.csv")
	write(values, "value,count\nhonesty,9\ntruthfulness,5\ntransparency,4\ncandor,1\n"+
		"harm prevention,8\nuser safety,6\nchild safety,2\nrisk awareness,1\n"+
		"creativity,7\nartistic expression,3\noriginality,2\nimagination,1\n")
	tree := filepath.Join(dir, "tree.csv")
	build := func(extra ...string) (int, string, string) {
		return valuescope(t, append([]string{"taxonomy", "build", "--values", values, "--levels", "3,2", "--out", tree, "--config", cfg}, extra...)...)
	}

	code, _, errs := build("--name-model", "chat")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	b, _ := os.ReadFile(tree)
	if n := strings.Count(string(b), ",Model: "); n != 5 {
		t.Errorf("%d clusters named by the model, want 5:\n%s", n, b)
	}
	if len(srv.prompts) != 5 || !strings.Contains(srv.prompts[0], "NOT in the cluster:\n- ") {
		t.Errorf("%d prompts; the first:\n%s", len(srv.prompts), srv.prompts[0])
	}

	// A cluster the plugin fails on keeps the built-in namer's name.
	srv.garbage["honesty"] = true
	code, _, errs = build("--name-model", "chat", "--name-plugin", "builtin:contrastive-namer")
	if code != 0 || !strings.Contains(errs, "1 clusters kept the built-in name (the namer plugin failed on them), e.g. level 1 cluster") ||
		!strings.Contains(errs, `("honesty", `) {
		t.Fatalf("exit %d: %s", code, errs)
	}
	delete(srv.garbage, "honesty")

	// Another prompt and config.
	prompt := filepath.Join(dir, "prompt.md")
	write(prompt, "Name these {{kind}}, as JSON:\n{{members}}")
	srv.prompts = nil
	if code, _, errs = build("--name-model", "chat", "--name-prompt", prompt, "--name-config", `{"max_members": 1}`); code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if p := srv.prompts[0]; !strings.HasPrefix(p, "Name these values, as JSON:\n- ") || !strings.Contains(p, "more)") {
		t.Errorf("prompt %q", p)
	}

	for _, c := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"--name-plugin", "builtin:contrastive-namer"}, 2, "needs a model: give --name-model"},
		{[]string{"--name-model", "chat", "--name-plugin", "builtin:cue-values"}, 1, `is not a namer: its kind is "extractor"`},
		{[]string{"--name-model", "chat", "--name-config", `{"max_members": 0}`}, 1, "max_members: want 1 to 500"},
		{[]string{"--name-prompt", prompt}, 2, "--name-prompt needs --name-plugin or --name-model"},
		{[]string{"--name-model", "ghost"}, 2, "--name-model"},
	} {
		code, _, errs := build(c.args...)
		if code != c.code || !strings.Contains(errs, c.msg) {
			t.Errorf("%v: exit %d, %s; want %d and %q", c.args, code, errs, c.code, c.msg)
		}
	}
}

// plugins list and describe show the namer.
func TestPluginsListNamer(t *testing.T) {
	code, out, errs := valuescope(t, "plugins", "list", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var rows []struct{ Ref, Kind, Field string }
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, r := range rows {
		found = found || r.Ref == "builtin:contrastive-namer" && r.Kind == "namer" && r.Field == "cluster_name"
	}
	if !found {
		t.Errorf("no namer in %s", out)
	}
	if code, out, _ := valuescope(t, "plugins", "describe", "builtin:contrastive-namer"); code != 0 || !strings.Contains(out, `"kind": "namer"`) {
		t.Errorf("describe: exit %d: %s", code, out)
	}
}

// taxonomy build RUN --name-model caches the names in the run's store: a
// build again asks nothing; --reask-names asks every cluster's call again
// (and the build after it, nothing).
func TestTaxonomyBuildReaskNames(t *testing.T) {
	srv := newNamingServer(t)
	dir := t.TempDir()
	demo, err := filepath.Abs(filepath.Join("..", "..", "data", "demo", "conversations.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`[run]
name = "naming"
[dataset]
paths = [%q]
[models.chat]
provider = "openai"
base_url = "%s/v1"
model = "gpt-x"
[[stages]]
name = "values"
plugin = "builtin:cue-values"
`, demo, srv.URL)), 0o644); err != nil {
		t.Fatal(err)
	}
	run := filepath.Join(dir, "run")
	if code, _, errs := valuescope(t, "run", "--quiet", "--no-report", "--out", run, cfg); code != 0 {
		t.Fatalf("run: exit %d: %s", code, errs)
	}
	asked := func(extra ...string) int {
		t.Helper()
		srv.mu.Lock()
		srv.prompts = nil
		srv.mu.Unlock()
		argv := append([]string{"taxonomy", "build", run, "--levels", "4,2", "--out", filepath.Join(dir, "tree.csv"), "--name-model", "chat"}, extra...)
		if code, _, errs := valuescope(t, argv...); code != 0 {
			t.Fatalf("%v: exit %d: %s", extra, code, errs)
		}
		srv.mu.Lock()
		defer srv.mu.Unlock()
		return len(srv.prompts)
	}
	n := asked()
	if n != 6 {
		t.Fatalf("%d calls, want one per cluster (6)", n)
	}
	if m := asked(); m != 0 {
		t.Fatalf("a second build asked %d calls", m)
	}
	if m := asked("--reask-names"); m != n {
		t.Fatalf("--reask-names asked %d calls, want %d", m, n)
	}
	if m := asked(); m != 0 {
		t.Fatalf("the build after --reask-names asked %d calls", m)
	}
	values := filepath.Join(dir, "values.csv")
	os.WriteFile(values, []byte("value,count\nhonesty,9\ncare,5\ncreativity,4\n"), 0o644)
	if code, _, errs := valuescope(t, "taxonomy", "build", "--values", values, "--levels", "2", "--out", filepath.Join(dir, "t.csv"),
		"--config", cfg, "--name-model", "chat", "--reask-names"); code != 2 || !strings.Contains(errs, "--reask-names") {
		t.Fatalf("--reask-names without a run: exit %d: %s", code, errs)
	}
}
