// Package provider is the provider-neutral form of a model call: the
// Request a model client sends, the Response it gets, the Provider interface
// each API (Anthropic, OpenAI-compatible) implements, and the Error every
// provider returns for a failed HTTP exchange, which says whether the call
// may be retried and after how long.
//
// Providers do one HTTP exchange per method call: no caching, limits or
// retries. Those belong to the model client (package model), which wraps
// every provider alike.
package provider

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Message is one turn of a rendered prompt.
type Message struct {
	Role    string // "user" or "assistant" ("system" is folded into Request.System)
	Content string
}

// Request is one model call, fully rendered.
type Request struct {
	// Model is the provider's model id.
	Model     string
	System    string
	Messages  []Message
	MaxTokens int
	// Temperature is always sent: 0 means 0 (deterministic), not "default".
	Temperature float64
	// Schema, when set, is a JSON Schema the answer must follow.
	Schema json.RawMessage
	// Inputs are the texts to embed (Embed only).
	Inputs []string
}

// Stop reasons, normalised across providers. Others pass through as the
// provider wrote them ("refusal", "content_filter", "pause_turn"...).
const (
	StopEnd       = "end_turn"   // the model finished (Anthropic end_turn/stop_sequence, OpenAI stop)
	StopMaxTokens = "max_tokens" // cut off at max_tokens (OpenAI: length): the answer is truncated
)

// Usage is what a call consumed, as the provider reported it.
type Usage struct {
	InputTokens  int64 `json:"input_tokens,omitempty"`
	OutputTokens int64 `json:"output_tokens,omitempty"`
}

// Response is a model's answer.
type Response struct {
	Text       string      `json:"text,omitempty"`
	StopReason string      `json:"stop_reason,omitempty"`
	Embeddings [][]float32 `json:"embeddings,omitempty"`
	Usage      Usage       `json:"usage"`
	// Model is the model id the provider says answered.
	Model string `json:"model,omitempty"`
}

// Provider is one model API.
type Provider interface {
	// Endpoint says which API this is; it is part of every cache key.
	Endpoint() Endpoint
	// Complete performs one chat call.
	Complete(ctx context.Context, req *Request) (*Response, error)
	// Embed embeds req.Inputs (ErrNoEmbeddings if the API has none).
	Embed(ctx context.Context, req *Request) (*Response, error)
}

// Endpoint identifies what answers a call, besides the request itself.
type Endpoint struct {
	Provider string // "anthropic", "openai"
	BaseURL  string
	// Options are the provider's own settings that change answers (how a
	// schema is sent, for instance), as a short stable string.
	Options string
}

// Batcher is a provider with a bulk, asynchronous API (Anthropic's Message
// Batches): submit many requests, poll, read the results.
type Batcher interface {
	CreateBatch(ctx context.Context, reqs []BatchRequest) (*Batch, error)
	GetBatch(ctx context.Context, id string) (*Batch, error)
	// BatchResults streams an ended batch's results to fn, in any order.
	BatchResults(ctx context.Context, b *Batch, fn func(BatchResult) error) error
}

// BatchRequest is one request of a batch; CustomID joins it to its result.
type BatchRequest struct {
	CustomID string
	Request  *Request
}

// Batch is a submitted batch's state.
type Batch struct {
	ID         string
	Ended      bool
	Status     string
	ResultsURL string
	Counts     map[string]int
}

// BatchResult is one request's outcome: a Response, or an Err (an *Error
// saying whether resubmitting may help).
type BatchResult struct {
	CustomID string
	Response *Response
	Err      error
}

// ErrNoEmbeddings is returned by Embed on a provider without embeddings.
var ErrNoEmbeddings = &Error{Message: "this provider has no embeddings endpoint", Type: "unsupported"}

// Error is a failed exchange with a provider.
type Error struct {
	Provider string
	// Status is the HTTP status; 0 when no answer came (network, timeout),
	// 200 when the answer could not be read.
	Status int
	// Type is the provider's error type ("overloaded_error", "rate_limit_error", ...).
	Type    string
	Message string
	// Retryable says whether the same call may succeed later.
	Retryable bool
	// RetryAfter is how long the provider asked to wait (retry-after), 0 if unsaid.
	RetryAfter time.Duration
	// Exhausted names the limits shared by every call with the same key
	// ("requests", "tokens", "input_tokens", "output_tokens") that the
	// provider's rate-limit headers said are used up (0 remaining): not
	// only this call but every call should wait for Reset. Empty when the
	// provider said no such thing (a 429 for this call alone, or a server
	// that sends no rate-limit headers).
	Exhausted []string
	// Reset is when the exhausted limits are replenished (the latest of
	// them); zero if unsaid.
	Reset time.Time
	// Header is the answer's header (nil when none came), for a provider
	// to read its own headers from; Send sets it.
	Header http.Header
	// Err is the underlying error, if any (network, decoding).
	Err error
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.Provider != "" {
		b.WriteString(e.Provider + ": ")
	}
	switch {
	case e.Status == 0:
	case e.Status == http.StatusOK:
		b.WriteString("unreadable answer: ")
	default:
		fmt.Fprintf(&b, "HTTP %d", e.Status)
		if t := http.StatusText(e.Status); t != "" {
			b.WriteString(" " + t)
		} else if e.Status == 529 {
			b.WriteString(" Overloaded")
		}
		b.WriteString(": ")
	}
	if e.Type != "" {
		b.WriteString(e.Type + ": ")
	}
	b.WriteString(e.Message)
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// AsError returns err's *Error, if it has one.
func AsError(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}

// Secret is an API key. It prints, logs and marshals as "[redacted]", so
// that a provider struct logged or dumped by mistake does not leak it.
type Secret string

const redacted = "[redacted]"

func (Secret) String() string                  { return redacted }
func (Secret) GoString() string                { return redacted }
func (Secret) LogValue() slog.Value            { return slog.StringValue(redacted) }
func (Secret) MarshalJSON() ([]byte, error)    { return []byte(`"` + redacted + `"`), nil }
func (Secret) MarshalText() ([]byte, error)    { return []byte(redacted), nil }
func (s Secret) Format(f fmt.State, verb rune) { io.WriteString(f, redacted) }

// Reveal is the key itself, for the one header that carries it.
func (s Secret) Reveal() string { return string(s) }

// Redact removes the key from a text (a server that echoes a request back
// in its error message must not put the key in a log).
func (s Secret) Redact(text string) string {
	if len(s) < 4 {
		return text
	}
	return strings.ReplaceAll(text, string(s), redacted)
}

// MaxBody bounds an answer read into memory.
const MaxBody = 256 << 20

// Do performs one exchange and returns the body of a 2xx answer (see Send
// for the errors). A failure to read the whole body is a retryable *Error
// with Status 200.
func Do(client *http.Client, req *http.Request, name string, key Secret) ([]byte, error) {
	resp, err := Send(client, req, name, key)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxBody))
	if err != nil {
		e := &Error{Provider: name, Status: http.StatusOK, Message: "reading the answer: " + key.Redact(err.Error()), Retryable: true, Err: err}
		if ctxErr := req.Context().Err(); ctxErr != nil {
			e.Err = ctxErr
		}
		return nil, e
	}
	return body, nil
}

// Send performs one exchange and returns a 2xx answer with its body unread.
// Any other status becomes an *Error read from the body (the Anthropic
// {"type":"error","error":{...}} and OpenAI {"error":{...}} shapes) and the
// headers (retry-after, retry-after-ms, x-should-retry). A failure to
// connect is a retryable *Error with Status 0, wrapping the context's error
// when the request's context ended.
func Send(client *http.Client, req *http.Request, name string, key Secret) (*http.Response, error) {
	resp, err := client.Do(req)
	if err != nil {
		e := &Error{Provider: name, Message: key.Redact(err.Error()), Retryable: true, Err: err}
		if ctxErr := req.Context().Err(); ctxErr != nil {
			e.Err = ctxErr
		}
		return nil, e
	}
	if resp.StatusCode/100 == 2 {
		return resp, nil
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	e := &Error{Provider: name, Status: resp.StatusCode, RetryAfter: RetryAfter(resp.Header), Header: resp.Header}
	e.Type, e.Message = errorBody(body)
	if e.Message == "" {
		e.Message = strings.TrimSpace(string(body))
		if len(e.Message) > 500 {
			e.Message = e.Message[:500] + "..."
		}
	}
	e.Message = key.Redact(e.Message)
	e.Retryable = RetryableStatus(resp.StatusCode)
	switch resp.Header.Get("x-should-retry") {
	case "true":
		e.Retryable = true
	case "false":
		e.Retryable = false
	}
	return nil, e
}

// RetryableStatus: timeouts, conflicts, rate limits, overload and server errors.
func RetryableStatus(code int) bool {
	return code == http.StatusRequestTimeout || code == http.StatusConflict || code == http.StatusTooManyRequests || code >= 500
}

// RetryAfter reads retry-after-ms, then retry-after (seconds or an HTTP date).
func RetryAfter(h http.Header) time.Duration {
	if v := h.Get("retry-after-ms"); v != "" {
		if ms, err := strconv.ParseFloat(v, 64); err == nil && ms > 0 {
			return time.Duration(ms * float64(time.Millisecond))
		}
	}
	v := h.Get("retry-after")
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil {
		if s > 0 {
			return time.Duration(s * float64(time.Second))
		}
		return 0
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := time.Until(t); d > 0 {
			return d
		}
	}
	return 0
}

// errorBody reads the error objects of the APIs this package knows:
// Anthropic {"type":"error","error":{"type","message"}}, OpenAI
// {"error":{"message","type","code"}}, vLLM {"object":"error","message","type"},
// Ollama {"error":"..."}.
func errorBody(body []byte) (typ, msg string) {
	var v struct {
		Type    string          `json:"type"`
		Message string          `json:"message"`
		Error   json.RawMessage `json:"error"`
	}
	if json.Unmarshal(body, &v) != nil {
		return "", ""
	}
	if len(v.Error) > 0 {
		var inner struct {
			Type    string          `json:"type"`
			Message string          `json:"message"`
			Code    json.RawMessage `json:"code"`
		}
		if json.Unmarshal(v.Error, &inner) == nil {
			if inner.Type == "" && len(inner.Code) > 0 && string(inner.Code) != "null" {
				inner.Type = strings.Trim(string(inner.Code), `"`)
			}
			return inner.Type, inner.Message
		}
		var s string
		if json.Unmarshal(v.Error, &s) == nil {
			return "", s
		}
	}
	if v.Type == "error" {
		v.Type = ""
	}
	return v.Type, v.Message
}

// Malformed is the error for a 2xx answer that is not what the API returns.
func Malformed(name, what string, err error) *Error {
	msg := what
	if err != nil {
		msg += ": " + err.Error()
	}
	return &Error{Provider: name, Status: http.StatusOK, Message: msg, Retryable: true, Err: err}
}

// NewTransport is an HTTP transport for many calls in flight to one host:
// the default keeps only 2 idle connections per host, which at 64 calls in
// flight would open and close connections all the time.
func NewTransport(maxConns int) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	if maxConns < 64 {
		maxConns = 64
	}
	t.MaxIdleConns = 4 * maxConns
	t.MaxIdleConnsPerHost = 2 * maxConns
	t.IdleConnTimeout = 90 * time.Second
	return t
}

// JoinURL joins a base URL and a path with exactly one slash.
func JoinURL(base, path string) string {
	return strings.TrimRight(base, "/") + "/" + strings.TrimLeft(path, "/")
}
