package taxonomy

import (
	"context"
	"fmt"

	"github.com/valuescope/valuescope/sdk/protocol"
)

// ModelCaller performs model calls: the model package's *model.Caller (with
// its cache, limits and retries) is one.
type ModelCaller interface {
	Call(ctx context.Context, calls []protocol.ModelCall) ([]protocol.ModelResponse, error)
}

// ModelEmbedder embeds texts through a model's embeddings endpoint (an
// OpenAI-compatible provider), Batch texts per call (default 256).
type ModelEmbedder struct {
	Caller ModelCaller
	Model  string
	Batch  int
}

// Embed implements Embedder.
func (m ModelEmbedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	b := m.Batch
	if b <= 0 {
		b = 256
	}
	var calls []protocol.ModelCall
	for lo := 0; lo < len(texts); lo += b {
		c := protocol.ModelCall{ID: fmt.Sprintf("embed-%d", lo/b), Model: m.Model, Kind: "embed"}
		for _, t := range texts[lo:min(lo+b, len(texts))] {
			c.Messages = append(c.Messages, protocol.Message{Role: "user", Content: t})
		}
		calls = append(calls, c)
	}
	resps, err := m.Caller.Call(ctx, calls)
	if err != nil {
		return nil, err
	}
	if len(resps) != len(calls) {
		return nil, fmt.Errorf("%d answers to %d embedding calls", len(resps), len(calls))
	}
	out := make([][]float32, 0, len(texts))
	for i, r := range resps {
		if r.Error != "" {
			return nil, fmt.Errorf("embedding texts %d to %d: %s", i*b+1, min((i+1)*b, len(texts)), r.Error)
		}
		if len(r.Embeddings) != len(calls[i].Messages) {
			return nil, fmt.Errorf("embedding call %d: %d vectors for %d texts", i, len(r.Embeddings), len(calls[i].Messages))
		}
		for _, e := range r.Embeddings {
			out = append(out, e.Vector)
		}
	}
	return out, nil
}
