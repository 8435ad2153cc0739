package openai_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/valuescope/valuescope/host/model/openai"
	"github.com/valuescope/valuescope/host/model/provider"
	"github.com/valuescope/valuescope/internal/fakeapi"
)

const key = "sk-proj-test-0123456789"

func TestChat(t *testing.T) {
	srv := fakeapi.NewOpenAI(key)
	defer srv.Close()
	c, err := openai.New(openai.Options{BaseURL: srv.BaseURL(), APIKey: key})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	req := &provider.Request{Model: "gpt-test", System: "sys", MaxTokens: 50, Messages: []provider.Message{{Role: "user", Content: "hi"}}}
	r, err := c.Complete(ctx, req)
	if err != nil || r.Text != "answer: hi" || r.StopReason != provider.StopEnd || r.Usage.InputTokens == 0 {
		t.Fatalf("%+v %v", r, err)
	}
	// A schema goes out as response_format json_schema.
	req.Schema = json.RawMessage(`{"type":"object"}`)
	r, err = c.Complete(ctx, req)
	if err != nil || r.Text != `{"answer":"answer: hi"}` {
		t.Fatalf("schema: %+v %v", r, err)
	}
	// Truncated at max_tokens: "length" becomes max_tokens.
	req.Schema, req.MaxTokens = nil, 1
	r, err = c.Complete(ctx, req)
	if err != nil || r.StopReason != provider.StopMaxTokens || r.Text != "answer:" {
		t.Fatalf("length: %+v %v", r, err)
	}
}

// A server that refuses response_format gets the request without it, then
// never again.
func TestNoResponseFormat(t *testing.T) {
	srv := fakeapi.NewOpenAI("")
	defer srv.Close()
	srv.NoResponseFormat = true
	c, _ := openai.New(openai.Options{BaseURL: srv.BaseURL()})
	req := &provider.Request{Model: "llama", Messages: []provider.Message{{Role: "user", Content: "hi"}}, Schema: json.RawMessage(`{"type":"object"}`)}
	for range 2 {
		r, err := c.Complete(context.Background(), req)
		if err != nil || r.Text != "answer: hi" {
			t.Fatalf("%+v %v", r, err)
		}
	}
	if n := srv.Requests.Load(); n != 2 {
		// The refusals come before the fault counter; only answered requests count.
		t.Fatalf("%d requests answered", n)
	}
	if len(srv.Bodies()) != 3 {
		t.Fatalf("%d requests, want 3 (one refused)", len(srv.Bodies()))
	}
}

func TestEmbeddings(t *testing.T) {
	srv := fakeapi.NewOpenAI(key)
	defer srv.Close()
	c, _ := openai.New(openai.Options{BaseURL: srv.BaseURL(), APIKey: key})
	in := []string{"honesty", "care", "autonomy"}
	r, err := c.Embed(context.Background(), &provider.Request{Model: "emb", Inputs: in})
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range in {
		want := fakeapi.Vector(s, 8)
		for j := range want {
			if r.Embeddings[i][j] != want[j] {
				t.Fatalf("input %d: %v, want %v", i, r.Embeddings[i], want)
			}
		}
	}
}

func TestErrors(t *testing.T) {
	srv := fakeapi.NewOpenAI(key)
	defer srv.Close()
	faults := []fakeapi.Fault{fakeapi.RateLimit, fakeapi.ServerError, fakeapi.BadRequest, fakeapi.Malformed, fakeapi.Cut}
	srv.Fault = func(n int64, _ string) fakeapi.Fault { return faults[n-1] }
	c, _ := openai.New(openai.Options{BaseURL: srv.BaseURL(), APIKey: key})
	want := []struct {
		status    int
		retryable bool
	}{{429, true}, {500, true}, {400, false}, {200, true}, {200, true}}
	for i, w := range want {
		_, err := c.Complete(context.Background(), &provider.Request{Model: "m", Messages: []provider.Message{{Role: "user", Content: "q"}}})
		e, ok := provider.AsError(err)
		if !ok || e.Status != w.status || e.Retryable != w.retryable {
			t.Fatalf("fault %v: %v", faults[i], err)
		}
	}
	// The maximal-tokens field follows the server.
	c2, _ := openai.New(openai.Options{BaseURL: "https://api.openai.com/v1"})
	if !strings.Contains(c2.Endpoint().Options, "max_completion_tokens") {
		t.Fatal(c2.Endpoint())
	}
}

// A 429's rate-limit headers, as OpenAI sends them (resets as durations
// from now), say which shared limits are used up and when they reset; a
// 429 that says none is (or a server without such headers) is for its
// call alone.
func TestRateLimitHeaders(t *testing.T) {
	for _, c := range []struct {
		name      string
		headers   map[string]string
		exhausted []string
		reset     time.Duration // from the answer
	}{
		{"requests", map[string]string{"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "20ms",
			"x-ratelimit-remaining-tokens": "159976", "x-ratelimit-reset-tokens": "9ms"}, []string{"requests"}, 20 * time.Millisecond},
		{"both", map[string]string{"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "1s",
			"x-ratelimit-remaining-tokens": "0", "x-ratelimit-reset-tokens": "6m0s"}, []string{"requests", "tokens"}, 6 * time.Minute},
		{"seconds", map[string]string{"x-ratelimit-remaining-tokens": "0", "x-ratelimit-reset-tokens": "1.5"}, []string{"tokens"}, 1500 * time.Millisecond},
		{"some remain", map[string]string{"x-ratelimit-remaining-requests": "4999", "x-ratelimit-reset-requests": "12ms"}, nil, 0},
		{"unknown (Azure's -1)", map[string]string{"x-ratelimit-remaining-tokens": "-1", "x-ratelimit-reset-tokens": "0"}, nil, 0},
		{"no headers", nil, nil, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				for k, v := range c.headers {
					w.Header().Set(k, v)
				}
				w.WriteHeader(http.StatusTooManyRequests)
				w.Write([]byte(`{"error":{"message":"Rate limit reached","type":"requests","code":"rate_limit_exceeded"}}`))
			}))
			defer srv.Close()
			cl, _ := openai.New(openai.Options{BaseURL: srv.URL, APIKey: key})
			before := time.Now()
			_, err := cl.Complete(context.Background(), &provider.Request{Model: "m", MaxTokens: 5, Messages: []provider.Message{{Role: "user", Content: "hi"}}})
			after := time.Now()
			e, ok := provider.AsError(err)
			if !ok || e.Status != http.StatusTooManyRequests || !e.Retryable {
				t.Fatalf("%#v", err)
			}
			if !slices.Equal(e.Exhausted, c.exhausted) {
				t.Fatalf("exhausted %q, want %q", e.Exhausted, c.exhausted)
			}
			if c.reset == 0 && !e.Reset.IsZero() || c.reset != 0 && (e.Reset.Before(before.Add(c.reset)) || e.Reset.After(after.Add(c.reset))) {
				t.Fatalf("reset %v, want %v after the answer", e.Reset.Sub(before), c.reset)
			}
		})
	}
	// The fake's headers read the same way.
	srv := fakeapi.NewOpenAI(key)
	defer srv.Close()
	cl, _ := openai.New(openai.Options{BaseURL: srv.BaseURL(), APIKey: key})
	until := time.Now().Add(time.Hour)
	srv.Exhaust(until)
	_, err := cl.Complete(context.Background(), &provider.Request{Model: "m", MaxTokens: 5, Messages: []provider.Message{{Role: "user", Content: "hi"}}})
	if e, ok := provider.AsError(err); !ok || !slices.Equal(e.Exhausted, []string{"requests"}) || e.Reset.Sub(until).Abs() > time.Second {
		t.Fatalf("%#v", err)
	}
}
