package anthropic_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/valuescope/valuescope/host/model/anthropic"
	"github.com/valuescope/valuescope/host/model/provider"
	"github.com/valuescope/valuescope/internal/fakeapi"
)

const key = "sk-ant-test-0123456789"

func client(t *testing.T, srv *fakeapi.Anthropic, mode string) *anthropic.Client {
	t.Helper()
	c, err := anthropic.New(anthropic.Options{BaseURL: srv.URL, APIKey: key, SchemaMode: mode})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func req(text string) *provider.Request {
	return &provider.Request{Model: "claude-test", System: "Be brief.", MaxTokens: 100,
		Messages: []provider.Message{{Role: "user", Content: text}}}
}

func TestMessages(t *testing.T) {
	srv := fakeapi.NewAnthropic(key)
	defer srv.Close()
	c := client(t, srv, "")
	r, err := c.Complete(context.Background(), req("hello there"))
	if err != nil {
		t.Fatal(err)
	}
	if r.Text != "answer: hello there" || r.StopReason != provider.StopEnd || r.Usage.InputTokens == 0 || r.Usage.OutputTokens == 0 || r.Model != "claude-test" {
		t.Fatalf("%+v", r)
	}
	// A schema goes through a forced tool; the answer is the tool's input.
	rq := req("x")
	rq.Schema = json.RawMessage(`{"type":"object","properties":{"answer":{"type":"string"}}}`)
	r, err = c.Complete(context.Background(), rq)
	if err != nil || r.Text != `{"answer":"answer: x"}` || r.StopReason != provider.StopEnd {
		t.Fatalf("tool: %+v %v", r, err)
	}
	// ... or as output_config.format.
	r, err = client(t, srv, anthropic.SchemaOutputConfig).Complete(context.Background(), rq)
	if err != nil || r.Text != "answer: x" {
		t.Fatalf("output_config: %+v %v", r, err)
	}
	// The key went in x-api-key and nowhere in a body.
	for _, b := range srv.Bodies() {
		if strings.Contains(string(b), key) {
			t.Fatal("key in a request body")
		}
	}
}

func TestErrors(t *testing.T) {
	srv := fakeapi.NewAnthropic(key)
	defer srv.Close()
	srv.RetryAfter = "7"
	faults := []fakeapi.Fault{fakeapi.RateLimit, fakeapi.Overloaded, fakeapi.ServerError, fakeapi.BadRequest, fakeapi.Malformed, fakeapi.Cut}
	srv.Fault = func(n int64, _ string) fakeapi.Fault { return faults[n-1] }
	c := client(t, srv, "")
	want := []struct {
		status    int
		typ       string
		retryable bool
	}{{429, "rate_limit_error", true}, {529, "overloaded_error", true}, {500, "api_error", true},
		{400, "invalid_request_error", false}, {200, "", true}, {200, "", true}}
	for i, w := range want {
		_, err := c.Complete(context.Background(), req("q"))
		e, ok := provider.AsError(err)
		if !ok || e.Status != w.status || e.Type != w.typ || e.Retryable != w.retryable {
			t.Fatalf("fault %v: %#v", faults[i], err)
		}
		if i == 0 && e.RetryAfter.Seconds() != 7 {
			t.Fatalf("retry-after: %v", e.RetryAfter)
		}
		if i == 1 && !strings.Contains(e.Error(), "529 Overloaded: overloaded_error: Overloaded") {
			t.Fatalf("529 message: %v", e)
		}
	}
	// A wrong key: 401, not retryable, and the key is not in the message.
	bad, _ := anthropic.New(anthropic.Options{BaseURL: srv.URL, APIKey: "sk-wrong-key-123"})
	srv.Fault = nil
	_, err := bad.Complete(context.Background(), req("q"))
	if e, ok := provider.AsError(err); !ok || e.Status != http.StatusUnauthorized || e.Retryable || strings.Contains(err.Error(), "sk-wrong") {
		t.Fatalf("401: %v", err)
	}
	if _, err := c.Embed(context.Background(), req("q")); !errors.Is(err, provider.ErrNoEmbeddings) {
		t.Fatalf("embed: %v", err)
	}
}

func TestBatches(t *testing.T) {
	srv := fakeapi.NewAnthropic(key)
	defer srv.Close()
	srv.PollsToEnd = 2
	srv.BatchResult = func(id, last string) string {
		switch last {
		case "b":
			return "errored"
		case "c":
			return "expired"
		case "d":
			return "invalid"
		}
		return "succeeded"
	}
	c := client(t, srv, "")
	ctx := context.Background()
	var reqs []provider.BatchRequest
	for _, s := range []string{"a", "b", "c", "d"} {
		reqs = append(reqs, provider.BatchRequest{CustomID: "id-" + s, Request: req(s)})
	}
	b, err := c.CreateBatch(ctx, reqs)
	if err != nil || b.Ended || b.Status != "in_progress" {
		t.Fatalf("%+v %v", b, err)
	}
	for !b.Ended {
		if b, err = c.GetBatch(ctx, b.ID); err != nil {
			t.Fatal(err)
		}
	}
	got := map[string]provider.BatchResult{}
	if err := c.BatchResults(ctx, b, func(r provider.BatchResult) error { got[r.CustomID] = r; return nil }); err != nil {
		t.Fatal(err)
	}
	if r := got["id-a"]; r.Err != nil || r.Response.Text != "answer: a" {
		t.Fatalf("a: %+v", r)
	}
	for id, retry := range map[string]bool{"id-b": true, "id-c": true, "id-d": false} {
		e, ok := provider.AsError(got[id].Err)
		if !ok || e.Retryable != retry {
			t.Fatalf("%s: %v", id, got[id].Err)
		}
	}
	// Duplicate custom ids are refused by the API.
	if _, err := c.CreateBatch(ctx, append(reqs[:1:1], reqs[0])); err == nil {
		t.Fatal("duplicate custom_id accepted")
	}
}

// A 429's rate-limit headers, as the API documents and sends them (resets
// in RFC 3339, whole seconds), say which shared limits are used up and
// when they reset; a 429 that says none is, is for its call alone.
func TestRateLimitHeaders(t *testing.T) {
	reset := "2031-05-01T12:00:07Z"
	later := "2031-05-01T12:00:42Z"
	for _, c := range []struct {
		name      string
		status    int
		headers   map[string]string
		exhausted []string
		reset     string
	}{
		{"requests", 429, map[string]string{"anthropic-ratelimit-requests-remaining": "0", "anthropic-ratelimit-requests-reset": reset,
			"anthropic-ratelimit-tokens-remaining": "96000", "anthropic-ratelimit-tokens-reset": later}, []string{"requests"}, reset},
		{"input and output tokens", 429, map[string]string{"anthropic-ratelimit-requests-remaining": "999",
			"anthropic-ratelimit-input-tokens-remaining": "0", "anthropic-ratelimit-input-tokens-reset": reset,
			"anthropic-ratelimit-output-tokens-remaining": "0", "anthropic-ratelimit-output-tokens-reset": later},
			[]string{"input_tokens", "output_tokens"}, later},
		{"tokens, no reset", 429, map[string]string{"anthropic-ratelimit-tokens-remaining": "0"}, []string{"tokens"}, ""},
		{"some remain", 429, map[string]string{"anthropic-ratelimit-requests-remaining": "12", "anthropic-ratelimit-requests-reset": reset}, nil, ""},
		{"no headers", 429, nil, nil, ""},
		{"not a 429", 529, map[string]string{"anthropic-ratelimit-requests-remaining": "0", "anthropic-ratelimit-requests-reset": reset}, nil, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				for k, v := range c.headers {
					w.Header().Set(k, v)
				}
				w.Header().Set("retry-after", "3")
				w.WriteHeader(c.status)
				w.Write([]byte(`{"type":"error","error":{"type":"rate_limit_error","message":"slow down"}}`))
			}))
			defer srv.Close()
			cl, _ := anthropic.New(anthropic.Options{BaseURL: srv.URL, APIKey: key})
			_, err := cl.Complete(context.Background(), req("q"))
			e, ok := provider.AsError(err)
			if !ok || e.Status != c.status || e.RetryAfter != 3*time.Second {
				t.Fatalf("%#v", err)
			}
			var want time.Time
			if c.reset != "" {
				want, _ = time.Parse(time.RFC3339, c.reset)
			}
			if !slices.Equal(e.Exhausted, c.exhausted) || !e.Reset.Equal(want) {
				t.Fatalf("exhausted %q until %v, want %q until %v", e.Exhausted, e.Reset, c.exhausted, want)
			}
		})
	}
	// The fake's headers read the same way (its resets to the millisecond).
	srv := fakeapi.NewAnthropic(key)
	defer srv.Close()
	until := time.Now().Add(time.Hour).Truncate(time.Millisecond)
	srv.Exhaust(until)
	_, err := client(t, srv, "").Complete(context.Background(), req("q"))
	if e, ok := provider.AsError(err); !ok || !slices.Equal(e.Exhausted, []string{"requests"}) || !e.Reset.Equal(until) {
		t.Fatalf("%#v", err)
	}
}
