// Package model performs the model calls plugins ask for. A Client holds
// the run's models (the [models.NAME] tables of a run config), each a
// provider (package anthropic or openai, behind provider.Provider) wrapped
// with, in order:
//
//   - a content-addressed cache (the run store's model_cache table): the key
//     is a SHA-256 over the provider, base URL, model id, the fully rendered
//     call and every generation parameter, and CacheVersion (see Key).
//     Answers are cached, errors never. Identical calls in flight at once
//     are made once;
//   - limits per model: calls in flight (max_concurrency), requests and
//     tokens per minute, and a pause for every call when the provider says
//     "retry after";
//   - retries with exponential backoff and jitter, honouring retry-after, on
//     429, 529, other 5xx, timeouts, network failures and unreadable
//     answers, each retry logged at level WARN;
//   - a timeout per attempt;
//   - token and cost accounting (Usage), for progress and the manifest;
//   - for a model with batch = true (Anthropic), the Message Batches API:
//     calls are queued, sent in batches, polled, and each caller woken with
//     its own result, at half the price.
//
// A Caller is a Client seen from one stage: it implements
// plugin.ModelCaller. Its errors name the stage, the conversation (see
// WithConversation) and the model.
//
// What fails where. A call the plugin got wrong (unknown model, bad schema)
// or the provider refused for good (HTTP 400, 401, 403, 404...) comes back
// in that call's ModelResponse.Error, as sdk/ABI.md says, for the plugin to
// handle. A call that could not be made — retries exhausted, the offline
// cache missing it, the run stopping — is Call's error (*CallError): the
// conversation fails that stage with the reason recorded, since no answer
// came that a plugin could reason about.
//
// A run config declares its models like this (keys past timeout are
// proposed; see FromConfig):
//
//	[models.claude]
//	provider        = "anthropic"
//	model           = "claude-sonnet-4-5"
//	api_key_env     = "ANTHROPIC_API_KEY"
//	max_concurrency = 64
//	timeout         = "120s"
//	rpm             = 4000        # requests per minute
//	tpm             = 2000000     # input+output tokens per minute
//	input_price     = 3.0         # US$ per million tokens
//	output_price    = 15.0
//	batch           = true        # Message Batches: half the price, answers in minutes to hours
//
//	[models.local]
//	provider = "openai"           # any OpenAI-compatible server
//	model    = "Qwen/Qwen2.5-7B-Instruct"
//	base_url = "http://localhost:8000/v1"
//
// API keys are read from the environment variables the config names, held
// as provider.Secret (which never prints), sent only in the request header,
// and are in no cache key, log line, error or manifest.
package model

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/valuescope/valuescope/host/config"
	"github.com/valuescope/valuescope/host/model/anthropic"
	"github.com/valuescope/valuescope/host/model/openai"
	"github.com/valuescope/valuescope/host/model/provider"
	"github.com/valuescope/valuescope/sdk/protocol"
)

// Settings are one model's settings: a [models.NAME] table.
type Settings struct {
	Provider string // "anthropic" or "openai"
	Model    string // the provider's model id
	BaseURL  string // default: the provider's own API
	// APIKeyEnv names the environment variable holding the API key.
	// Unset: ANTHROPIC_API_KEY for anthropic, OPENAI_API_KEY for openai at
	// its default URL, none for another OpenAI-compatible server.
	APIKeyEnv string

	MaxConcurrency int           // calls in flight; default 16
	Timeout        time.Duration // one attempt; default 2 minutes
	RPM            int           // requests per minute; 0: no limit
	TPM            int           // input+output tokens per minute; 0: no limit
	MaxRetries     int           // retries after the first attempt; default 8; <0: none
	MaxTokens      int           // max_tokens when a call gives none; default 1024

	// Prices in US dollars per million tokens; 0: the cost is not counted.
	InputPrice, OutputPrice float64
	// BatchDiscount is the fraction of the price a batched call pays;
	// default 0.5 (Anthropic's batch price).
	BatchDiscount float64

	// Batch sends chat calls through the provider's batch API (anthropic).
	Batch bool
	// BatchSize sends a batch once that many calls wait; default 10000
	// (Anthropic takes up to 100,000 or 256 MB).
	BatchSize int
	// BatchWait sends a batch at the latest that long after its first call
	// came; default 1 minute. A batch also goes when no call came for
	// Options.BatchIdle (every worker is waiting).
	BatchWait time.Duration

	// SchemaMode is how anthropic sends a schema: "tool" (default),
	// "output_config" or "none" (see package anthropic).
	SchemaMode string
	// Strict asks openai to enforce schemas strictly.
	Strict bool
}

// FromConfig is the settings a config's [models.NAME] table gives.
func FromConfig(m config.Model) Settings {
	return Settings{Provider: m.Provider, Model: m.Model, BaseURL: m.BaseURL, APIKeyEnv: m.APIKeyEnv,
		MaxConcurrency: m.MaxConcurrency, Timeout: m.Timeout.Duration,
		RPM: m.RPM, TPM: m.TPM, MaxRetries: m.MaxRetries, MaxTokens: m.MaxTokens,
		InputPrice: m.InputPrice, OutputPrice: m.OutputPrice, BatchDiscount: m.BatchDiscount,
		Batch: m.Batch, BatchSize: m.BatchSize, BatchWait: m.BatchWait.Duration,
		SchemaMode: m.SchemaMode, Strict: m.Strict}
}

// Model is one named model of a Client.
type Model struct {
	Name string
	Settings
	// Provider, when set, is used instead of one made from Settings.
	Provider provider.Provider
}

// Options apply to a whole Client.
type Options struct {
	// Offline answers from the caches only: a miss is a *MissError, and no
	// provider is called (nor API key read).
	Offline bool
	// Cache keeps the answers (the run store); nil: nothing is cached.
	Cache Cache
	// ReadCaches are consulted, in order, after Cache (another run's store,
	// to replay it); their hits are copied into Cache.
	ReadCaches []Cache
	Log        *slog.Logger
	// Getenv reads API keys; default os.Getenv.
	Getenv func(string) string
	// HTTPClient is used by every provider made from Settings; default one
	// per model with a transport for MaxConcurrency connections. Attempts
	// are bounded by Settings.Timeout, not by the client.
	HTTPClient *http.Client
	// Backoff before retry n is about BackoffBase·2^(n-1), at most
	// BackoffMax, with jitter; defaults 1 s and 1 minute. A retry-after
	// from the provider replaces it (up to 10 minutes).
	BackoffBase, BackoffMax time.Duration
	// PollInterval is how often a batch is polled; default 30 s.
	PollInterval time.Duration
	// BatchIdle sends the calls waiting for a batch when no new one came
	// for that long; default 2 s.
	BatchIdle time.Duration
}

// Client performs model calls for a run. It is safe for concurrent use.
type Client struct {
	opts   Options
	models map[string]*endpoint
	writer *cacheWriter

	fmu     sync.Mutex
	flights map[string]*flight
}

// endpoint is one model with its limits and counters.
type endpoint struct {
	name  string
	s     Settings
	p     provider.Provider
	id    provider.Endpoint
	lim   *limiter
	use   counters
	batch *batcher
}

type flight struct {
	done chan struct{}
	resp *provider.Response
	err  error
}

// New makes a Client for the given models.
func New(models []Model, opts Options) (*Client, error) {
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	if opts.Getenv == nil {
		opts.Getenv = os.Getenv
	}
	if opts.BackoffBase <= 0 {
		opts.BackoffBase = time.Second
	}
	if opts.BackoffMax <= 0 {
		opts.BackoffMax = time.Minute
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = 30 * time.Second
	}
	if opts.BatchIdle <= 0 {
		opts.BatchIdle = 2 * time.Second
	}
	c := &Client{opts: opts, models: map[string]*endpoint{}, flights: map[string]*flight{}}
	if opts.Cache != nil {
		c.writer = &cacheWriter{c: opts.Cache}
	}
	var errs []error
	for _, m := range models {
		ep, err := c.endpoint(m)
		if err != nil {
			errs = append(errs, fmt.Errorf("model %s: %w", m.Name, err))
			continue
		}
		if _, dup := c.models[m.Name]; dup {
			errs = append(errs, fmt.Errorf("model %s: defined twice", m.Name))
			continue
		}
		c.models[m.Name] = ep
	}
	if err := errors.Join(errs...); err != nil {
		c.Close()
		return nil, err
	}
	for _, ep := range c.models {
		if ep.batch != nil {
			ep.batch.resume()
		}
	}
	return c, nil
}

// Open makes a Client for a config's models (see FromConfig).
func Open(models map[string]config.Model, opts Options) (*Client, error) {
	names := make([]string, 0, len(models))
	for n := range models {
		names = append(names, n)
	}
	slices.Sort(names)
	ms := make([]Model, len(names))
	for i, n := range names {
		ms[i] = Model{Name: n, Settings: FromConfig(models[n])}
	}
	return New(ms, opts)
}

func (c *Client) endpoint(m Model) (*endpoint, error) {
	s := m.Settings
	if s.MaxConcurrency <= 0 {
		s.MaxConcurrency = 16
	}
	if s.Timeout <= 0 {
		s.Timeout = 2 * time.Minute
	}
	if s.MaxRetries == 0 {
		s.MaxRetries = 8
	} else if s.MaxRetries < 0 {
		s.MaxRetries = 0
	}
	if s.MaxTokens <= 0 {
		s.MaxTokens = 1024
	}
	if s.BatchDiscount <= 0 {
		s.BatchDiscount = 0.5
	}
	if s.BatchSize <= 0 {
		s.BatchSize = 10000
	}
	if s.BatchWait <= 0 {
		s.BatchWait = time.Minute
	}
	if s.Model == "" {
		return nil, errors.New("no model id")
	}
	p := m.Provider
	if p == nil {
		var err error
		if p, err = c.provider(s); err != nil {
			return nil, err
		}
	}
	ep := &endpoint{name: m.Name, s: s, p: p, id: p.Endpoint(), lim: newLimiter(s.MaxConcurrency, s.RPM, s.TPM)}
	if s.Batch {
		api, ok := p.(provider.Batcher)
		if !ok {
			return nil, fmt.Errorf("batch = true, but provider %s has no batch API", ep.id.Provider)
		}
		ep.batch = newBatcher(c, ep, api)
	}
	return ep, nil
}

// provider makes a model's provider, with its API key from the environment.
func (c *Client) provider(s Settings) (provider.Provider, error) {
	env := s.APIKeyEnv
	required := env != ""
	if env == "" {
		switch {
		case s.Provider == "anthropic":
			env, required = "ANTHROPIC_API_KEY", true
		case s.Provider == "openai" && (s.BaseURL == "" || strings.HasPrefix(s.BaseURL, openai.DefaultBaseURL)):
			env, required = "OPENAI_API_KEY", true
		}
	}
	var key provider.Secret
	if !c.opts.Offline && env != "" {
		key = provider.Secret(c.opts.Getenv(env))
		if key == "" && required {
			return nil, fmt.Errorf("the environment variable %s, which should hold its API key, is not set", env)
		}
	}
	hc := c.opts.HTTPClient
	if hc == nil {
		hc = &http.Client{Transport: provider.NewTransport(s.MaxConcurrency)}
	}
	switch s.Provider {
	case "anthropic":
		return anthropic.New(anthropic.Options{BaseURL: s.BaseURL, APIKey: key, HTTPClient: hc, SchemaMode: s.SchemaMode})
	case "openai":
		return openai.New(openai.Options{BaseURL: s.BaseURL, APIKey: key, HTTPClient: hc, Strict: s.Strict})
	default:
		return nil, fmt.Errorf("unknown provider %q (known: anthropic, openai)", s.Provider)
	}
}

// Close stops the batchers. Batches submitted and not collected stay
// recorded in the store, and a Client on the same store collects them.
func (c *Client) Close() error {
	for _, ep := range c.models {
		if ep.batch != nil {
			ep.batch.close()
		}
	}
	return nil
}

// Info describes a model for the run manifest (no key, only its variable's name).
type Info struct {
	Name           string  `json:"name"`
	Provider       string  `json:"provider"`
	Model          string  `json:"model"`
	BaseURL        string  `json:"base_url"`
	Options        string  `json:"options,omitempty"`
	APIKeyEnv      string  `json:"api_key_env,omitempty"`
	Batch          bool    `json:"batch,omitempty"`
	MaxConcurrency int     `json:"max_concurrency"`
	RPM            int     `json:"rpm,omitempty"`
	TPM            int     `json:"tpm,omitempty"`
	MaxTokens      int     `json:"default_max_tokens"`
	InputPrice     float64 `json:"input_price_per_mtok,omitempty"`
	OutputPrice    float64 `json:"output_price_per_mtok,omitempty"`
	CacheVersion   int     `json:"cache_version"`
}

// Models describes the client's models, by name.
func (c *Client) Models() []Info {
	var out []Info
	for _, ep := range c.sorted() {
		out = append(out, Info{Name: ep.name, Provider: ep.id.Provider, Model: ep.s.Model, BaseURL: ep.id.BaseURL, Options: ep.id.Options,
			APIKeyEnv: ep.s.APIKeyEnv, Batch: ep.s.Batch, MaxConcurrency: ep.s.MaxConcurrency, RPM: ep.s.RPM, TPM: ep.s.TPM,
			MaxTokens: ep.s.MaxTokens, InputPrice: ep.s.InputPrice, OutputPrice: ep.s.OutputPrice, CacheVersion: CacheVersion})
	}
	return out
}

func (c *Client) sorted() []*endpoint {
	eps := make([]*endpoint, 0, len(c.models))
	for _, ep := range c.models {
		eps = append(eps, ep)
	}
	slices.SortFunc(eps, func(a, b *endpoint) int { return strings.Compare(a.name, b.name) })
	return eps
}

// Caller is the Client seen from one stage; it implements plugin.ModelCaller.
type Caller struct {
	c     *Client
	stage string
	ep    *endpoint
	conv  string
}

// ForStage is the caller for a stage whose model is the named one.
func (c *Client) ForStage(stage, model string) (*Caller, error) {
	ep, ok := c.models[model]
	if !ok {
		return nil, fmt.Errorf("stage %s: unknown model %q (defined: %s)", stage, model, c.names())
	}
	return &Caller{c: c, stage: stage, ep: ep}, nil
}

func (c *Client) names() string {
	var n []string
	for _, ep := range c.sorted() {
		n = append(n, ep.name)
	}
	if len(n) == 0 {
		return "none"
	}
	return strings.Join(n, ", ")
}

// ForConversation is the same caller with the conversation its errors name
// (a small copy; one per conversation is cheap). Without it, the
// conversation comes from the context (WithConversation).
func (k *Caller) ForConversation(id string) *Caller {
	cp := *k
	cp.conv = id
	return &cp
}

type convKey struct{}

// WithConversation marks ctx as working on a conversation: model errors
// name it. (plugin.ModelCaller.Call has no conversation argument; the
// pipeline sets this on the context it passes to plugin.Annotate.)
func WithConversation(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, convKey{}, id)
}

// Conversation is the id WithConversation put in ctx ("" if none).
func Conversation(ctx context.Context) string {
	id, _ := ctx.Value(convKey{}).(string)
	return id
}

// Call performs one round's calls, concurrently, and returns their answers
// in order. See the package documentation for what is an answer's Error
// and what is Call's error (then a *CallError, the first in call order).
func (k *Caller) Call(ctx context.Context, calls []protocol.ModelCall) ([]protocol.ModelResponse, error) {
	conv := k.conv
	if conv == "" {
		conv = Conversation(ctx)
	}
	out := make([]protocol.ModelResponse, len(calls))
	errs := make([]error, len(calls))
	if len(calls) == 1 {
		out[0], errs[0] = k.one(ctx, conv, &calls[0])
	} else {
		var wg sync.WaitGroup
		for i := range calls {
			wg.Go(func() { out[i], errs[i] = k.one(ctx, conv, &calls[i]) })
		}
		wg.Wait()
	}
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// CallError is a model call that could not be made.
type CallError struct {
	Stage, Conversation, Model, CallID string
	Err                                error
}

func (e *CallError) Error() string {
	var b strings.Builder
	if e.Stage != "" {
		b.WriteString("stage " + e.Stage)
	}
	if e.Conversation != "" {
		if b.Len() > 0 {
			b.WriteString(", ")
		}
		b.WriteString("conversation " + e.Conversation)
	}
	if b.Len() > 0 {
		b.WriteString(": ")
	}
	fmt.Fprintf(&b, "model %s", e.Model)
	if e.CallID != "" {
		fmt.Fprintf(&b, ", call %q", e.CallID)
	}
	return b.String() + ": " + e.Err.Error()
}

func (e *CallError) Unwrap() error { return e.Err }

// ErrOffline is what every *MissError is (errors.Is).
var ErrOffline = errors.New("offline: no cached answer")

// MissError is an offline call the cache does not have.
type MissError struct{ Key string }

func (e *MissError) Error() string {
	return fmt.Sprintf("offline, and the cache has no answer for this call (cache key %s); the run being replayed never made it: were the prompt, plugin, dataset or model settings changed?", e.Key)
}

func (e *MissError) Is(target error) bool { return target == ErrOffline }

// ExhaustedError is a call that kept failing with errors worth retrying.
type ExhaustedError struct {
	Attempts int
	Err      error
}

func (e *ExhaustedError) Error() string {
	return fmt.Sprintf("failed %d times, giving up: %v", e.Attempts, e.Err)
}

func (e *ExhaustedError) Unwrap() error { return e.Err }

// permanent is a failure that is the call's answer (ModelResponse.Error).
type permanent struct{ err error }

func (p *permanent) Error() string { return p.err.Error() }

// one performs one call.
func (k *Caller) one(ctx context.Context, conv string, mc *protocol.ModelCall) (protocol.ModelResponse, error) {
	out := protocol.ModelResponse{ID: mc.ID}
	ep := k.ep
	if mc.Model != "" {
		if ep = k.c.models[mc.Model]; ep == nil {
			out.Error = fmt.Sprintf("unknown model %q (defined: %s)", mc.Model, k.c.names())
			return out, nil
		}
	}
	ep.use.calls.Add(1)
	req, maxTokens, err := ep.request(mc)
	if err != nil {
		ep.use.failures.Add(1)
		out.Error = fmt.Sprintf("model %s: %v", ep.name, err)
		return out, nil
	}
	key := Key(ep.id, ep.s.Model, mc, maxTokens)
	resp, err := k.c.answer(ctx, ep, key, req, mc.Kind, tag{stage: k.stage, conv: conv, call: mc.ID})
	if err != nil {
		if p, ok := err.(*permanent); ok {
			ep.use.failures.Add(1)
			out.Error = fmt.Sprintf("model %s: %v", ep.name, p.err)
			return out, nil
		}
		if ctx.Err() == nil {
			ep.use.failures.Add(1)
		}
		return out, &CallError{Stage: k.stage, Conversation: conv, Model: ep.name, CallID: mc.ID, Err: err}
	}
	out.Text, out.StopReason = resp.Text, resp.StopReason
	if len(resp.Embeddings) > 0 {
		out.Embeddings = make([]protocol.Embedding, len(resp.Embeddings))
		for i, v := range resp.Embeddings {
			out.Embeddings[i] = protocol.Embedding{Vector: v}
		}
	}
	return out, nil
}

// request renders a call for the provider, with the defaults applied.
func (ep *endpoint) request(mc *protocol.ModelCall) (*provider.Request, int, error) {
	maxTokens := int(mc.MaxTokens)
	if maxTokens == 0 {
		maxTokens = ep.s.MaxTokens
	}
	if math.IsNaN(mc.Temperature) || math.IsInf(mc.Temperature, 0) || mc.Temperature < 0 {
		return nil, 0, fmt.Errorf("temperature %v", mc.Temperature)
	}
	req := &provider.Request{Model: ep.s.Model, System: mc.System, MaxTokens: maxTokens, Temperature: mc.Temperature}
	switch mc.Kind {
	case "":
		if len(mc.Messages) == 0 {
			return nil, 0, errors.New("a chat call needs at least one message")
		}
		for _, m := range mc.Messages {
			switch m.Role {
			case "user", "assistant", "system":
			default:
				return nil, 0, fmt.Errorf("message role %q: want user or assistant", m.Role)
			}
			req.Messages = append(req.Messages, provider.Message{Role: m.Role, Content: m.Content})
		}
		if mc.SchemaJSON != "" {
			var v map[string]any
			if err := json.Unmarshal([]byte(mc.SchemaJSON), &v); err != nil {
				return nil, 0, fmt.Errorf("schema_json is not a JSON object: %v", err)
			}
			req.Schema = json.RawMessage(mc.SchemaJSON)
		}
	case "embed":
		if len(mc.Messages) == 0 {
			return nil, 0, errors.New("an embed call needs at least one message to embed")
		}
		for _, m := range mc.Messages {
			req.Inputs = append(req.Inputs, m.Content)
		}
		maxTokens = 0
	default:
		return nil, 0, fmt.Errorf("kind %q: want \"\" (chat) or \"embed\"", mc.Kind)
	}
	return req, maxTokens, nil
}

// tag names a call in logs and errors.
type tag struct{ stage, conv, call string }

func (t tag) attrs() []any {
	var a []any
	if t.stage != "" {
		a = append(a, "stage", t.stage)
	}
	if t.conv != "" {
		a = append(a, "conversation", t.conv)
	}
	if t.call != "" {
		a = append(a, "call", t.call)
	}
	return a
}

// answer finds a call's answer: in a cache, from an identical call in
// flight, or from the provider.
func (c *Client) answer(ctx context.Context, ep *endpoint, key string, req *provider.Request, kind string, t tag) (*provider.Response, error) {
	resp, err := c.lookup(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("model cache: %w", err)
	}
	if resp != nil {
		ep.use.hits.Add(1)
		return resp, nil
	}
	if c.opts.Offline {
		return nil, &MissError{Key: key}
	}
	for {
		c.fmu.Lock()
		if f, ok := c.flights[key]; ok {
			c.fmu.Unlock()
			select {
			case <-f.done:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			if f.err != nil && isContextErr(f.err) && ctx.Err() == nil {
				continue // the caller that made it went away; make it ourselves
			}
			if f.err == nil {
				ep.use.shared.Add(1)
			}
			return f.resp, f.err
		}
		f := &flight{done: make(chan struct{})}
		c.flights[key] = f
		c.fmu.Unlock()
		f.resp, f.err = c.fetch(ctx, ep, key, req, kind, t)
		c.fmu.Lock()
		delete(c.flights, key)
		c.fmu.Unlock()
		close(f.done)
		return f.resp, f.err
	}
}

func isContextErr(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// lookup reads the caches; a hit in a read cache is copied into Cache.
func (c *Client) lookup(ctx context.Context, key string) (*provider.Response, error) {
	for i, ca := range append([]Cache{c.opts.Cache}, c.opts.ReadCaches...) {
		if ca == nil {
			continue
		}
		b, ok, err := ca.CachedModelResponse(ctx, key)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		resp, err := decodeCached(b)
		if err != nil {
			continue // unreadable: ask again
		}
		if i > 0 && c.writer != nil {
			if err := c.writer.put(key, b); err != nil {
				return nil, err
			}
		}
		return resp, nil
	}
	return nil, nil
}

// fetch asks the provider (directly or through a batch) and caches the answer.
func (c *Client) fetch(ctx context.Context, ep *endpoint, key string, req *provider.Request, kind string, t tag) (*provider.Response, error) {
	if ep.batch != nil && kind == "" {
		return ep.batch.do(ctx, key, req)
	}
	call := ep.p.Complete
	if kind == "embed" {
		call = ep.p.Embed
	}
	est := estimate(req)
	var resp *provider.Response
	err := c.retry(ctx, ep, t, func(ctx context.Context) error {
		// Waiting for the limits is not part of the attempt's timeout.
		if err := ep.lim.acquire(ctx, est); err != nil {
			return err
		}
		defer ep.lim.release()
		ep.use.requests.Add(1)
		err := ep.timed(ctx, func(ctx context.Context) error {
			var err error
			resp, err = call(ctx, req)
			return err
		})
		if err != nil {
			if e, ok := provider.AsError(err); !ok || e.Status != http.StatusTooManyRequests {
				ep.lim.settle(est, 0)
			}
			return err
		}
		ep.lim.settle(est, resp.Usage.InputTokens+resp.Usage.OutputTokens)
		return nil
	})
	if err != nil {
		return nil, err
	}
	ep.use.add(resp.Usage, false)
	if c.writer != nil {
		if err := c.writer.put(key, encodeCached(resp)); err != nil {
			return nil, fmt.Errorf("model cache: %w", err)
		}
	}
	return resp, nil
}

// retry runs attempt until it succeeds, fails for good (*permanent), fails
// retryably more than MaxRetries times (*ExhaustedError), or ctx ends.
func (c *Client) retry(ctx context.Context, ep *endpoint, t tag, attempt func(context.Context) error) error {
	for n := 1; ; n++ {
		err := attempt(ctx)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		e, ok := provider.AsError(err)
		switch {
		case !ok:
			return &permanent{err}
		case !e.Retryable:
			return &permanent{e}
		}
		if n > ep.s.MaxRetries {
			return &ExhaustedError{Attempts: n, Err: e}
		}
		wait := c.backoff(n, e.RetryAfter)
		if e.RetryAfter > 0 && (e.Status == http.StatusTooManyRequests || e.Status == 529) {
			ep.lim.hold(time.Now().Add(wait))
		}
		ep.use.retries.Add(1)
		c.opts.Log.Warn("model call failed; retrying", append([]any{"model", ep.name, "attempt", n, "max_retries", ep.s.MaxRetries,
			"wait", wait.Round(time.Millisecond), "err", e.Error()}, t.attrs()...)...)
		if err := sleep(ctx, wait); err != nil {
			return err
		}
	}
}

// timed runs one exchange with the model's timeout, which becomes a
// retryable *provider.Error when it strikes.
func (ep *endpoint) timed(ctx context.Context, f func(context.Context) error) error {
	return ep.timedFor(ctx, ep.s.Timeout, f)
}

func (ep *endpoint) timedFor(ctx context.Context, d time.Duration, f func(context.Context) error) error {
	actx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	err := f(actx)
	if err != nil && ctx.Err() == nil && errors.Is(actx.Err(), context.DeadlineExceeded) {
		return &provider.Error{Provider: ep.id.Provider, Message: fmt.Sprintf("no answer within %s (the model's timeout)", d),
			Retryable: true, Err: context.DeadlineExceeded}
	}
	return err
}

// backoff is the wait before retry n: the provider's retry-after (plus up
// to 10% jitter), else exponential with "equal jitter" (half fixed, half
// random), so that calls failing together do not retry together.
func (c *Client) backoff(n int, retryAfter time.Duration) time.Duration {
	if retryAfter > 0 {
		retryAfter = min(retryAfter, 10*time.Minute)
		return retryAfter + rand.N(retryAfter/10+1)
	}
	d := c.opts.BackoffBase << min(n-1, 30)
	if d <= 0 || d > c.opts.BackoffMax {
		d = c.opts.BackoffMax
	}
	return d/2 + rand.N(d/2+1)
}

// estimate guesses a call's tokens before it is made (4 bytes a token,
// plus max_tokens), for the tokens-per-minute limit; settle corrects it.
func estimate(req *provider.Request) int64 {
	n := len(req.System)
	for _, m := range req.Messages {
		n += len(m.Content)
	}
	for _, s := range req.Inputs {
		n += len(s)
	}
	return int64(n/4 + req.MaxTokens + 1)
}
