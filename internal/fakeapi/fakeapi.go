// Package fakeapi is test servers speaking the Anthropic Messages and
// Message Batches APIs and the OpenAI chat completions and embeddings APIs,
// in their documented wire formats, with faults injected on demand: 429 with
// retry-after, 529 overloaded, 500, a hang, a malformed body, a body cut
// short, an answer truncated at max_tokens; and with limits: a number of
// requests answered at once (ConcurrencyLimit), a rate limit used up for a
// while (Exhaust), each 429 with the API's rate-limit headers.
//
// Requests are decoded with their own struct definitions (not the
// clients'), unknown fields refused, and checked the way the real APIs
// check them; a request that fails is answered with the API's own error
// object and status 400 (401 for a bad key).
package fakeapi

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Fault is what a server does to one request instead of answering it.
type Fault int

const (
	OK          Fault = iota
	RateLimit         // 429 with retry-after (Server.RetryAfter)
	Overloaded        // 529 overloaded_error (Anthropic), 503 (OpenAI)
	ServerError       // 500
	Hang              // no answer until the client gives up
	Malformed         // 200 with a body that is not JSON
	Cut               // 200 with the body cut off mid-way (the connection closes)
	MaxTokens         // a valid answer, truncated at max_tokens
	BadRequest        // 400 invalid_request_error (not retryable)
)

func (f Fault) String() string {
	return [...]string{"ok", "429", "529", "500", "hang", "malformed", "cut", "max_tokens", "400"}[f]
}

// Server is what both fakes share.
type Server struct {
	*httptest.Server
	// Key is the API key expected; "" accepts none.
	Key string
	// Latency is added to every model answer.
	Latency time.Duration
	// RetryAfter is the retry-after header of a 429 ("0" if unset; real
	// APIs send whole seconds).
	RetryAfter string
	// Fault, if set, decides the fault for the n-th model request (from 1)
	// given the text of its last message.
	Fault func(n int64, last string) Fault
	// Answer, if set, gives the answer's text for a request's last message;
	// default "answer: " + last.
	Answer func(system, last string) string
	// AsIs, for the OpenAI server, sends Answer's text to a call with a
	// schema (response_format) as it is, rather than as {"answer": text}:
	// a test writes the JSON a plugin expects (or text that is not JSON,
	// as a server ignoring response_format would).
	AsIs bool

	Requests    atomic.Int64 // model requests received (messages, chat completions, embeddings)
	InFlight    atomic.Int64
	MaxInFlight atomic.Int64
	Faults      sync.Map // Fault -> *atomic.Int64: faults served

	// ConcurrencyLimit, if > 0, is how many model requests the server
	// answers at once: one that comes while that many are being answered
	// gets a 429 with retry-after (RetryAfter) and the API's rate-limit
	// headers saying requests and tokens remain (it is not a per-minute
	// limit), as a server that allows only N concurrent requests does.
	ConcurrencyLimit int
	// Limited is the 429s served for ConcurrencyLimit or Exhaust.
	Limited   atomic.Int64
	serving   atomic.Int64
	exhausted atomic.Int64 // unix nanoseconds until which Exhaust holds

	mu     sync.Mutex
	bodies [][]byte // every request body, for key leak checks
}

func (s *Server) begin(r *http.Request, body []byte) func() {
	s.mu.Lock()
	s.bodies = append(s.bodies, body)
	s.mu.Unlock()
	n := s.InFlight.Add(1)
	for {
		m := s.MaxInFlight.Load()
		if n <= m || s.MaxInFlight.CompareAndSwap(m, n) {
			break
		}
	}
	return func() { s.InFlight.Add(-1) }
}

// Bodies is every request body received.
func (s *Server) Bodies() [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.bodies)
}

// ForgetBodies forgets the request bodies received so far (a test that
// measures its client's memory, with the server in the same process).
func (s *Server) ForgetBodies() {
	s.mu.Lock()
	s.bodies = nil
	s.mu.Unlock()
}

// FaultCount is how many times a fault was served.
func (s *Server) FaultCount(f Fault) int64 {
	if v, ok := s.Faults.Load(f); ok {
		return v.(*atomic.Int64).Load()
	}
	return 0
}

func (s *Server) fault(last string) (int64, Fault) {
	n := s.Requests.Add(1)
	f := OK
	if s.Fault != nil {
		f = s.Fault(n, last)
	}
	if f != OK {
		v, _ := s.Faults.LoadOrStore(f, new(atomic.Int64))
		v.(*atomic.Int64).Add(1)
	}
	return n, f
}

// Exhaust makes the server answer every model request until then with a
// 429 whose rate-limit headers say the requests limit is used up (0
// remaining) and resets then, with retry-after (RetryAfter): a limit every
// call with the key shares. The reset is written to the millisecond (the
// APIs write whole seconds, or durations), so that tests can wait briefly.
func (s *Server) Exhaust(until time.Time) {
	// The reset the headers say, to the millisecond, is never before the
	// server takes requests again.
	s.exhausted.Store(until.Add(time.Millisecond - 1).Truncate(time.Millisecond).UnixNano())
}

// limitHeaders writes an API's rate-limit headers: the requests limit used
// up until exhausted, or (zero) requests and tokens remaining.
type limitHeaders func(h http.Header, exhausted time.Time)

// admit applies Exhaust and ConcurrencyLimit to a model request: it returns
// a func to call once the request is answered, or false after setting a
// 429's headers (the caller writes the API's error body).
func (s *Server) admit(w http.ResponseWriter, headers limitHeaders) (func(), bool) {
	refuse := func(exhausted time.Time) (func(), bool) {
		s.Limited.Add(1)
		headers(w.Header(), exhausted)
		ra := s.RetryAfter
		if ra == "" {
			ra = "0"
		}
		w.Header().Set("retry-after", ra)
		return nil, false
	}
	if until := time.Unix(0, s.exhausted.Load()); time.Now().Before(until) {
		return refuse(until)
	}
	if s.ConcurrencyLimit <= 0 {
		return func() {}, true
	}
	if s.serving.Add(1) > int64(s.ConcurrencyLimit) {
		s.serving.Add(-1)
		return refuse(time.Time{})
	}
	return func() { s.serving.Add(-1) }, true
}

// anthropicLimits are Anthropic's anthropic-ratelimit-* headers (resets in
// RFC 3339).
func anthropicLimits(h http.Header, exhausted time.Time) {
	reset := time.Now().Add(time.Minute)
	for _, l := range []struct {
		name  string
		limit int
	}{{"requests", 4000}, {"tokens", 2_000_000}, {"input-tokens", 1_600_000}, {"output-tokens", 400_000}} {
		remaining, at := l.limit-1, reset
		if l.name == "requests" && !exhausted.IsZero() {
			remaining, at = 0, exhausted
		}
		h.Set("anthropic-ratelimit-"+l.name+"-limit", fmt.Sprint(l.limit))
		h.Set("anthropic-ratelimit-"+l.name+"-remaining", fmt.Sprint(remaining))
		h.Set("anthropic-ratelimit-"+l.name+"-reset", at.UTC().Format("2006-01-02T15:04:05.000Z07:00"))
	}
}

// openaiLimits are OpenAI's x-ratelimit-* headers (resets as durations
// from now, "6m0s", "20ms").
func openaiLimits(h http.Header, exhausted time.Time) {
	for _, l := range []struct {
		name  string
		limit int
	}{{"requests", 5000}, {"tokens", 2_000_000}} {
		remaining, in := l.limit-1, time.Minute
		if l.name == "requests" && !exhausted.IsZero() {
			remaining, in = 0, (time.Until(exhausted) + time.Millisecond - 1).Truncate(time.Millisecond)
		}
		h.Set("x-ratelimit-limit-"+l.name, fmt.Sprint(l.limit))
		h.Set("x-ratelimit-remaining-"+l.name, fmt.Sprint(remaining))
		h.Set("x-ratelimit-reset-"+l.name, in.String())
	}
}

func (s *Server) answer(system, last string) string {
	if s.Answer != nil {
		return s.Answer(system, last)
	}
	return "answer: " + last
}

func (s *Server) wait(r *http.Request) {
	if s.Latency > 0 {
		select {
		case <-time.After(s.Latency):
		case <-r.Context().Done():
		}
	}
}

// hang waits until the client goes away (or a minute).
func hang(r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-time.After(time.Minute):
	}
}

// cut writes half of body with a Content-Length for all of it, then closes
// the connection.
func cut(w http.ResponseWriter, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", fmt.Sprint(len(body)))
	w.WriteHeader(http.StatusOK)
	w.Write(body[:len(body)/2])
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			conn.Close()
		}
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(b)
}

func decodeStrict(body []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(body))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return err
	}
	if d.More() {
		return fmt.Errorf("trailing data after the JSON body")
	}
	return nil
}

func hash(s string) uint64 {
	h := sha256.Sum256([]byte(s))
	return binary.LittleEndian.Uint64(h[:8])
}

// Anthropic is a fake Anthropic API.
type Anthropic struct {
	Server
	// PollsToEnd is how many GETs of a batch it takes to end (default 2).
	PollsToEnd int
	// BatchResult, if set, decides each batch request's fate by its
	// custom_id and last message: "succeeded" (default), "errored"
	// (overloaded), "invalid" (errored, invalid_request_error), "expired",
	// "canceled".
	BatchResult func(customID, last string) string
	// BatchFault, if set, decides the fault for the n-th request (from 1)
	// to a batch endpoint: op is "create", "get" or "results". RateLimit,
	// Overloaded, ServerError, Malformed and Cut apply.
	BatchFault func(op string, n int64) Fault
	// BatchEnd, if set, decides how the n-th batch created (from 1) ends:
	// "" as BatchResult says; "expired", every request expired (the API
	// ends a batch after 24 hours, with whatever is left expired);
	// "canceled", every request canceled (a batch canceled in the Console:
	// "canceling" until it ends, with cancel_initiated_at set).
	BatchEnd  func(n int64) string
	batchReqs atomic.Int64

	BatchesCreated  atomic.Int64
	BatchRequests   atomic.Int64 // requests submitted in batches
	BatchPolls      atomic.Int64
	BatchesNotFound atomic.Int64

	bmu     sync.Mutex
	batches map[string]*fakeBatch
}

type fakeBatch struct {
	id      string
	end     string // BatchEnd's answer
	polls   int
	reqs    []aBatchReq
	created time.Time
	lines   [][]byte
	counts  map[string]int
}

// Wire types of the Anthropic API, as documented.
type aMessage struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
}

type aParams struct {
	Model        string           `json:"model"`
	MaxTokens    int              `json:"max_tokens"`
	Messages     []aMessage       `json:"messages"`
	System       json.RawMessage  `json:"system,omitempty"`
	Temperature  *float64         `json:"temperature,omitempty"`
	TopP         *float64         `json:"top_p,omitempty"`
	StopSeqs     []string         `json:"stop_sequences,omitempty"`
	Metadata     json.RawMessage  `json:"metadata,omitempty"`
	Tools        []map[string]any `json:"tools,omitempty"`
	ToolChoice   map[string]any   `json:"tool_choice,omitempty"`
	OutputConfig *struct {
		Format *struct {
			Type   string          `json:"type"`
			Schema json.RawMessage `json:"schema"`
		} `json:"format,omitempty"`
	} `json:"output_config,omitempty"`
}

type aBatchReq struct {
	CustomID string  `json:"custom_id"`
	Params   aParams `json:"params"`
}

var customID = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)

// NewAnthropic starts a fake Anthropic API; Close it when done.
func NewAnthropic(key string) *Anthropic {
	a := &Anthropic{PollsToEnd: 2, batches: map[string]*fakeBatch{}}
	a.Key = key
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/messages", a.messages)
	mux.HandleFunc("POST /v1/messages/batches", a.createBatch)
	mux.HandleFunc("GET /v1/messages/batches/{id}", a.getBatch)
	mux.HandleFunc("GET /v1/messages/batches/{id}/results", a.batchResults)
	a.Server.Server = httptest.NewServer(mux)
	return a
}

func aError(w http.ResponseWriter, status int, typ, msg string) {
	writeJSON(w, status, map[string]any{"type": "error", "error": map[string]string{"type": typ, "message": msg},
		"request_id": "req_fake"})
}

func (a *Anthropic) auth(w http.ResponseWriter, r *http.Request) bool {
	if r.Header.Get("anthropic-version") == "" {
		aError(w, 400, "invalid_request_error", "anthropic-version: header is required")
		return false
	}
	if a.Key != "" && r.Header.Get("x-api-key") != a.Key {
		aError(w, 401, "authentication_error", "invalid x-api-key")
		return false
	}
	return true
}

// check validates params as the API does; it returns the system prompt and
// the last message's text.
func (p *aParams) check() (system, last string, err error) {
	if p.Model == "" {
		return "", "", fmt.Errorf("model: Field required")
	}
	if p.MaxTokens < 1 {
		return "", "", fmt.Errorf("max_tokens: Field required (>= 1)")
	}
	if len(p.Messages) == 0 {
		return "", "", fmt.Errorf("messages: at least one message is required")
	}
	if p.Temperature != nil && (*p.Temperature < 0 || *p.Temperature > 1) {
		return "", "", fmt.Errorf("temperature: range: 0 <= temperature <= 1")
	}
	for i, m := range p.Messages {
		if m.Role != "user" && m.Role != "assistant" {
			return "", "", fmt.Errorf("messages.%d.role: Input should be 'user' or 'assistant'", i)
		}
		var s string
		if err := json.Unmarshal(m.Content, &s); err != nil {
			var blocks []struct {
				Type string `json:"type"`
				Text string `json:"text"`
			}
			if err := json.Unmarshal(m.Content, &blocks); err != nil {
				return "", "", fmt.Errorf("messages.%d.content: want a string or content blocks", i)
			}
			for _, b := range blocks {
				s += b.Text
			}
		}
		last = s
	}
	if len(p.System) > 0 {
		if err := json.Unmarshal(p.System, &system); err != nil {
			return "", "", fmt.Errorf("system: want a string")
		}
	}
	if p.ToolChoice != nil {
		if p.ToolChoice["type"] != "tool" || len(p.Tools) != 1 || p.Tools[0]["name"] != p.ToolChoice["name"] || p.Tools[0]["input_schema"] == nil {
			return "", "", fmt.Errorf("tool_choice: names no tool with an input_schema")
		}
	}
	if p.OutputConfig != nil && (p.OutputConfig.Format == nil || p.OutputConfig.Format.Type != "json_schema" || len(p.OutputConfig.Format.Schema) == 0) {
		return "", "", fmt.Errorf("output_config.format: want type json_schema with a schema")
	}
	return system, last, nil
}

// message is the answer to params: the text (JSON through the forced tool
// when one was asked for), usage, stop_reason.
func (a *Anthropic) message(p *aParams, system, last string, truncate bool) map[string]any {
	text := a.answer(system, last)
	stop := "end_turn"
	words := strings.Fields(text)
	if truncate || len(words) > p.MaxTokens {
		n := min(len(words), p.MaxTokens)
		if truncate {
			n = max(1, len(words)/2)
		}
		text, stop = strings.Join(words[:n], " "), "max_tokens"
	}
	var content []any
	if p.ToolChoice != nil && stop == "end_turn" {
		input, _ := json.Marshal(map[string]string{"answer": text})
		content = []any{map[string]any{"type": "tool_use", "id": "toolu_fake", "name": p.ToolChoice["name"], "input": json.RawMessage(input)}}
		stop = "tool_use"
	} else {
		content = []any{map[string]any{"type": "text", "text": text}}
	}
	in := (len(system) + len(last)) / 4
	return map[string]any{
		"id": fmt.Sprintf("msg_%016x", hash(last)), "type": "message", "role": "assistant", "model": p.Model,
		"content": content, "stop_reason": stop, "stop_sequence": nil,
		"usage": map[string]any{"input_tokens": in + 10, "output_tokens": len(strings.Fields(text)) + 1,
			"cache_creation_input_tokens": 0, "cache_read_input_tokens": 0},
	}
}

func (a *Anthropic) messages(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	defer a.begin(r, body)()
	if !a.auth(w, r) {
		return
	}
	var p aParams
	if err := decodeStrict(body, &p); err != nil {
		aError(w, 400, "invalid_request_error", err.Error())
		return
	}
	system, last, err := p.check()
	if err != nil {
		aError(w, 400, "invalid_request_error", err.Error())
		return
	}
	_, f := a.fault(last)
	done, ok := a.admit(w, anthropicLimits)
	if !ok {
		aError(w, 429, "rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit")
		return
	}
	defer done()
	switch f {
	case RateLimit:
		ra := a.RetryAfter
		if ra == "" {
			ra = "0"
		}
		w.Header().Set("retry-after", ra)
		aError(w, 429, "rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit")
		return
	case Overloaded:
		aError(w, 529, "overloaded_error", "Overloaded")
		return
	case ServerError:
		aError(w, 500, "api_error", "Internal server error")
		return
	case BadRequest:
		aError(w, 400, "invalid_request_error", "prompt is too long: 250000 tokens > 200000 maximum")
		return
	case Hang:
		hang(r)
		return
	}
	a.wait(r)
	msg, _ := json.Marshal(a.message(&p, system, last, f == MaxTokens))
	switch f {
	case Malformed:
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`<html>502 Bad Gateway</html>`))
	case Cut:
		cut(w, msg)
	default:
		w.Header().Set("Content-Type", "application/json")
		w.Write(msg)
	}
}

// batchFault serves a batch endpoint's injected fault; false if it did.
func (a *Anthropic) batchFault(w http.ResponseWriter, op string) bool {
	if a.BatchFault == nil {
		return true
	}
	f := a.BatchFault(op, a.batchReqs.Add(1))
	if f != OK {
		v, _ := a.Faults.LoadOrStore(f, new(atomic.Int64))
		v.(*atomic.Int64).Add(1)
	}
	switch f {
	case RateLimit:
		w.Header().Set("retry-after", "0")
		aError(w, 429, "rate_limit_error", "rate limited")
	case Overloaded:
		aError(w, 529, "overloaded_error", "Overloaded")
	case ServerError:
		aError(w, 500, "api_error", "Internal server error")
	case Malformed:
		w.Write([]byte("{"))
	case Cut:
		cut(w, []byte(`{"id":"msgbatch_cut","type":"message_batch","processing_status":"in_progress"}`))
	default:
		return true
	}
	return false
}

func (a *Anthropic) createBatch(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	defer a.begin(r, body)()
	if !a.auth(w, r) || !a.batchFault(w, "create") {
		return
	}
	var req struct {
		Requests []aBatchReq `json:"requests"`
	}
	if err := decodeStrict(body, &req); err != nil {
		aError(w, 400, "invalid_request_error", err.Error())
		return
	}
	if len(req.Requests) == 0 || len(req.Requests) > 100000 {
		aError(w, 400, "invalid_request_error", "requests: between 1 and 100000 requests")
		return
	}
	seen := map[string]bool{}
	for i, q := range req.Requests {
		if !customID.MatchString(q.CustomID) {
			aError(w, 400, "invalid_request_error", fmt.Sprintf("requests.%d.custom_id: must match ^[a-zA-Z0-9_-]{1,64}$", i))
			return
		}
		if seen[q.CustomID] {
			aError(w, 400, "invalid_request_error", fmt.Sprintf("requests.%d.custom_id: duplicate custom_id %s", i, q.CustomID))
			return
		}
		seen[q.CustomID] = true
	}
	n := a.BatchesCreated.Add(1)
	a.BatchRequests.Add(int64(len(req.Requests)))
	end := ""
	if a.BatchEnd != nil {
		end = a.BatchEnd(n)
	}
	a.bmu.Lock()
	b := &fakeBatch{id: fmt.Sprintf("msgbatch_%08d", len(a.batches)+1), end: end, reqs: req.Requests, created: time.Now()}
	a.batches[b.id] = b
	a.bmu.Unlock()
	writeJSON(w, 200, a.batchObject(b))
}

// DropBatches forgets every batch (as if archived, or sent from another
// account).
func (a *Anthropic) DropBatches() {
	a.bmu.Lock()
	clear(a.batches)
	a.bmu.Unlock()
}

func (a *Anthropic) batchObject(b *fakeBatch) map[string]any {
	ended := b.lines != nil
	o := map[string]any{"id": b.id, "type": "message_batch", "created_at": b.created.UTC().Format(time.RFC3339),
		"expires_at": b.created.Add(24 * time.Hour).UTC().Format(time.RFC3339), "archived_at": nil,
		"cancel_initiated_at": nil, "ended_at": nil, "results_url": nil, "processing_status": "in_progress",
		"request_counts": map[string]int{"processing": len(b.reqs), "succeeded": 0, "errored": 0, "canceled": 0, "expired": 0}}
	if b.end == "canceled" {
		o["processing_status"] = "canceling"
		o["cancel_initiated_at"] = b.created.UTC().Format(time.RFC3339)
	}
	if ended {
		o["processing_status"] = "ended"
		o["ended_at"] = time.Now().UTC().Format(time.RFC3339)
		o["results_url"] = a.URL + "/v1/messages/batches/" + b.id + "/results"
		o["request_counts"] = b.counts
	}
	return o
}

func (a *Anthropic) getBatch(w http.ResponseWriter, r *http.Request) {
	defer a.begin(r, nil)()
	if !a.auth(w, r) || !a.batchFault(w, "get") {
		return
	}
	a.BatchPolls.Add(1)
	a.bmu.Lock()
	defer a.bmu.Unlock()
	b := a.batches[r.PathValue("id")]
	if b == nil {
		a.BatchesNotFound.Add(1)
		aError(w, 404, "not_found_error", "message batch not found")
		return
	}
	b.polls++
	if b.lines == nil && b.polls >= a.PollsToEnd {
		a.end(b)
	}
	writeJSON(w, 200, a.batchObject(b))
}

// end processes a batch: each request's result line, in an order other
// than the requests'.
func (a *Anthropic) end(b *fakeBatch) {
	b.counts = map[string]int{"processing": 0, "succeeded": 0, "errored": 0, "canceled": 0, "expired": 0}
	b.lines = [][]byte{}
	for i := len(b.reqs) - 1; i >= 0; i-- {
		q := b.reqs[i]
		system, last, err := q.Params.check()
		fate := "succeeded"
		switch {
		case b.end == "expired" || b.end == "canceled":
			fate = b.end
		case err != nil:
			fate = "invalid"
		case a.BatchResult != nil:
			fate = a.BatchResult(q.CustomID, last)
		}
		var result any
		switch fate {
		case "succeeded":
			result = map[string]any{"type": "succeeded", "message": a.message(&q.Params, system, last, false)}
		case "errored":
			result = map[string]any{"type": "errored", "error": map[string]any{"type": "error", "error": map[string]string{"type": "overloaded_error", "message": "Overloaded"}}}
			fate = "errored"
		case "invalid":
			msg := "invalid request"
			if err != nil {
				msg = err.Error()
			}
			result = map[string]any{"type": "errored", "error": map[string]any{"type": "error", "error": map[string]string{"type": "invalid_request_error", "message": msg}}}
			fate = "errored"
		default:
			result = map[string]any{"type": fate}
		}
		b.counts[fate]++
		line, _ := json.Marshal(map[string]any{"custom_id": q.CustomID, "result": result})
		b.lines = append(b.lines, line)
	}
}

func (a *Anthropic) batchResults(w http.ResponseWriter, r *http.Request) {
	defer a.begin(r, nil)()
	if !a.auth(w, r) || !a.batchFault(w, "results") {
		return
	}
	a.bmu.Lock()
	b := a.batches[r.PathValue("id")]
	var lines [][]byte
	if b != nil {
		lines = b.lines
	}
	a.bmu.Unlock()
	if b == nil || lines == nil {
		aError(w, 404, "not_found_error", "results not available")
		return
	}
	w.Header().Set("Content-Type", "application/binary")
	for _, l := range lines {
		w.Write(l)
		w.Write([]byte("\n"))
	}
}

// OpenAI is a fake OpenAI-compatible server.
type OpenAI struct {
	Server
	// NoResponseFormat makes the server refuse response_format (400), as
	// some OpenAI-compatible servers do.
	NoResponseFormat bool
	// Dim is the embeddings' dimension (default 8).
	Dim int
	// MaxTokensField is the field the server accepts ("max_tokens" default).
	MaxTokensField string
}

type oMessage struct {
	Role    string `json:"role"`
	Content string `json:"content"`
	Name    string `json:"name,omitempty"`
}

type oChat struct {
	Model               string          `json:"model"`
	Messages            []oMessage      `json:"messages"`
	MaxTokens           *int            `json:"max_tokens,omitempty"`
	MaxCompletionTokens *int            `json:"max_completion_tokens,omitempty"`
	Temperature         *float64        `json:"temperature,omitempty"`
	TopP                *float64        `json:"top_p,omitempty"`
	Seed                *int            `json:"seed,omitempty"`
	Stream              bool            `json:"stream,omitempty"`
	ResponseFormat      json.RawMessage `json:"response_format,omitempty"`
}

// NewOpenAI starts a fake OpenAI-compatible server; its base URL is URL+"/v1".
func NewOpenAI(key string) *OpenAI {
	o := &OpenAI{Dim: 8}
	o.Key = key
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/chat/completions", o.chat)
	mux.HandleFunc("POST /v1/embeddings", o.embeddings)
	o.Server.Server = httptest.NewServer(mux)
	return o
}

// BaseURL is the base_url a client is given.
func (o *OpenAI) BaseURL() string { return o.URL + "/v1" }

func oError(w http.ResponseWriter, status int, typ, msg string) {
	writeJSON(w, status, map[string]any{"error": map[string]any{"message": msg, "type": typ, "param": nil, "code": nil}})
}

func (o *OpenAI) auth(w http.ResponseWriter, r *http.Request) bool {
	if o.Key != "" && r.Header.Get("Authorization") != "Bearer "+o.Key {
		oError(w, 401, "invalid_request_error", "Incorrect API key provided.")
		return false
	}
	return true
}

func (o *OpenAI) chat(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	defer o.begin(r, body)()
	if !o.auth(w, r) {
		return
	}
	var c oChat
	if err := decodeStrict(body, &c); err != nil {
		oError(w, 400, "invalid_request_error", err.Error())
		return
	}
	if c.Model == "" || len(c.Messages) == 0 {
		oError(w, 400, "invalid_request_error", "model and messages are required")
		return
	}
	field := o.MaxTokensField
	if field == "" {
		field = "max_tokens"
	}
	maxTok := math.MaxInt
	switch {
	case c.MaxTokens != nil && field != "max_tokens", c.MaxCompletionTokens != nil && field != "max_completion_tokens":
		oError(w, 400, "invalid_request_error", "Unsupported parameter: use '"+field+"'")
		return
	case c.MaxTokens != nil:
		maxTok = *c.MaxTokens
	case c.MaxCompletionTokens != nil:
		maxTok = *c.MaxCompletionTokens
	}
	schema := false
	if len(c.ResponseFormat) > 0 {
		if o.NoResponseFormat {
			oError(w, 400, "invalid_request_error", "response_format is not supported by this server")
			return
		}
		var rf struct {
			Type       string `json:"type"`
			JSONSchema *struct {
				Name   string          `json:"name"`
				Schema json.RawMessage `json:"schema"`
				Strict bool            `json:"strict"`
			} `json:"json_schema"`
		}
		if err := decodeStrict(c.ResponseFormat, &rf); err != nil || rf.Type != "json_schema" || rf.JSONSchema == nil || rf.JSONSchema.Name == "" || len(rf.JSONSchema.Schema) == 0 {
			oError(w, 400, "invalid_request_error", "response_format: invalid json_schema")
			return
		}
		schema = true
	}
	var system, last string
	for _, m := range c.Messages {
		switch m.Role {
		case "system", "developer":
			system = m.Content
		case "user", "assistant":
			last = m.Content
		default:
			oError(w, 400, "invalid_request_error", "messages: invalid role "+m.Role)
			return
		}
	}
	_, f := o.fault(last)
	done, ok := o.admit(w, openaiLimits)
	if !ok {
		oError(w, 429, "rate_limit_exceeded", "Rate limit reached for requests")
		return
	}
	defer done()
	switch f {
	case RateLimit:
		ra := o.RetryAfter
		if ra == "" {
			ra = "0"
		}
		w.Header().Set("retry-after", ra)
		oError(w, 429, "rate_limit_exceeded", "Rate limit reached for requests")
		return
	case Overloaded:
		oError(w, 503, "server_error", "The server is overloaded")
		return
	case ServerError:
		oError(w, 500, "server_error", "The server had an error while processing your request.")
		return
	case BadRequest:
		oError(w, 400, "invalid_request_error", "This model's maximum context length is 8192 tokens.")
		return
	case Hang:
		hang(r)
		return
	}
	o.wait(r)
	text := o.answer(system, last)
	if schema && !o.AsIs {
		b, _ := json.Marshal(map[string]string{"answer": text})
		text = string(b)
	}
	finish := "stop"
	words := strings.Fields(text)
	if f == MaxTokens || len(words) > maxTok {
		n := min(len(words), maxTok)
		if f == MaxTokens {
			n = max(1, len(words)/2)
		}
		text, finish = strings.Join(words[:n], " "), "length"
	}
	in := (len(system)+len(last))/4 + 10
	out := len(strings.Fields(text)) + 1
	resp, _ := json.Marshal(map[string]any{
		"id": fmt.Sprintf("chatcmpl-%x", hash(last)), "object": "chat.completion", "created": 1700000000, "model": c.Model,
		"choices": []any{map[string]any{"index": 0, "message": map[string]any{"role": "assistant", "content": text, "refusal": nil},
			"logprobs": nil, "finish_reason": finish}},
		"usage": map[string]any{"prompt_tokens": in, "completion_tokens": out, "total_tokens": in + out},
	})
	switch f {
	case Malformed:
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"id": "chatcmpl-1", "choices": [`))
	case Cut:
		cut(w, resp)
	default:
		w.Header().Set("Content-Type", "application/json")
		w.Write(resp)
	}
}

// Vector is the fake embedding of a text: deterministic, unit length.
func Vector(text string, dim int) []float32 {
	v := make([]float32, dim)
	var norm float64
	for i := range v {
		x := float64(int64(hash(fmt.Sprint(i, "|", text))%2001)-1000) / 1000
		v[i] = float32(x)
		norm += x * x
	}
	for i := range v {
		v[i] = float32(float64(v[i]) / math.Sqrt(norm))
	}
	return v
}

func (o *OpenAI) embeddings(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	defer o.begin(r, body)()
	if !o.auth(w, r) {
		return
	}
	var e struct {
		Model          string          `json:"model"`
		Input          json.RawMessage `json:"input"`
		EncodingFormat string          `json:"encoding_format,omitempty"`
		Dimensions     int             `json:"dimensions,omitempty"`
	}
	if err := decodeStrict(body, &e); err != nil {
		oError(w, 400, "invalid_request_error", err.Error())
		return
	}
	var inputs []string
	if err := json.Unmarshal(e.Input, &inputs); err != nil {
		var one string
		if err := json.Unmarshal(e.Input, &one); err != nil {
			oError(w, 400, "invalid_request_error", "input: want a string or an array of strings")
			return
		}
		inputs = []string{one}
	}
	if e.Model == "" || len(inputs) == 0 || len(inputs) > 2048 || (e.EncodingFormat != "" && e.EncodingFormat != "float") {
		oError(w, 400, "invalid_request_error", "invalid embeddings request")
		return
	}
	_, f := o.fault(inputs[len(inputs)-1])
	done, ok := o.admit(w, openaiLimits)
	if !ok {
		oError(w, 429, "rate_limit_exceeded", "Rate limit reached")
		return
	}
	defer done()
	switch f {
	case RateLimit:
		w.Header().Set("retry-after", "0")
		oError(w, 429, "rate_limit_exceeded", "Rate limit reached")
		return
	case ServerError, Overloaded:
		oError(w, 500, "server_error", "error")
		return
	case Hang:
		hang(r)
		return
	}
	o.wait(r)
	data := make([]any, len(inputs))
	tokens := 0
	// Answer out of order: clients must join on index.
	for i := len(inputs) - 1; i >= 0; i-- {
		data[len(inputs)-1-i] = map[string]any{"object": "embedding", "index": i, "embedding": Vector(inputs[i], o.Dim)}
		tokens += len(inputs[i])/4 + 1
	}
	resp, _ := json.Marshal(map[string]any{"object": "list", "data": data, "model": e.Model,
		"usage": map[string]any{"prompt_tokens": tokens, "total_tokens": tokens}})
	switch f {
	case Malformed:
		w.Write([]byte(`not json`))
	case Cut:
		cut(w, resp)
	default:
		w.Header().Set("Content-Type", "application/json")
		w.Write(resp)
	}
}
