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
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/valuescope/valuescope/host/pipeline"
	"github.com/valuescope/valuescope/internal/fakeapi"
)

// schemaServer is an OpenAI-compatible server answering every chat call
// with a small instance of the JSON Schema the call sent: enough for every
// built-in model plugin. It records the model ids asked for, and counts
// every request in requests (whether it is answered or not).
func schemaServer(t *testing.T) (*httptest.Server, func() map[string]int) {
	return slowSchemaServer(t, 0, nil)
}

func slowSchemaServer(t *testing.T, latency time.Duration, requests *atomic.Int64) (*httptest.Server, func() map[string]int) {
	t.Helper()
	var mu sync.Mutex
	models := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if requests != nil {
			requests.Add(1)
		}
		time.Sleep(latency)
		var req struct {
			Model          string `json:"model"`
			ResponseFormat struct {
				JSONSchema struct {
					Schema json.RawMessage `json:"schema"`
				} `json:"json_schema"`
			} `json:"response_format"`
			Messages []struct {
				Content string `json:"content"`
			} `json:"messages"`
		}
		if r.URL.Path != "/v1/chat/completions" || json.NewDecoder(r.Body).Decode(&req) != nil || len(req.ResponseFormat.JSONSchema.Schema) == 0 {
			http.Error(w, `{"error":{"message":"unexpected request","type":"invalid_request_error"}}`, http.StatusBadRequest)
			return
		}
		mu.Lock()
		models[req.Model]++
		mu.Unlock()
		content, err := fakeapi.SchemaInstance(req.ResponseFormat.JSONSchema.Schema, fmt.Sprint(len(req.Messages[len(req.Messages)-1].Content)%7))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"id": "x", "object": "chat.completion", "model": req.Model,
			"choices": []map[string]any{{"index": 0, "finish_reason": "stop", "message": map[string]string{"role": "assistant", "content": content}}},
			"usage":   map[string]int{"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20}})
	}))
	t.Cleanup(srv.Close)
	return srv, func() map[string]int {
		mu.Lock()
		defer mu.Unlock()
		out := map[string]int{}
		for k, v := range models {
			out[k] = v
		}
		return out
	}
}

// The shipped local-openai.toml reaches any server and model from the
// command line (or the environment), the file unedited: every stage's calls
// go to that URL with that model id, and config.toml records them.
func TestRunModelFromFlags(t *testing.T) {
	srv, asked := schemaServer(t)
	cfg := filepath.Join("..", "..", "configs", "local-openai.toml")
	out := filepath.Join(t.TempDir(), "run")
	code, stdout, stderr := valuescope(t, "run", "--quiet", "--no-report", "--limit", "12", "--out", out,
		"--base-url", srv.URL+"/v1", "--model", "test-model-7b", cfg)
	if code != exitOK {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	if got := asked(); len(got) != 1 || got["test-model-7b"] < 12 {
		t.Fatalf("the server was asked for %v, want test-model-7b for every call", got)
	}
	resolved, _ := os.ReadFile(filepath.Join(out, "config.toml"))
	if !strings.Contains(string(resolved), srv.URL+"/v1") || !strings.Contains(string(resolved), `"test-model-7b"`) {
		t.Fatalf("config.toml does not record the overrides:\n%s", resolved)
	}

	// The environment, for a cluster's pod spec.
	t.Setenv("VALUESCOPE_BASE_URL", "local="+srv.URL+"/v1")
	t.Setenv("VALUESCOPE_MODEL", "other-model")
	if code, stdout, stderr := valuescope(t, "run", "--quiet", "--no-report", "--limit", "3", "--out", filepath.Join(t.TempDir(), "env"), cfg); code != exitOK || asked()["other-model"] == 0 ||
		!strings.Contains(stderr, "--model other-model (from $VALUESCOPE_MODEL)") {
		t.Fatalf("from the environment: exit %d, asked %v\n%s\n%s", code, asked(), stdout, stderr)
	}

	// A name that is not the config's is a usage error, before any call.
	if code, _, stderr := valuescope(t, "run", "--quiet", "--out", filepath.Join(t.TempDir(), "bad"), "--model", "ghost=m", cfg); code == exitOK || !strings.Contains(stderr, `no model "ghost" in the config (defined: local)`) {
		t.Fatalf("unknown model name: exit %d\n%s", code, stderr)
	}
}

// Exit statuses tell the truth about model runs: replaying offline what
// was never asked, or a key the provider refuses, fails the stage for every
// conversation, and the run ends non-zero, naming the cause once (not once
// per cache key).
func TestModelFailuresExitNonZero(t *testing.T) {
	cfg := filepath.Join("..", "..", "configs", "local-openai.toml")
	code, _, stderr := valuescope(t, "run", "--quiet", "--no-report", "--offline", "--out", filepath.Join(t.TempDir(), "offline"), cfg)
	if code != exitStopped || !strings.Contains(stderr, "most common error (20 of 20)") || !strings.Contains(stderr, "offline, and the cache has no answer") {
		t.Fatalf("--offline with an empty cache: exit %d, want %d\n%s", code, exitStopped, stderr)
	}
	code, _, stderr = valuescope(t, "run", "--quiet", "--no-report", "--offline", "--limit", "3", "--out", filepath.Join(t.TempDir(), "few"), cfg)
	if code != exitStageErrors {
		t.Fatalf("--offline, 3 conversations: exit %d, want %d\n%s", code, exitStageErrors, stderr)
	}

	srv := fakeapi.NewOpenAI("the-right-key")
	defer srv.Close()
	t.Setenv("TEST_LLM_KEY", "a-wrong-key")
	keyed := filepath.Join(t.TempDir(), "keyed.toml")
	src, _ := os.ReadFile(cfg)
	text := strings.Replace(string(src), `# api_key_env = "LOCAL_LLM_API_KEY"`, `api_key_env = "TEST_LLM_KEY"`, 1)
	text = strings.ReplaceAll(text, `"prompts/`, `"`+filepath.Join(mustAbs(t, filepath.Join("..", "..", "configs")), "prompts")+`/`)
	text = strings.ReplaceAll(text, `"../data/`, `"`+mustAbs(t, filepath.Join("..", "..", "data"))+`/`)
	os.WriteFile(keyed, []byte(text), 0o644)
	code, _, stderr = valuescope(t, "run", "--quiet", "--no-report", "--base-url", srv.BaseURL(), "--out", filepath.Join(t.TempDir(), "wrongkey"), keyed)
	if code != exitStopped || !strings.Contains(stderr, "401") {
		t.Fatalf("a refused key: exit %d, want %d naming the 401\n%s", code, exitStopped, stderr)
	}
}

func mustAbs(t *testing.T, p string) string {
	t.Helper()
	abs, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

// A run killed (SIGKILL) three times and resumed counts, over its
// invocations, every request the server received: each is recorded before
// it is sent, and a killed invocation's count is taken from the store. The
// count can exceed the server's only by a request a kill stopped between
// being recorded and reaching the server (at most one per kill here; the
// window is the time it takes to write a request to a socket).
func TestUsageOverKills(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and kills it")
	}
	var requests atomic.Int64
	srv, _ := slowSchemaServer(t, 20*time.Millisecond, &requests)
	bin := buildValuescope(t)
	out := filepath.Join(t.TempDir(), "run")
	argv := []string{"run", "--quiet", "--no-report", "--limit", "40", "--base-url", srv.URL + "/v1", "--model", "m", "--out", out,
		filepath.Join("..", "..", "configs", "local-openai.toml")}
	for kill := 0; kill < 3; kill++ {
		before := requests.Load()
		p, err := startValuescope(bin, argv...)
		if err != nil {
			t.Fatal(err)
		}
		// Killed once it has sent a few requests, mid-run.
		for deadline := time.Now().Add(30 * time.Second); requests.Load() < before+5+int64(kill)*3; time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) || p.exited() {
				t.Fatalf("invocation %d sent %d requests and %v", kill, requests.Load()-before, p.wait())
			}
		}
		syscall.Kill(p.cmd.Process.Pid, syscall.SIGKILL)
		p.wait()
	}
	if r := runValuescope(bin, argv...); r.code != exitOK {
		t.Fatalf("the last invocation: %s", r)
	}
	m := readManifest(t, out)
	var total int64
	for _, u := range m.ModelUsage {
		total += u.Requests
	}
	got := requests.Load()
	if len(m.Invocations) != 4 || total < got || total > got+3 {
		t.Fatalf("manifest: %d invocations, %d requests in all; the server received %d", len(m.Invocations), total, got)
	}
	t.Logf("manifest: %d requests over 4 invocations (3 killed); the server received %d", total, got)
	for i, inv := range m.Invocations[:3] {
		var n int64
		for _, u := range inv.Models {
			n += u.Requests
		}
		if inv.Complete || n == 0 {
			t.Errorf("killed invocation %d: complete %v, %d requests", i, inv.Complete, n)
		}
	}
}

// validate says ok to a config whose key variable is unset, and warns that
// run will refuse it.
func TestValidateWarnsOfUnsetKey(t *testing.T) {
	cfg := filepath.Join("..", "..", "configs", "paper-replication.toml")
	t.Setenv("ANTHROPIC_API_KEY", "")
	code, stdout, stderr := valuescope(t, "validate", cfg)
	if code != exitOK || !strings.Contains(stdout, "ok") || !strings.Contains(stderr, "warning: model claude: the environment variable ANTHROPIC_API_KEY, which should hold its API key, is not set") {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	t.Setenv("ANTHROPIC_API_KEY", "set")
	if _, _, stderr := valuescope(t, "validate", cfg); strings.Contains(stderr, "warning") {
		t.Fatalf("a warning with the key set: %s", stderr)
	}
	// A local server needs no key: no warning.
	if _, _, stderr := valuescope(t, "validate", filepath.Join("..", "..", "configs", "local-openai.toml")); strings.Contains(stderr, "warning") {
		t.Fatalf("a warning for a local server: %s", stderr)
	}
}

func TestEstimate(t *testing.T) {
	for _, c := range []struct {
		p     pipeline.Progress
		total int64
		want  string
	}{
		{pipeline.Progress{Conversations: 100, Done: 100, Elapsed: time.Minute, DatasetRead: 25, DatasetSize: 100}, 0, "about 400 in all, 3m0s left"},
		// Resumed: 20 skipped at once, 30 done in 10 s, 150 to go.
		{pipeline.Progress{Conversations: 50, Done: 30, Skipped: 20, Elapsed: 10 * time.Second}, 200, "about 200 in all, 50s left"},
		{pipeline.Progress{Conversations: 1000, Done: 10, Skipped: 990, Elapsed: 10 * time.Second, DatasetRead: 50, DatasetSize: 100}, 0, "about 2000 in all, 16m40s left"},
		// A batch run: 10,000 read and waiting, 100 answered.
		{pipeline.Progress{Conversations: 10100, Done: 100, Elapsed: time.Minute, DatasetRead: 100, DatasetSize: 100}, 0, "about 10100 in all, 1h40m0s left"},
		{pipeline.Progress{Conversations: 50, Done: 50, Elapsed: 10 * time.Second}, 0, ""}, // a source that cannot say
		{pipeline.Progress{Elapsed: time.Second, DatasetSize: 100}, 0, ""},
		{pipeline.Progress{Conversations: 9, Done: 9, Elapsed: time.Second, DatasetRead: 100, DatasetSize: 100, Finished: true}, 0, ""},
	} {
		if got := estimate(c.p, c.total); got != c.want {
			t.Errorf("%+v, total %d: %q, want %q", c.p, c.total, got, c.want)
		}
	}
}
