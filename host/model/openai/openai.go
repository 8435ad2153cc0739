// Package openai speaks the OpenAI chat completions (POST
// {base_url}/chat/completions) and embeddings (POST {base_url}/embeddings)
// APIs, which OpenAI itself, vLLM, llama.cpp's server and Ollama all serve:
// base_url is everything before /chat/completions, as in OpenAI's own SDKs
// ("https://api.openai.com/v1", "http://localhost:8000/v1",
// "http://localhost:11434/v1").
//
// A request's JSON Schema goes out as response_format {"type":"json_schema"}.
// A server that refuses response_format (an HTTP 400 that names it) gets
// the request again without it, and every later one too; the answer then
// relies on the prompt alone.
package openai

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/valuescope/valuescope/host/model/provider"
)

// DefaultBaseURL is OpenAI's API.
const DefaultBaseURL = "https://api.openai.com/v1"

// Options configure a Client.
type Options struct {
	BaseURL    string // default DefaultBaseURL
	APIKey     provider.Secret
	HTTPClient *http.Client
	// MaxTokensField is the request field that bounds the answer:
	// "max_completion_tokens" on api.openai.com (its newer models refuse
	// max_tokens), "max_tokens" elsewhere (vLLM, llama.cpp, Ollama).
	MaxTokensField string
	// Strict asks OpenAI to enforce the schema exactly (json_schema.strict);
	// the schema must then meet OpenAI's rules for strict schemas.
	Strict bool
	// NoResponseFormat never sends response_format.
	NoResponseFormat bool
}

// Client is one OpenAI-compatible server. It is safe for concurrent use.
type Client struct {
	base     string
	key      provider.Secret
	http     *http.Client
	maxField string
	strict   bool
	noFormat atomic.Bool // the server refused response_format, or the options said so
}

const name = "openai"

// New returns a client.
func New(opts Options) (*Client, error) {
	if opts.BaseURL == "" {
		opts.BaseURL = DefaultBaseURL
	}
	u, err := url.Parse(opts.BaseURL)
	if err != nil {
		return nil, fmt.Errorf("openai: base_url %q: %v", opts.BaseURL, err)
	}
	switch opts.MaxTokensField {
	case "":
		opts.MaxTokensField = "max_tokens"
		if u.Host == "api.openai.com" {
			opts.MaxTokensField = "max_completion_tokens"
		}
	case "max_tokens", "max_completion_tokens":
	default:
		return nil, fmt.Errorf("openai: max tokens field %q: want max_tokens or max_completion_tokens", opts.MaxTokensField)
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Transport: provider.NewTransport(64)}
	}
	c := &Client{base: strings.TrimRight(opts.BaseURL, "/"), key: opts.APIKey, http: opts.HTTPClient, maxField: opts.MaxTokensField, strict: opts.Strict}
	c.noFormat.Store(opts.NoResponseFormat)
	return c, nil
}

// Endpoint implements provider.Provider.
func (c *Client) Endpoint() provider.Endpoint {
	opts := c.maxField
	if c.strict {
		opts += ",strict"
	}
	return provider.Endpoint{Provider: name, BaseURL: c.base, Options: opts}
}

// ChatMessage is a message of a chat completion request or answer.
type ChatMessage struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
	Refusal string          `json:"refusal,omitempty"`
}

// ResponseFormat is response_format.
type ResponseFormat struct {
	Type       string      `json:"type"`
	JSONSchema *JSONSchema `json:"json_schema,omitempty"`
}

type JSONSchema struct {
	Name   string          `json:"name"`
	Schema json.RawMessage `json:"schema"`
	Strict bool            `json:"strict,omitempty"`
}

// Completion is the answer of /chat/completions.
type Completion struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Model   string `json:"model"`
	Choices []struct {
		Index        int          `json:"index"`
		Message      *ChatMessage `json:"message"`
		FinishReason string       `json:"finish_reason"`
	} `json:"choices"`
	Usage *struct {
		PromptTokens     int64 `json:"prompt_tokens"`
		CompletionTokens int64 `json:"completion_tokens"`
		TotalTokens      int64 `json:"total_tokens"`
	} `json:"usage"`
}

func (c *Client) body(req *provider.Request, format bool) map[string]any {
	msgs := make([]map[string]string, 0, len(req.Messages)+1)
	if req.System != "" {
		msgs = append(msgs, map[string]string{"role": "system", "content": req.System})
	}
	for _, m := range req.Messages {
		msgs = append(msgs, map[string]string{"role": m.Role, "content": m.Content})
	}
	b := map[string]any{"model": req.Model, "messages": msgs, "temperature": req.Temperature}
	if req.MaxTokens > 0 {
		b[c.maxField] = req.MaxTokens
	}
	if format && len(req.Schema) > 0 {
		b["response_format"] = ResponseFormat{Type: "json_schema", JSONSchema: &JSONSchema{Name: "answer", Schema: req.Schema, Strict: c.strict}}
	}
	return b
}

// Complete implements provider.Provider.
func (c *Client) Complete(ctx context.Context, req *provider.Request) (*provider.Response, error) {
	if len(req.Messages) == 0 {
		return nil, &provider.Error{Provider: name, Type: "invalid_request", Message: "no messages"}
	}
	format := len(req.Schema) > 0 && !c.noFormat.Load()
	body, err := c.post(ctx, "/chat/completions", c.body(req, format))
	if e, ok := provider.AsError(err); ok && format && e.Status == http.StatusBadRequest && refusesFormat(e.Message) {
		c.noFormat.Store(true)
		body, err = c.post(ctx, "/chat/completions", c.body(req, false))
	}
	if err != nil {
		return nil, err
	}
	var comp Completion
	if err := json.Unmarshal(body, &comp); err != nil {
		return nil, provider.Malformed(name, "chat completion", err)
	}
	if len(comp.Choices) == 0 || comp.Choices[0].Message == nil {
		return nil, provider.Malformed(name, "chat completion without choices", nil)
	}
	ch := comp.Choices[0]
	text, err := content(ch.Message.Content)
	if err != nil {
		return nil, provider.Malformed(name, "message content", err)
	}
	r := &provider.Response{Text: text, Model: comp.Model, StopReason: ch.FinishReason}
	switch ch.FinishReason {
	case "stop", "":
		r.StopReason = provider.StopEnd
	case "length":
		r.StopReason = provider.StopMaxTokens
	}
	if ch.Message.Refusal != "" && text == "" {
		r.StopReason = "refusal"
		r.Text = ch.Message.Refusal
	}
	if comp.Usage != nil {
		r.Usage = provider.Usage{InputTokens: comp.Usage.PromptTokens, OutputTokens: comp.Usage.CompletionTokens}
	}
	return r, nil
}

// refusesFormat tells a 400 about response_format from other bad requests.
func refusesFormat(msg string) bool {
	m := strings.ToLower(msg)
	return strings.Contains(m, "response_format") || strings.Contains(m, "json_schema") || strings.Contains(m, "response format")
}

// content reads a message's content: a string, null, or an array of parts.
func content(raw json.RawMessage) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	var s string
	if raw[0] == '"' {
		err := json.Unmarshal(raw, &s)
		return s, err
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if err := json.Unmarshal(raw, &parts); err != nil {
		return "", err
	}
	var b strings.Builder
	for _, p := range parts {
		if p.Type == "text" || p.Type == "output_text" {
			b.WriteString(p.Text)
		}
	}
	return b.String(), nil
}

// EmbeddingList is the answer of /embeddings.
type EmbeddingList struct {
	Object string `json:"object"`
	Model  string `json:"model"`
	Data   []struct {
		Index     int       `json:"index"`
		Embedding []float32 `json:"embedding"`
	} `json:"data"`
	Usage *struct {
		PromptTokens int64 `json:"prompt_tokens"`
		TotalTokens  int64 `json:"total_tokens"`
	} `json:"usage"`
}

// MaxInputs bounds the inputs of one embeddings request (OpenAI's limit);
// more are sent in several.
const MaxInputs = 2048

// Embed implements provider.Provider.
func (c *Client) Embed(ctx context.Context, req *provider.Request) (*provider.Response, error) {
	if len(req.Inputs) == 0 {
		return nil, &provider.Error{Provider: name, Type: "invalid_request", Message: "nothing to embed"}
	}
	out := &provider.Response{StopReason: provider.StopEnd}
	for chunk := range slices.Chunk(req.Inputs, MaxInputs) {
		body, err := c.post(ctx, "/embeddings", map[string]any{"model": req.Model, "input": chunk, "encoding_format": "float"})
		if err != nil {
			return nil, err
		}
		var l EmbeddingList
		if err := json.Unmarshal(body, &l); err != nil {
			return nil, provider.Malformed(name, "embedding list", err)
		}
		if len(l.Data) != len(chunk) {
			return nil, provider.Malformed(name, fmt.Sprintf("%d embeddings for %d inputs", len(l.Data), len(chunk)), nil)
		}
		vecs := make([][]float32, len(chunk))
		for _, d := range l.Data {
			if d.Index < 0 || d.Index >= len(vecs) || vecs[d.Index] != nil || len(d.Embedding) == 0 {
				return nil, provider.Malformed(name, fmt.Sprintf("embedding index %d missing, repeated or empty", d.Index), nil)
			}
			vecs[d.Index] = d.Embedding
		}
		out.Embeddings = append(out.Embeddings, vecs...)
		out.Model = l.Model
		if l.Usage != nil {
			out.Usage.InputTokens += l.Usage.PromptTokens
		}
	}
	return out, nil
}

func (c *Client) post(ctx context.Context, path string, body any) ([]byte, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return nil, &provider.Error{Provider: name, Type: "invalid_request", Message: err.Error(), Err: err}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+path, bytes.NewReader(b))
	if err != nil {
		return nil, &provider.Error{Provider: name, Type: "invalid_request", Message: err.Error(), Err: err}
	}
	if c.key != "" {
		req.Header.Set("Authorization", "Bearer "+c.key.Reveal())
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	answer, err := provider.Do(c.http, req, name, c.key)
	return answer, limits(err, time.Now())
}

// limits reads what a 429's rate-limit headers say about the limits every
// call with the key shares into its *provider.Error: the ones used up
// (x-ratelimit-remaining-{requests,tokens} at 0) and when the last of them
// resets (x-ratelimit-reset-{requests,tokens}, a duration from now: "1s",
// "6m0s", "20ms"; plain seconds are read too). A 429 that says none is used
// up, or a server that sends no such headers (vLLM, llama.cpp, Ollama), is
// for its call alone.
func limits(err error, now time.Time) error {
	e, ok := provider.AsError(err)
	if !ok || e.Status != http.StatusTooManyRequests || e.Header == nil {
		return err
	}
	for _, l := range [...]string{"requests", "tokens"} {
		n, perr := strconv.ParseInt(strings.TrimSpace(e.Header.Get("x-ratelimit-remaining-"+l)), 10, 64)
		if perr != nil || n != 0 {
			continue
		}
		e.Exhausted = append(e.Exhausted, l)
		if d, ok := duration(e.Header.Get("x-ratelimit-reset-" + l)); ok && now.Add(d).After(e.Reset) {
			e.Reset = now.Add(d)
		}
	}
	return err
}

// duration reads a reset header: a Go-style duration ("6m0s", "20ms"), or
// seconds ("1", "0.5").
func duration(v string) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if d, err := time.ParseDuration(v); err == nil && d > 0 {
		return d, true
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil && s > 0 && s < 1e6 {
		return time.Duration(s * float64(time.Second)), true
	}
	return 0, false
}
