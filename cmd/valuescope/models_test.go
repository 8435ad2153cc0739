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

	"github.com/valuescope/valuescope/internal/fakeapi"
)

// schemaServer is an OpenAI-compatible server answering every chat call
// with a small instance of the JSON Schema the call sent: enough for every
// built-in model plugin. It records the model ids asked for.
func schemaServer(t *testing.T) (*httptest.Server, func() map[string]int) {
	t.Helper()
	var mu sync.Mutex
	models := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
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
	if code, stdout, stderr := valuescope(t, "run", "--quiet", "--no-report", "--limit", "3", "--out", filepath.Join(t.TempDir(), "env"), cfg); code != exitOK || asked()["other-model"] == 0 {
		t.Fatalf("from the environment: exit %d, asked %v\n%s\n%s", code, asked(), stdout, stderr)
	}

	// A name that is not the config's is a usage error, before any call.
	if code, _, stderr := valuescope(t, "run", "--quiet", "--out", filepath.Join(t.TempDir(), "bad"), "--model", "ghost=m", cfg); code == exitOK || !strings.Contains(stderr, `no model "ghost" in the config (defined: local)`) {
		t.Fatalf("unknown model name: exit %d\n%s", code, stderr)
	}
}
