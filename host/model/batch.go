package model

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/valuescope/valuescope/host/config"
	"github.com/valuescope/valuescope/host/model/provider"
	"github.com/valuescope/valuescope/host/store"
	"github.com/valuescope/valuescope/internal/ctxsleep"
)

// A batcher sends one model's chat calls through its provider's batch API.
// Callers block in do; their calls wait in a queue, which goes out as one
// batch when BatchSize calls wait, before their requests pass BatchBytes,
// BatchWait after the first came, or when no call came for BatchIdle (every
// conversation in flight is waiting: nothing more will come until some
// answers do). Each batch is then polled every BatchPoll, its results read
// and joined to their calls by custom_id (the call's cache key), cached in
// one transaction, and each waiting caller woken with its own answer. A
// request that errored retryably, expired or was canceled (a batch the API
// ended after 24 h, or one canceled, has every unprocessed request so)
// goes into a later batch, at most MaxRetries times, then is the call's
// error (*ExhaustedError); one the API refused comes back as the call's
// answer's error.
//
// A batch holds only the calls waiting at once, so a run sizes the
// conversations it has in flight by the batch (Client.Workers), not by
// [run] workers.
//
// A batch is recorded in the store with its keys while it runs, so a run
// interrupted meanwhile collects it when resumed, and callers asking for
// one of its keys wait for it rather than paying for the call again.
type batcher struct {
	c    *Client
	ep   *endpoint
	api  provider.Batcher
	epID string

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu    sync.Mutex
	queue []*item
	bytes int64            // the queue's requests' sizes (see requestSize)
	items map[string]*item // queued or in a batch, by key
	first time.Time
	timer *time.Timer
	gen   int
}

type item struct {
	key   string
	req   *provider.Request // nil for a call of an earlier run's batch nobody asked for yet
	size  int64             // requestSize(req)
	tries int
	done  chan struct{}
	resp  *provider.Response
	err   error
}

// batchStore is a Cache that also records batches (*store.Store).
type batchStore interface {
	AddModelBatch(ctx context.Context, b store.ModelBatch) error
	ModelBatches(ctx context.Context, endpoint string) ([]store.ModelBatch, error)
	RemoveModelBatch(ctx context.Context, id string) error
}

var (
	errClosed   = errors.New("model client closed")
	errResubmit = errors.New("resubmit")
)

func newBatcher(c *Client, ep *endpoint, api provider.Batcher) *batcher {
	b := &batcher{c: c, ep: ep, api: api, items: map[string]*item{},
		epID: fmt.Sprintf("%s|%s|%s|%s", ep.id.Provider, ep.id.BaseURL, ep.id.Options, ep.s.Model)}
	b.ctx, b.cancel = context.WithCancel(context.Background())
	return b
}

// do queues a call and waits for its answer.
func (b *batcher) do(ctx context.Context, key string, req *provider.Request) (*provider.Response, error) {
	for {
		b.mu.Lock()
		if b.ctx.Err() != nil {
			b.mu.Unlock()
			return nil, errClosed
		}
		it := b.items[key]
		if it == nil {
			// The caller missed the cache before coming here; a batch may
			// have answered this call and left since (a resumed run
			// collecting an earlier run's batch). Look again before paying
			// for it twice.
			if resp, err := b.c.lookup(ctx, key); err == nil && resp != nil {
				b.mu.Unlock()
				return resp, nil
			}
			size := requestSize(key, req)
			if size > b.ep.s.BatchBytes {
				b.mu.Unlock()
				return nil, &permanent{fmt.Errorf("a request of about %d bytes does not fit in a batch (at most %d bytes)", size, b.ep.s.BatchBytes)}
			}
			it = &item{key: key, req: req, size: size, done: make(chan struct{})}
			b.items[key] = it
			b.enqueue(it)
		} else if it.req == nil {
			it.req, it.size = req, requestSize(key, req)
		}
		b.mu.Unlock()
		select {
		case <-it.done:
			if it.err == errResubmit {
				continue
			}
			return it.resp, it.err
		case <-ctx.Done():
			return nil, ctx.Err() // the call stays in its batch; its answer will be cached
		case <-b.ctx.Done():
			return nil, errClosed
		}
	}
}

// enqueue adds a call to the queue (b.mu held).
func (b *batcher) enqueue(it *item) {
	if len(b.queue) > 0 && b.bytes+it.size > b.ep.s.BatchBytes {
		b.flush()
	}
	b.queue = append(b.queue, it)
	b.bytes += it.size
	if len(b.queue) >= b.ep.s.BatchSize || b.bytes >= b.ep.s.BatchBytes {
		b.flush()
		return
	}
	if len(b.queue) == 1 {
		b.first = time.Now()
	}
	wait := min(b.c.opts.BatchIdle, time.Until(b.first.Add(b.ep.s.BatchWait)))
	b.gen++
	gen := b.gen
	if b.timer != nil {
		b.timer.Stop()
	}
	b.timer = time.AfterFunc(wait, func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		if b.gen == gen && len(b.queue) > 0 && b.ctx.Err() == nil {
			b.flush()
		}
	})
}

// flush sends the queue as a batch (b.mu held).
func (b *batcher) flush() {
	items := b.queue
	b.queue, b.bytes = nil, 0
	b.gen++
	if b.timer != nil {
		b.timer.Stop()
	}
	reqs := make([]provider.BatchRequest, len(items))
	for i, it := range items {
		it.tries++
		reqs[i] = provider.BatchRequest{CustomID: it.key, Request: it.req}
	}
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		b.run(items, reqs)
	}()
}

func (b *batcher) log() []any { return []any{"model", b.ep.name} }

// run submits a batch and collects it.
func (b *batcher) run(items []*item, reqs []provider.BatchRequest) {
	keys := make([]string, len(items))
	for i, it := range items {
		keys[i] = it.key
	}
	var bt *provider.Batch
	err := b.c.retry(b.ctx, b.ep, tag{call: "create batch"}, func(ctx context.Context) error {
		b.ep.sent(int64(len(reqs)))
		// Closing must not cut a creation short: the API could have made
		// the batch without this run knowing its id, to collect it later.
		return b.ep.timed(context.WithoutCancel(ctx), func(ctx context.Context) error {
			var err error
			bt, err = b.api.CreateBatch(ctx, reqs)
			return err
		})
	})
	if err != nil {
		if b.ctx.Err() != nil {
			return
		}
		b.c.opts.Log.Error("model batch could not be sent", append(b.log(), "requests", len(items), "err", err)...)
		for _, it := range items {
			b.finish(it, nil, err)
		}
		return
	}
	b.ep.use.batches.Add(1)
	b.c.opts.Log.Info("model batch sent", append(b.log(), "batch", bt.ID, "requests", len(items))...)
	if bs, ok := b.c.opts.Cache.(batchStore); ok {
		if err := bs.AddModelBatch(context.Background(), store.ModelBatch{ID: bt.ID, Endpoint: b.epID, Keys: keys, Created: time.Now()}); err != nil {
			b.c.opts.Log.Warn("model batch not recorded in the run store (an interrupted run will not collect it)", append(b.log(), "batch", bt.ID, "err", err)...)
		}
	}
	pending := make(map[string]*item, len(items))
	for _, it := range items {
		pending[it.key] = it
	}
	b.collect(bt, pending)
}

// collect polls a batch until it ends, reads its results, caches the
// answers and wakes the callers. A batch that cannot be read any more
// fails its calls retryably: they go into another batch.
func (b *batcher) collect(bt *provider.Batch, pending map[string]*item) {
	for !bt.Ended {
		if bt.Status != "" {
			if ctxsleep.Sleep(b.ctx, b.ep.s.BatchPoll) != nil {
				return
			}
		}
		err := b.c.retry(b.ctx, b.ep, tag{call: "poll batch " + bt.ID}, func(ctx context.Context) error {
			return b.ep.timed(ctx, func(ctx context.Context) error {
				got, err := b.api.GetBatch(ctx, bt.ID)
				if err == nil {
					bt = got
				}
				return err
			})
		})
		if err != nil {
			b.lost(bt.ID, pending, err)
			return
		}
	}
	results := map[string]provider.BatchResult{}
	err := b.c.retry(b.ctx, b.ep, tag{call: "read batch " + bt.ID}, func(ctx context.Context) error {
		clear(results)
		// Results run to hundreds of MB: ten times the model's timeout.
		return b.ep.timedFor(ctx, 10*b.ep.s.Timeout, func(ctx context.Context) error {
			return b.api.BatchResults(ctx, bt, func(r provider.BatchResult) error {
				results[r.CustomID] = r
				return nil
			})
		})
	})
	if err != nil {
		b.lost(bt.ID, pending, err)
		return
	}
	var entries []store.ModelCacheEntry
	fates := map[string]int{}
	for key, r := range results {
		if r.Err != nil {
			fate := "errored"
			if e, ok := provider.AsError(r.Err); ok && (e.Type == "expired" || e.Type == "canceled") {
				fate = e.Type
			}
			fates[fate]++
			continue
		}
		b.ep.answered(r.Response.Usage, true)
		entries = append(entries, store.ModelCacheEntry{Key: key, Response: encodeCached(r.Response)})
	}
	b.c.opts.Log.Info("model batch ended", append(b.log(), "batch", bt.ID, "results", len(results), "succeeded", len(entries),
		"errored", fates["errored"], "expired", fates["expired"], "canceled", fates["canceled"])...)
	if n := fates["expired"] + fates["canceled"]; n > 0 && len(entries) == 0 {
		b.c.opts.Log.Warn("model batch ended unprocessed (expired after 24 h, or canceled); its requests go into another batch",
			append(b.log(), "batch", bt.ID, "requests", n)...)
	}
	var cacheErr error
	if b.c.opts.Cache != nil {
		if cacheErr = b.c.opts.Cache.CacheModelResponses(context.Background(), entries); cacheErr != nil {
			cacheErr = fmt.Errorf("model cache: %w", cacheErr)
		}
	}
	if bs, ok := b.c.opts.Cache.(batchStore); ok && cacheErr == nil {
		if err := bs.RemoveModelBatch(context.Background(), bt.ID); err != nil {
			b.c.opts.Log.Warn("collected model batch not removed from the run store", append(b.log(), "batch", bt.ID, "err", err)...)
		}
	}
	for key, it := range pending {
		r, ok := results[key]
		switch {
		case !ok:
			b.failed(it, &provider.Error{Provider: b.ep.id.Provider, Message: "missing from the batch's results", Retryable: true})
		case r.Err != nil:
			b.failed(it, r.Err)
		case cacheErr != nil:
			b.finish(it, nil, cacheErr)
		default:
			b.finish(it, r.Response, nil)
		}
	}
}

// lost fails the calls of a batch that cannot be polled or read.
func (b *batcher) lost(id string, pending map[string]*item, err error) {
	if b.ctx.Err() != nil {
		return // closing: the batch stays recorded for the next run
	}
	b.c.opts.Log.Error("model batch lost; its calls go into another", append(b.log(), "batch", id, "err", err)...)
	if bs, ok := b.c.opts.Cache.(batchStore); ok {
		bs.RemoveModelBatch(context.Background(), id)
	}
	for _, it := range pending {
		b.failed(it, &provider.Error{Provider: b.ep.id.Provider, Message: fmt.Sprintf("batch %s lost: %v", id, err), Retryable: true})
	}
}

// failed resubmits a call whose batch request failed retryably, or ends it.
func (b *batcher) failed(it *item, err error) {
	e, ok := provider.AsError(err)
	retryable := ok && e.Retryable
	b.mu.Lock()
	asked := it.req != nil // it.req is set under b.mu by a caller
	tries := it.tries
	resubmit := retryable && asked && tries <= b.ep.s.MaxRetries && b.ctx.Err() == nil
	if resubmit {
		b.enqueue(it)
	}
	b.mu.Unlock()
	switch {
	case resubmit:
		b.ep.use.retries.Add(1)
		b.c.opts.Log.Warn("model batch request failed; resubmitting", append(b.log(), "attempt", tries, "err", err.Error())...)
	case retryable && !asked:
		b.finish(it, nil, errResubmit)
	case retryable:
		b.finish(it, nil, &ExhaustedError{Attempts: tries, Err: err})
	default:
		b.finish(it, nil, &permanent{err})
	}
}

func (b *batcher) finish(it *item, resp *provider.Response, err error) {
	b.mu.Lock()
	if b.items[it.key] == it {
		delete(b.items, it.key)
	}
	b.mu.Unlock()
	it.resp, it.err = resp, err
	close(it.done)
}

// resume collects the batches an earlier run sent and did not collect.
func (b *batcher) resume() {
	bs, ok := b.c.opts.Cache.(batchStore)
	if !ok || b.c.opts.Offline {
		return
	}
	recs, err := bs.ModelBatches(context.Background(), b.epID)
	if err != nil {
		b.c.opts.Log.Warn("cannot read the model batches of an earlier run", append(b.log(), "err", err)...)
		return
	}
	for _, rec := range recs {
		pending := map[string]*item{}
		b.mu.Lock()
		for _, k := range rec.Keys {
			if b.items[k] == nil {
				it := &item{key: k, tries: 1, done: make(chan struct{})}
				b.items[k] = it
				pending[k] = it
			}
		}
		b.mu.Unlock()
		b.c.opts.Log.Info("collecting a model batch an earlier run sent", append(b.log(), "batch", rec.ID, "requests", len(rec.Keys))...)
		b.wg.Add(1)
		go func() {
			defer b.wg.Done()
			b.collect(&provider.Batch{ID: rec.ID}, pending)
		}()
	}
}

// close stops sending and polling; callers waiting get errClosed.
func (b *batcher) close() {
	b.cancel()
	b.mu.Lock()
	if b.timer != nil {
		b.timer.Stop()
	}
	b.mu.Unlock()
	b.wg.Wait()
}

// DefaultBatchBytes is the most a batch's requests may weigh: Anthropic
// takes up to 256 MB a batch, less room for the envelope and for what
// requestSize may misjudge.
const DefaultBatchBytes = 250_000_000

// requestSize is about how many bytes a request takes in a batch's body,
// rounded up: its strings as JSON writes them (quotes, escapes, and the
// six bytes of \u003c for '<', '>' and '&'), its schema, and a kilobyte
// for its custom_id, the keys and the other parameters.
func requestSize(key string, req *provider.Request) int64 {
	n := int64(1024 + len(key) + len(req.Model) + 2*len(req.Schema))
	n += jsonLen(req.System)
	for _, m := range req.Messages {
		n += 32 + jsonLen(m.Content)
	}
	return n
}

// jsonLen is the length of s as a JSON string, escapes included, counting
// the most any encoder writes for each character.
func jsonLen(s string) int64 {
	n := int64(2)
	for _, r := range s {
		switch {
		case r == '"' || r == '\\' || r == '\n' || r == '\r' || r == '\t':
			n += 2
		case r < 0x20 || r == '<' || r == '>' || r == '&' || r == '\u2028' || r == '\u2029' || r == utf8.RuneError:
			n += 6
		default:
			n += int64(utf8.RuneLen(r))
		}
	}
	return n
}

// Workers is how many conversations a run should keep in flight, given
// [run] workers and the run's stages. A worker waiting for its model holds
// no plugin instance (plugin.Annotate holds one only inside a call), only
// its conversation and its calls, and a batch gathers only the calls
// waiting at once: so a run whose stage's model sends batches keeps as many
// conversations in flight as that model's batch takes (batch_size), to
// gather its calls across the dataset rather than across workers. Offline,
// nothing is sent, and workers is enough.
func (c *Client) Workers(workers int, stages []config.Stage) int {
	if c.opts.Offline {
		return workers
	}
	for _, s := range stages {
		if ep := c.models[s.Model]; ep != nil && ep.batch != nil {
			workers = max(workers, ep.s.BatchSize)
		}
	}
	return workers
}
