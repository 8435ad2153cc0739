// Package anthropic speaks the Anthropic Messages API (POST /v1/messages)
// and its Message Batches API (POST /v1/messages/batches, GET
// /v1/messages/batches/{id}, the results JSONL), in the wire format that
// https://docs.anthropic.com documents, with plain net/http.
//
// A JSON Schema on a request is sent, by default, as a single tool the model
// must call (tools + tool_choice), which every Claude model supports; the
// tool's input is the answer's text. SchemaOutputConfig sends it as
// structured outputs (output_config.format) instead, for models that have
// them; SchemaNone leaves the schema to the prompt.
package anthropic

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/valuescope/valuescope/host/model/provider"
)

// DefaultBaseURL is Anthropic's API.
const DefaultBaseURL = "https://api.anthropic.com"

// Version is the anthropic-version header sent.
const Version = "2023-06-01"

// How a request's schema is sent.
const (
	SchemaTool         = "tool"
	SchemaOutputConfig = "output_config"
	SchemaNone         = "none"
)

// toolName is the tool a schema'd answer comes through.
const toolName = "answer"

// Options configure a Client.
type Options struct {
	BaseURL    string // default DefaultBaseURL
	APIKey     provider.Secret
	HTTPClient *http.Client // default: a client with a transport for many connections
	SchemaMode string       // SchemaTool (default), SchemaOutputConfig, SchemaNone
}

// Client is the Anthropic API. It is safe for concurrent use.
type Client struct {
	base   string
	key    provider.Secret
	http   *http.Client
	schema string
}

// New returns a client.
func New(opts Options) (*Client, error) {
	if opts.BaseURL == "" {
		opts.BaseURL = DefaultBaseURL
	}
	switch opts.SchemaMode {
	case "":
		opts.SchemaMode = SchemaTool
	case SchemaTool, SchemaOutputConfig, SchemaNone:
	default:
		return nil, fmt.Errorf("anthropic: schema mode %q: want %q, %q or %q", opts.SchemaMode, SchemaTool, SchemaOutputConfig, SchemaNone)
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Transport: provider.NewTransport(64)}
	}
	return &Client{base: strings.TrimRight(opts.BaseURL, "/"), key: opts.APIKey, http: opts.HTTPClient, schema: opts.SchemaMode}, nil
}

const name = "anthropic"

// Endpoint implements provider.Provider.
func (c *Client) Endpoint() provider.Endpoint {
	return provider.Endpoint{Provider: name, BaseURL: c.base, Options: "schema=" + c.schema}
}

// Embed implements provider.Provider: Anthropic has no embeddings endpoint.
func (c *Client) Embed(context.Context, *provider.Request) (*provider.Response, error) {
	return nil, provider.ErrNoEmbeddings
}

// Complete implements provider.Provider.
func (c *Client) Complete(ctx context.Context, req *provider.Request) (*provider.Response, error) {
	p, err := c.params(req)
	if err != nil {
		return nil, err
	}
	body, err := c.do(ctx, http.MethodPost, c.base+"/v1/messages", p)
	if err != nil {
		return nil, err
	}
	var m Message
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, provider.Malformed(name, "message", err)
	}
	return m.response()
}

// Params is the body of POST /v1/messages (and a batch request's params).
type Params struct {
	Model        string         `json:"model"`
	MaxTokens    int            `json:"max_tokens"`
	System       string         `json:"system,omitempty"`
	Messages     []MessageParam `json:"messages"`
	Temperature  *float64       `json:"temperature,omitempty"`
	Tools        []Tool         `json:"tools,omitempty"`
	ToolChoice   *ToolChoice    `json:"tool_choice,omitempty"`
	OutputConfig *OutputConfig  `json:"output_config,omitempty"`
}

type MessageParam struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

type Tool struct {
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	InputSchema json.RawMessage `json:"input_schema"`
}

type ToolChoice struct {
	Type string `json:"type"`
	Name string `json:"name,omitempty"`
}

type OutputConfig struct {
	Format *OutputFormat `json:"format,omitempty"`
}

type OutputFormat struct {
	Type   string          `json:"type"`
	Schema json.RawMessage `json:"schema"`
}

// params renders a request. System-role messages join the system prompt,
// since the Messages API takes it apart from the turns.
func (c *Client) params(req *provider.Request) (*Params, error) {
	t := req.Temperature
	p := &Params{Model: req.Model, MaxTokens: req.MaxTokens, System: req.System, Temperature: &t}
	for _, m := range req.Messages {
		if m.Role == "system" {
			if p.System != "" {
				p.System += "\n\n"
			}
			p.System += m.Content
			continue
		}
		p.Messages = append(p.Messages, MessageParam{Role: m.Role, Content: m.Content})
	}
	if len(p.Messages) == 0 {
		return nil, &provider.Error{Provider: name, Type: "invalid_request", Message: "no user or assistant messages"}
	}
	if len(req.Schema) > 0 {
		switch c.schema {
		case SchemaTool:
			p.Tools = []Tool{{Name: toolName, Description: "Give the answer in this form.", InputSchema: req.Schema}}
			p.ToolChoice = &ToolChoice{Type: "tool", Name: toolName}
		case SchemaOutputConfig:
			p.OutputConfig = &OutputConfig{Format: &OutputFormat{Type: "json_schema", Schema: req.Schema}}
		}
	}
	return p, nil
}

// Message is the API's answer (type "message").
type Message struct {
	ID         string         `json:"id"`
	Type       string         `json:"type"`
	Role       string         `json:"role"`
	Model      string         `json:"model"`
	Content    []ContentBlock `json:"content"`
	StopReason string         `json:"stop_reason"`
	Usage      MessageUsage   `json:"usage"`
}

type ContentBlock struct {
	Type  string          `json:"type"`
	Text  string          `json:"text,omitempty"`
	ID    string          `json:"id,omitempty"`
	Name  string          `json:"name,omitempty"`
	Input json.RawMessage `json:"input,omitempty"`
}

type MessageUsage struct {
	InputTokens              int64 `json:"input_tokens"`
	OutputTokens             int64 `json:"output_tokens"`
	CacheCreationInputTokens int64 `json:"cache_creation_input_tokens,omitempty"`
	CacheReadInputTokens     int64 `json:"cache_read_input_tokens,omitempty"`
}

// response turns a message into the neutral form: the text blocks joined,
// or the forced tool's input when the answer came through the tool.
func (m *Message) response() (*provider.Response, error) {
	if m.Type != "message" || m.StopReason == "" {
		return nil, provider.Malformed(name, fmt.Sprintf("not a finished message (type %q, stop_reason %q)", m.Type, m.StopReason), nil)
	}
	r := &provider.Response{Model: m.Model, StopReason: m.StopReason, Usage: provider.Usage{
		InputTokens:  m.Usage.InputTokens + m.Usage.CacheCreationInputTokens + m.Usage.CacheReadInputTokens,
		OutputTokens: m.Usage.OutputTokens,
	}}
	var text strings.Builder
	tool := false
	for _, b := range m.Content {
		switch {
		case b.Type == "text":
			text.WriteString(b.Text)
		case b.Type == "tool_use" && b.Name == toolName && !tool:
			tool = true
			var compact bytes.Buffer
			if err := json.Compact(&compact, b.Input); err != nil {
				return nil, provider.Malformed(name, "tool input", err)
			}
			r.Text = compact.String()
		}
	}
	switch {
	case tool && m.StopReason == "tool_use":
		r.StopReason = provider.StopEnd
	case !tool:
		r.Text = text.String()
	}
	if r.StopReason == "stop_sequence" {
		r.StopReason = provider.StopEnd
	}
	return r, nil
}

func (c *Client) do(ctx context.Context, method, u string, body any) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, &provider.Error{Provider: name, Type: "invalid_request", Message: err.Error(), Err: err}
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, &provider.Error{Provider: name, Type: "invalid_request", Message: err.Error(), Err: err}
	}
	c.headers(req)
	answer, err := provider.Do(c.http, req, name, c.key)
	return answer, limits(err)
}

// limits reads what a 429's rate-limit headers say about the limits every
// call with the key shares into its *provider.Error: the ones used up
// (anthropic-ratelimit-{requests,tokens,input-tokens,output-tokens}-remaining
// at 0) and when the last of them resets (their -reset, RFC 3339). A 429
// that says none is used up (too many at once, a burst) is for its call
// alone.
func limits(err error) error {
	e, ok := provider.AsError(err)
	if !ok || e.Status != http.StatusTooManyRequests || e.Header == nil {
		return err
	}
	for _, l := range [...]string{"requests", "tokens", "input-tokens", "output-tokens"} {
		n, perr := strconv.ParseInt(strings.TrimSpace(e.Header.Get("anthropic-ratelimit-"+l+"-remaining")), 10, 64)
		if perr != nil || n != 0 {
			continue
		}
		e.Exhausted = append(e.Exhausted, strings.ReplaceAll(l, "-", "_"))
		if t, terr := time.Parse(time.RFC3339, strings.TrimSpace(e.Header.Get("anthropic-ratelimit-"+l+"-reset"))); terr == nil && t.After(e.Reset) {
			e.Reset = t
		}
	}
	return err
}

func (c *Client) headers(req *http.Request) {
	if c.key != "" {
		req.Header.Set("x-api-key", c.key.Reveal())
	}
	req.Header.Set("anthropic-version", Version)
	req.Header.Set("content-type", "application/json")
	req.Header.Set("accept", "application/json")
}

// Message Batches.

// BatchParams is the body of POST /v1/messages/batches.
type BatchParams struct {
	Requests []BatchRequestParam `json:"requests"`
}

type BatchRequestParam struct {
	CustomID string  `json:"custom_id"`
	Params   *Params `json:"params"`
}

// MessageBatch is the API's batch object.
type MessageBatch struct {
	ID               string         `json:"id"`
	Type             string         `json:"type"`
	ProcessingStatus string         `json:"processing_status"`
	RequestCounts    map[string]int `json:"request_counts"`
	ResultsURL       string         `json:"results_url"`
	CreatedAt        string         `json:"created_at,omitempty"`
	EndedAt          string         `json:"ended_at,omitempty"`
	ExpiresAt        string         `json:"expires_at,omitempty"`
}

// BatchLine is one line of a batch's results JSONL.
type BatchLine struct {
	CustomID string `json:"custom_id"`
	Result   struct {
		Type    string          `json:"type"` // succeeded, errored, canceled, expired
		Message *Message        `json:"message,omitempty"`
		Error   json.RawMessage `json:"error,omitempty"`
	} `json:"result"`
}

// CreateBatch implements provider.Batcher.
func (c *Client) CreateBatch(ctx context.Context, reqs []provider.BatchRequest) (*provider.Batch, error) {
	bp := BatchParams{Requests: make([]BatchRequestParam, len(reqs))}
	for i, r := range reqs {
		p, err := c.params(r.Request)
		if err != nil {
			return nil, err
		}
		bp.Requests[i] = BatchRequestParam{CustomID: r.CustomID, Params: p}
	}
	body, err := c.do(ctx, http.MethodPost, c.base+"/v1/messages/batches", bp)
	if err != nil {
		return nil, err
	}
	return batch(body)
}

// GetBatch implements provider.Batcher.
func (c *Client) GetBatch(ctx context.Context, id string) (*provider.Batch, error) {
	body, err := c.do(ctx, http.MethodGet, c.base+"/v1/messages/batches/"+url.PathEscape(id), nil)
	if err != nil {
		return nil, err
	}
	return batch(body)
}

func batch(body []byte) (*provider.Batch, error) {
	var mb MessageBatch
	if err := json.Unmarshal(body, &mb); err != nil {
		return nil, provider.Malformed(name, "message batch", err)
	}
	if mb.ID == "" || mb.ProcessingStatus == "" {
		return nil, provider.Malformed(name, "message batch without id or processing_status", nil)
	}
	return &provider.Batch{ID: mb.ID, Status: mb.ProcessingStatus, Ended: mb.ProcessingStatus == "ended",
		ResultsURL: mb.ResultsURL, Counts: mb.RequestCounts}, nil
}

// BatchResults implements provider.Batcher. The results are read from the
// batch's results_url when it is on the API's own host (the key is sent
// nowhere else), else from /v1/messages/batches/{id}/results.
func (c *Client) BatchResults(ctx context.Context, b *provider.Batch, fn func(provider.BatchResult) error) error {
	u := c.base + "/v1/messages/batches/" + url.PathEscape(b.ID) + "/results"
	if b.ResultsURL != "" && sameHost(b.ResultsURL, c.base) {
		u = b.ResultsURL
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	c.headers(req)
	// Results can be large: stream them rather than reading them whole.
	resp, err := provider.Send(c.http, req, name, c.key)
	if err != nil {
		return limits(err)
	}
	defer resp.Body.Close()
	rd := bufio.NewReaderSize(resp.Body, 1<<16)
	for n := 1; ; n++ {
		line, err := rd.ReadBytes('\n')
		if len(bytes.TrimSpace(line)) > 0 {
			if err != nil && !errors.Is(err, io.EOF) {
				break // a partial last line of a cut stream: reported below
			}
			var bl BatchLine
			if jerr := json.Unmarshal(line, &bl); jerr != nil || bl.CustomID == "" {
				return provider.Malformed(name, fmt.Sprintf("batch %s results line %d", b.ID, n), jerr)
			}
			if ferr := fn(bl.result()); ferr != nil {
				return ferr
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return &provider.Error{Provider: name, Status: http.StatusOK, Message: fmt.Sprintf("reading batch %s results: %v", b.ID, err), Retryable: true, Err: err}
		}
	}
	return &provider.Error{Provider: name, Status: http.StatusOK, Message: fmt.Sprintf("batch %s results cut short", b.ID), Retryable: true}
}

func (bl *BatchLine) result() provider.BatchResult {
	r := provider.BatchResult{CustomID: bl.CustomID}
	switch bl.Result.Type {
	case "succeeded":
		if bl.Result.Message == nil {
			r.Err = provider.Malformed(name, "succeeded batch result without a message", nil)
			return r
		}
		r.Response, r.Err = bl.Result.Message.response()
	case "errored":
		// {"type":"error","error":{"type","message"}}, or the inner object alone.
		var e struct {
			Type    string `json:"type"`
			Message string `json:"message"`
			Error   *struct {
				Type    string `json:"type"`
				Message string `json:"message"`
			} `json:"error"`
		}
		json.Unmarshal(bl.Result.Error, &e)
		typ, msg := e.Type, e.Message
		if e.Error != nil {
			typ, msg = e.Error.Type, e.Error.Message
		}
		// A request the API refused will be refused again; a server-side
		// failure may not be.
		r.Err = &provider.Error{Provider: name, Type: typ, Message: "batch request errored: " + msg,
			Retryable: typ != "invalid_request_error" && typ != "authentication_error" && typ != "permission_error" && typ != "not_found_error"}
	case "canceled", "expired":
		r.Err = &provider.Error{Provider: name, Type: bl.Result.Type, Message: "batch request " + bl.Result.Type, Retryable: true}
	default:
		r.Err = provider.Malformed(name, fmt.Sprintf("batch result of type %q", bl.Result.Type), nil)
	}
	return r
}

func sameHost(a, b string) bool {
	ua, err1 := url.Parse(a)
	ub, err2 := url.Parse(b)
	return err1 == nil && err2 == nil && ua.Scheme == ub.Scheme && ua.Host == ub.Host
}
