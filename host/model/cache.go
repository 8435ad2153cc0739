package model

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"sync"

	"github.com/valuescope/valuescope/host/model/provider"
	"github.com/valuescope/valuescope/host/store"
	"github.com/valuescope/valuescope/sdk/protocol"
)

// CacheVersion is part of every cache key: bump it when the key's contents
// or the cached encoding change, and old entries stop matching.
const CacheVersion = 1

// Cache holds model answers by key. *store.Store is one (its model_cache
// table); MemoryCache another.
type Cache interface {
	CachedModelResponse(ctx context.Context, key string) ([]byte, bool, error)
	CacheModelResponses(ctx context.Context, entries []store.ModelCacheEntry) error
}

// keyDoc is what a cache key hashes, as canonical JSON (fixed field order,
// Go's float formatting). The API key is not in it: it decides no answer.
// Batch or not is not in it either: a batch answer replays a direct call.
type keyDoc struct {
	V           int                `json:"v"`
	Provider    string             `json:"provider"`
	BaseURL     string             `json:"base_url"`
	Options     string             `json:"options,omitempty"`
	Model       string             `json:"model"`
	Kind        string             `json:"kind"`
	System      string             `json:"system"`
	Messages    []protocol.Message `json:"messages"`
	MaxTokens   int                `json:"max_tokens"`
	Temperature float64            `json:"temperature"`
	SchemaJSON  string             `json:"schema_json"`
}

// Key is the cache key of a call to an endpoint: hex SHA-256 of the
// endpoint (provider, base URL, the provider's answer-changing options), the
// model id, and the call as rendered with every parameter (max_tokens after
// defaults), with CacheVersion. It is 64 characters of [0-9a-f], which is
// also a valid batch custom_id.
func Key(ep provider.Endpoint, modelID string, c *protocol.ModelCall, maxTokens int) string {
	d := keyDoc{V: CacheVersion, Provider: ep.Provider, BaseURL: ep.BaseURL, Options: ep.Options, Model: modelID,
		Kind: c.Kind, System: c.System, Messages: c.Messages, MaxTokens: maxTokens, Temperature: c.Temperature, SchemaJSON: c.SchemaJSON}
	if d.Messages == nil {
		d.Messages = []protocol.Message{}
	}
	b, err := json.Marshal(d)
	if err != nil {
		panic(err) // strings and numbers only; a NaN temperature is refused before
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
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

// cached is an answer as the cache stores it.
type cached struct {
	V        int               `json:"v"`
	Response provider.Response `json:"response"`
}

func encodeCached(r *provider.Response) []byte {
	b, err := json.Marshal(cached{V: CacheVersion, Response: *r})
	if err != nil {
		panic(err)
	}
	return b
}

func decodeCached(b []byte) (*provider.Response, error) {
	var c cached
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, err
	}
	return &c.Response, nil
}

// cacheWriter commits answers in groups: whoever arrives while a commit is
// running joins the next one, and each put returns once its answer is
// committed. Every answer is thus in the store before the call that fetched
// it returns (and before any annotation made from it is written), while
// SQLite sees a few transactions rather than one per call.
type cacheWriter struct {
	c       Cache
	mu      sync.Mutex
	pending []store.ModelCacheEntry
	waiters []chan error
	running bool
}

func (w *cacheWriter) put(key string, b []byte) error {
	ch := make(chan error, 1)
	w.mu.Lock()
	w.pending = append(w.pending, store.ModelCacheEntry{Key: key, Response: b})
	w.waiters = append(w.waiters, ch)
	if !w.running {
		w.running = true
		go w.loop()
	}
	w.mu.Unlock()
	return <-ch
}

func (w *cacheWriter) loop() {
	for {
		w.mu.Lock()
		if len(w.pending) == 0 {
			w.running = false
			w.mu.Unlock()
			return
		}
		entries, waiters := w.pending, w.waiters
		w.pending, w.waiters = nil, nil
		w.mu.Unlock()
		err := w.c.CacheModelResponses(context.Background(), entries)
		for _, ch := range waiters {
			ch <- err
		}
	}
}

// MemoryCache is a Cache in memory, for programs without a run store.
type MemoryCache struct {
	mu sync.RWMutex
	m  map[string][]byte
}

func (m *MemoryCache) CachedModelResponse(_ context.Context, key string) ([]byte, bool, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	b, ok := m.m[key]
	return b, ok, nil
}

func (m *MemoryCache) CacheModelResponses(_ context.Context, entries []store.ModelCacheEntry) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.m == nil {
		m.m = map[string][]byte{}
	}
	for _, e := range entries {
		if _, ok := m.m[e.Key]; !ok {
			m.m[e.Key] = e.Response
		}
	}
	return nil
}

// Len is the number of answers held.
func (m *MemoryCache) Len() int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return len(m.m)
}
