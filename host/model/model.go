// Package model performs the model calls plugins ask for. A Client holds
// the run's models (the [models.NAME] tables of a run config), each a
// provider (package anthropic or openai, behind provider.Provider) wrapped
// with, in order:
//
//   - a content-addressed cache (the run store's model_cache table): the key
//     is a SHA-256 over the provider, base URL, model id, the fully rendered
//     call and every generation parameter, and CacheVersion (see Key).
//     Answers are cached, errors never. Identical calls in flight at once
//     are made once. An answer a stage failed with is rejected (see
//     Caller.Settle): moved to the store's model_rejected table, never
//     replayed, and asked again the next time the call is made; a reasking
//     caller (Caller.Reask) asks every call again, its new answers
//     replacing the cached ones;
//   - limits per model: calls in flight, at most max_concurrency and
//     adapting (fewer when 429s, 529s or 503s come densely, more again as
//     answers come), so that a server taking only N at once gets about N;
//     requests and tokens per minute; and a pause for every call only when
//     a 429's rate-limit headers say a limit all calls share is used up,
//     until it resets. Any other 429 delays its own call alone. Retries of
//     429, 529 and 503 are logged at level INFO, and the slowdown at WARN,
//     a line every 5 s at most;
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
	"errors"
	"fmt"
	"log/slog"
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
	// Unset for a provider's own API, they are its listed prices
	// (ListedPrice), and PriceSource says so.
	InputPrice, OutputPrice float64
	PriceSource             string
	// BatchDiscount is the fraction of the price a batched call pays;
	// default 0.5 (Anthropic's batch price).
	BatchDiscount float64

	// Batch sends chat calls through the provider's batch API (anthropic).
	Batch bool
	// BatchSize sends a batch once that many calls wait; default 10000,
	// at most config.MaxBatchSize (Anthropic takes up to 100,000 requests).
	BatchSize int
	// BatchBytes sends a batch before its requests, JSON-encoded, pass that
	// many bytes; default and at most DefaultBatchBytes (Anthropic takes up
	// to 256 MB). Not a config key: tests set it.
	BatchBytes int64
	// BatchWait sends a batch at the latest that long after its first call
	// came; default 1 minute. A batch also goes when no call came for
	// Options.BatchIdle (every worker is waiting).
	BatchWait time.Duration
	// BatchPoll is how often a batch is polled until it ended; default
	// Options.PollInterval.
	BatchPoll time.Duration

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
		Batch: m.Batch, BatchSize: m.BatchSize, BatchWait: m.BatchWait.Duration, BatchPoll: m.BatchPoll.Duration,
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
	// PollInterval is how often a batch is polled, for models that set no
	// BatchPoll; default 30 s.
	PollInterval time.Duration
	// BatchIdle sends the calls waiting for a batch when no new one came
	// for that long; default 2 s.
	BatchIdle time.Duration
	// UsageLog, if set, records the usage of this Invocation (an id the
	// caller chooses) as it grows: before each request is sent.
	UsageLog   UsageLog
	Invocation string
}

// Client performs model calls for a run. It is safe for concurrent use.
type Client struct {
	opts   Options
	models map[string]*endpoint
	writer *cacheWriter
	usage  *usageLog

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
	usage *usageLog // nil: usage is not recorded as it grows
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
	if opts.UsageLog != nil {
		c.usage = newUsageLog(c, opts.UsageLog, opts.Invocation)
	}
	if opts.Cache != nil {
		c.writer = newCacheWriter(opts.Cache)
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
	s.BatchSize = min(s.BatchSize, config.MaxBatchSize)
	if s.BatchBytes <= 0 || s.BatchBytes > DefaultBatchBytes {
		s.BatchBytes = DefaultBatchBytes
	}
	if s.BatchPoll <= 0 {
		s.BatchPoll = c.opts.PollInterval
	}
	if s.BatchWait <= 0 {
		s.BatchWait = time.Minute
	}
	if s.Model == "" {
		return nil, errors.New("no model id")
	}
	if s.InputPrice == 0 && s.OutputPrice == 0 && ownAPI(s) {
		if p, ok := ListedPrice(s.Provider, s.Model); ok {
			s.InputPrice, s.OutputPrice, s.PriceSource = p.Input, p.Output, "listed "+PricesListed
		}
	}
	p := m.Provider
	if p == nil {
		var err error
		if p, err = c.provider(s); err != nil {
			return nil, err
		}
	}
	ep := &endpoint{name: m.Name, s: s, p: p, id: p.Endpoint(), lim: newLimiter(s.MaxConcurrency, s.RPM, s.TPM), usage: c.usage}
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
	env, required := KeyEnv(s)
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
	// PriceSource is "listed DATE" for prices taken from ListedPrice, ""
	// for prices from the config.
	PriceSource  string `json:"price_source,omitempty"`
	CacheVersion int    `json:"cache_version"`
}

// Models describes the client's models, by name.
func (c *Client) Models() []Info {
	var out []Info
	for _, ep := range c.sorted() {
		out = append(out, Info{Name: ep.name, Provider: ep.id.Provider, Model: ep.s.Model, BaseURL: ep.id.BaseURL, Options: ep.id.Options,
			APIKeyEnv: ep.s.APIKeyEnv, Batch: ep.s.Batch, MaxConcurrency: ep.s.MaxConcurrency, RPM: ep.s.RPM, TPM: ep.s.TPM,
			MaxTokens: ep.s.MaxTokens, InputPrice: ep.s.InputPrice, OutputPrice: ep.s.OutputPrice, PriceSource: ep.s.PriceSource, CacheVersion: CacheVersion})
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
