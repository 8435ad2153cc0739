package pluginnamer

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/valuescope/valuescope/host/model"
	"github.com/valuescope/valuescope/host/plugin"
	"github.com/valuescope/valuescope/host/taxonomy"
	"github.com/valuescope/valuescope/host/taxonomy/embed"
)

// An OpenAI-compatible server inside the test: embeddings are the offline
// embedder's vectors, chat answers name clusters after the first member the
// prompt lists.
func fakeOpenAI(t *testing.T) (*httptest.Server, *atomic.Int64, *atomic.Int64) {
	off, err := embed.NewOffline()
	if err != nil {
		t.Fatal(err)
	}
	var nEmbed, nChat atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Model    string   `json:"model"`
			Input    []string `json:"input"`
			Messages []struct {
				Content string `json:"content"`
			} `json:"messages"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/v1/embeddings":
			nEmbed.Add(1)
			vecs, _ := off.Embed(r.Context(), req.Input)
			var data []map[string]any
			for i, v := range vecs {
				data = append(data, map[string]any{"object": "embedding", "index": i, "embedding": v})
			}
			json.NewEncoder(w).Encode(map[string]any{"object": "list", "data": data, "model": req.Model,
				"usage": map[string]int{"prompt_tokens": len(req.Input), "total_tokens": len(req.Input)}})
		case "/v1/chat/completions":
			nChat.Add(1)
			prompt := req.Messages[len(req.Messages)-1].Content
			first := strings.SplitN(strings.SplitN(prompt, "\n- ", 2)[1], "\n", 2)[0]
			content, _ := json.Marshal(map[string]string{"name": "Model: " + first, "description": "This group of values emphasized " + first + "."})
			json.NewEncoder(w).Encode(map[string]any{"id": "x", "object": "chat.completion", "model": req.Model,
				"choices": []map[string]any{{"index": 0, "finish_reason": "stop", "message": map[string]string{"role": "assistant", "content": string(content)}}},
				"usage":   map[string]int{"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20}})
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, &nEmbed, &nChat
}

func TestBuildWithModels(t *testing.T) {
	srv, nEmbed, nChat := fakeOpenAI(t)
	client, err := model.New([]model.Model{
		{Name: "emb", Settings: model.Settings{Provider: "openai", Model: "text-embedding-3-small", BaseURL: srv.URL + "/v1"}},
		{Name: "chat", Settings: model.Settings{Provider: "openai", Model: "gpt-x", BaseURL: srv.URL + "/v1"}},
	}, model.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	ec, err := client.ForStage("taxonomy", "emb")
	if err != nil {
		t.Fatal(err)
	}
	cc, err := client.ForStage("taxonomy", "chat")
	if err != nil {
		t.Fatal(err)
	}
	namer, err := Load(context.Background(), DefaultPlugin, plugin.Options{Log: quiet}, cc)
	if err != nil {
		t.Fatal(err)
	}
	defer namer.Plugin.Close()
	vals, _, err := taxonomy.ReadValuesCSV("../testdata/values.csv")
	if err != nil {
		t.Fatal(err)
	}
	tree, _, err := taxonomy.Build(context.Background(), vals, taxonomy.Options{Levels: []int{8, 3}, Embedder: taxonomy.ModelEmbedder{Caller: ec, Model: "emb"}, Namer: namer})
	if err != nil {
		t.Fatal(err)
	}
	if nEmbed.Load() == 0 || nChat.Load() != 11 {
		t.Errorf("%d embedding requests, %d chat requests (want 11: one per cluster)", nEmbed.Load(), nChat.Load())
	}
	for _, n := range tree.Level(1) {
		if !strings.HasPrefix(n.Name, "Model: ") || !strings.HasPrefix(n.Description, "This group") {
			t.Errorf("cluster named %q / %q", n.Name, n.Description)
		}
	}
	// the same tree as with the offline embedder directly
	off, _ := buildSmall(t, taxonomy.Options{Namer: namer})
	for _, l := range off.Level(0) {
		if tree.Ancestor(l.ID, 1) != off.Ancestor(l.ID, 1) {
			t.Fatalf("%q: embedding through the model API changed the clustering", l.ID)
		}
	}
}
