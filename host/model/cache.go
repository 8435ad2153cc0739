package model

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sync"
	"time"

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

// lookup reads the caches; a hit in a read cache is copied into Cache,
// unless Cache rejected that very answer (see Caller.Settle). A reasking
// caller narrows the lookup through ctx (withLookup).
func (c *Client) lookup(ctx context.Context, key string) (*provider.Response, error) {
	scope := lookupScope(ctx)
	if scope == lookupNone {
		return nil, nil
	}
	own, _ := c.opts.Cache.(rejecter)
	for i, ca := range append([]Cache{c.opts.Cache}, c.opts.ReadCaches...) {
		if ca == nil || (i > 0 && scope == lookupOwn) {
			continue
		}
		b, ok, err := ca.CachedModelResponse(ctx, key)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		if i > 0 && own != nil {
			if rejected, err := own.ModelResponseRejected(ctx, key, b); err != nil {
				return nil, err
			} else if rejected {
				continue
			}
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

// Which caches lookup reads: all, Cache only (a reasked call another
// conversation asked again already: its new answer is there or coming),
// or none (a reasked call not yet asked again).
const (
	lookupAll = iota
	lookupOwn
	lookupNone
)

type lookupKey struct{}

func withLookup(ctx context.Context, scope int) context.Context {
	return context.WithValue(ctx, lookupKey{}, scope)
}

func lookupScope(ctx context.Context) int {
	s, _ := ctx.Value(lookupKey{}).(int)
	return s
}

// rejecter is a Cache that sets rejected answers aside (*store.Store,
// *MemoryCache): out of the cache, kept apart.
type rejecter interface {
	RejectModelResponses(ctx context.Context, rs []store.ModelRejection) (int, error)
	ModelResponseRejected(ctx context.Context, key string, response []byte) (bool, error)
	ModelRejected(ctx context.Context, key string) (store.ModelRejection, bool, error)
}

// reasker is a Cache that keeps track of a reask (*store.Store,
// *MemoryCache): see store.ClaimReask.
type reasker interface {
	ClaimReask(ctx context.Context, stage, key, conversation string) (bool, error)
}

// RejectedError is an offline call whose cached answer was rejected: the
// stage's plugin failed with it, or a reask replaced it, and the cache has
// no newer answer. It is a *MissError too (errors.As, errors.Is ErrOffline).
type RejectedError struct {
	Miss      *MissError
	Rejection store.ModelRejection
}

func (e *RejectedError) Error() string {
	r := e.Rejection
	if r.Reason == store.ReasonReask {
		return fmt.Sprintf("offline, and the answer cached for this call (cache key %s) was set aside when stage %s was re-asked (--reask), with no new answer cached: run online to ask it", e.Miss.Key, r.Stage)
	}
	return fmt.Sprintf("offline, and the answer cached for this call (cache key %s) was rejected: the plugin of stage %s failed with it for conversation %s (%s); run online (with --retry-errors) to ask it again",
		e.Miss.Key, r.Stage, r.Conversation, r.Reason)
}

func (e *RejectedError) Unwrap() error { return e.Miss }

// explainMiss is miss, or a *RejectedError when one of the caches (Cache
// first) says why it has no answer.
func (c *Client) explainMiss(ctx context.Context, miss *MissError) error {
	for _, ca := range append([]Cache{c.opts.Cache}, c.opts.ReadCaches...) {
		rj, ok := ca.(rejecter)
		if !ok {
			continue
		}
		if r, ok, err := rj.ModelRejected(ctx, miss.Key); err == nil && ok {
			return &RejectedError{Miss: miss, Rejection: r}
		}
	}
	return miss
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

// cacheWriter commits answers in groups (groupCommit): every answer is in
// the store before the call that fetched it returns (and before any
// annotation made from it is written), while SQLite sees a few transactions
// rather than one per call.
type cacheWriter struct {
	g groupCommit[store.ModelCacheEntry]
}

func newCacheWriter(c Cache) *cacheWriter {
	w := &cacheWriter{}
	w.g.commit = func(entries []store.ModelCacheEntry) error {
		return c.CacheModelResponses(context.Background(), entries)
	}
	return w
}

func (w *cacheWriter) put(key string, b []byte) error {
	return w.g.put(store.ModelCacheEntry{Key: key, Response: b})
}

// MemoryCache is a Cache in memory, for programs without a run store. It
// sets rejected answers aside and keeps track of reasks as the store does.
type MemoryCache struct {
	mu       sync.RWMutex
	m        map[string][]byte
	rejected []store.ModelRejection
	reasked  map[string]bool // stage + "\x00" + key
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

// RejectModelResponses is store.Store.RejectModelResponses.
func (m *MemoryCache) RejectModelResponses(_ context.Context, rs []store.ModelRejection) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, r := range rs {
		if m.reject(r) {
			n++
		}
	}
	return n, nil
}

func (m *MemoryCache) reject(r store.ModelRejection) bool {
	if b, ok := m.m[r.Key]; !ok || !bytes.Equal(b, r.Response) {
		return false
	}
	delete(m.m, r.Key)
	if r.At.IsZero() {
		r.At = time.Now()
	}
	m.rejected = append(m.rejected, r)
	return true
}

// ModelResponseRejected is store.Store.ModelResponseRejected.
func (m *MemoryCache) ModelResponseRejected(_ context.Context, key string, response []byte) (bool, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	for _, r := range m.rejected {
		if r.Key == key && bytes.Equal(r.Response, response) {
			return true, nil
		}
	}
	return false, nil
}

// ModelRejected is store.Store.ModelRejected.
func (m *MemoryCache) ModelRejected(_ context.Context, key string) (store.ModelRejection, bool, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	for i := len(m.rejected) - 1; i >= 0; i-- {
		if m.rejected[i].Key == key {
			return m.rejected[i], true, nil
		}
	}
	return store.ModelRejection{Key: key}, false, nil
}

// ClaimReask is store.Store.ClaimReask.
func (m *MemoryCache) ClaimReask(_ context.Context, stage, key, conversation string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.reasked == nil {
		m.reasked = map[string]bool{}
	}
	if m.reasked[stage+"\x00"+key] {
		return false, nil
	}
	m.reasked[stage+"\x00"+key] = true
	if b, ok := m.m[key]; ok {
		m.reject(store.ModelRejection{Key: key, Response: b, Stage: stage, Conversation: conversation, Reason: store.ReasonReask})
	}
	return true, nil
}

// Len is the number of answers held.
func (m *MemoryCache) Len() int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return len(m.m)
}
