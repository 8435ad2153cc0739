package model

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"

	"github.com/valuescope/valuescope/host/model/provider"
	"github.com/valuescope/valuescope/host/store"
	"github.com/valuescope/valuescope/sdk/protocol"
)

// Caller is the Client seen from one stage; it implements plugin.ModelCaller.
//
// It also keeps, per conversation, the cache keys of the answers it handed
// out, until the stage is done with the conversation and says how it went
// (Settle): a stage that failed rejects them, so that they are never
// replayed (see Settle). A user of a Caller that names conversations
// (WithConversation, ForConversation) settles each one, or the record of
// its answers stays until the Caller is dropped.
type Caller struct {
	c     *Client
	stage string
	ep    *endpoint
	conv  string
	reask bool
	led   *ledger
}

// ForStage is the caller for a stage whose model is the named one.
func (c *Client) ForStage(stage, model string) (*Caller, error) {
	ep, ok := c.models[model]
	if !ok {
		return nil, fmt.Errorf("stage %s: unknown model %q (defined: %s)", stage, model, c.names())
	}
	return &Caller{c: c, stage: stage, ep: ep, led: &ledger{convs: map[string]*handout{}}}, nil
}

// Reask is the same caller asking every call again, whatever the caches
// hold: the first time a call is made in the stage's reask (kept in the
// run store, see store.ClaimReask, so that a resumed reask does not ask it
// twice), its cached answer is rejected (reason "reask") and the model's
// new one takes its place; the same call made again, by another
// conversation, is answered by that new answer.
func (k *Caller) Reask() *Caller {
	cp := *k
	cp.reask = true
	return &cp
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
	if k.reask {
		if ctx, err = k.c.claimReask(ctx, k.stage, key, conv); err != nil {
			ep.use.failures.Add(1)
			return out, &CallError{Stage: k.stage, Conversation: conv, Model: ep.name, CallID: mc.ID, Err: err}
		}
	}
	resp, err := k.c.answer(ctx, ep, key, req, mc.Kind, tag{stage: k.stage, conv: conv, call: mc.ID})
	if err != nil {
		if miss, ok := err.(*MissError); ok {
			err = k.c.explainMiss(ctx, miss)
		}
		if p, ok := err.(*permanent); ok {
			ep.use.failures.Add(1)
			out.Error = fmt.Sprintf("model %s: %v", ep.name, p.err)
			if k.recording() {
				// No answer: a stage that fails on this refusal (a 400, a
				// refused key) says nothing of the answers its other calls got.
				k.led.failed(conv)
			}
			return out, nil
		}
		if ctx.Err() == nil {
			ep.use.failures.Add(1)
		}
		if k.recording() {
			k.led.failed(conv)
		}
		return out, &CallError{Stage: k.stage, Conversation: conv, Model: ep.name, CallID: mc.ID, Err: err}
	}
	if k.recording() {
		k.led.handed(conv, key, resp)
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

// recording reports whether answers handed out are recorded for Settle:
// only when they are cached somewhere they can be rejected from, and not
// offline: a replay that fails (a plugin changed since, say) asks nothing
// again, so it must not take away answers the run it replays used.
func (k *Caller) recording() bool {
	_, ok := k.c.opts.Cache.(rejecter)
	return ok && k.c.writer != nil && !k.c.opts.Offline
}

// claimReask narrows the lookup of a reasked call (see Reask): to none the
// first time the stage's reask makes it, to Cache after that.
func (c *Client) claimReask(ctx context.Context, stage, key, conv string) (context.Context, error) {
	ra, ok := c.opts.Cache.(reasker)
	if !ok {
		return withLookup(ctx, lookupNone), nil // nothing kept: every call is asked
	}
	first, err := ra.ClaimReask(ctx, stage, key, conv)
	if err != nil {
		return ctx, fmt.Errorf("model cache: %w", err)
	}
	if first {
		return withLookup(ctx, lookupNone), nil
	}
	return withLookup(ctx, lookupOwn), nil
}

// Settle is told, once the stage is done with a conversation, whether it
// failed (err). When it did, the answers this caller handed out for the
// conversation are rejected: moved out of the cache (into the run store's
// model_rejected table, with err as the reason), so that they are never
// replayed — not by a resumed run, --retry-errors or --offline — and the
// next time a call is made, the model is asked again.
//
// A plugin's error is taken as a verdict on every answer it got for the
// conversation: the host cannot tell the answer that broke its parsing
// from one it had no trouble with, and a stage that fails again, for a
// reason of its own, rejects its answers again. Nothing is rejected when
// the stage failed because a call could not be made (a *CallError: no
// answer came for it, and those that came are not to blame) nor when ctx
// has ended (the run is stopping, and the stage's result is not kept).
//
// An answer is one per cache key, whichever conversations or stages made
// that call: a rejected one is gone for them all, and a conversation that
// succeeded with it keeps its result (its stage is not redone), while the
// next conversation making the call gets a fresh answer. Settle's error is
// the store's, when the answers could not be set aside.
func (k *Caller) Settle(ctx context.Context, conversation string, err error) error {
	h := k.led.take(conversation)
	if h == nil || err == nil || h.callFailed || ctx.Err() != nil {
		return nil
	}
	var ce *CallError
	if errors.As(err, &ce) {
		return nil
	}
	rj, ok := k.c.opts.Cache.(rejecter)
	if !ok {
		return nil
	}
	reason := err.Error()
	if r := []rune(reason); len(r) > maxReason {
		reason = string(r[:maxReason-1]) + "…"
	}
	rs := make([]store.ModelRejection, len(h.answers))
	for i, a := range h.answers {
		rs[i] = store.ModelRejection{Key: a.Key, Response: a.Response, Stage: k.stage, Conversation: conversation, Reason: reason}
	}
	n, rerr := rj.RejectModelResponses(context.WithoutCancel(ctx), rs)
	if rerr != nil {
		return fmt.Errorf("model cache: setting aside the %d answers stage %s failed with for conversation %s: %w", len(rs), k.stage, conversation, rerr)
	}
	k.c.opts.Log.Debug("model answers rejected", "stage", k.stage, "conversation", conversation, "answers", n)
	return nil
}

// maxReason bounds the reason a rejection records (in characters).
const maxReason = 500

// ledger is what a stage's callers handed out, per conversation not yet
// settled: at most the conversations in flight.
type ledger struct {
	mu    sync.Mutex
	convs map[string]*handout
}

type handout struct {
	answers    []store.ModelCacheEntry // key and the answer as cached
	callFailed bool                    // a call of the conversation could not be made
}

func (l *ledger) get(conv string) *handout {
	h := l.convs[conv]
	if h == nil {
		h = &handout{}
		l.convs[conv] = h
	}
	return h
}

// handed records an answer given for conv (nothing without a conversation).
// The encoding is the cache's: decoding and encoding a cached answer give
// its bytes back, which a rejection matches.
func (l *ledger) handed(conv, key string, resp *provider.Response) {
	if conv == "" {
		return
	}
	b := encodeCached(resp)
	l.mu.Lock()
	defer l.mu.Unlock()
	h := l.get(conv)
	for _, a := range h.answers {
		if a.Key == key && bytes.Equal(a.Response, b) {
			return
		}
	}
	h.answers = append(h.answers, store.ModelCacheEntry{Key: key, Response: b})
}

func (l *ledger) failed(conv string) {
	if conv == "" {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.get(conv).callFailed = true
}

// take removes and returns conv's record (nil if none).
func (l *ledger) take(conv string) *handout {
	l.mu.Lock()
	defer l.mu.Unlock()
	h := l.convs[conv]
	delete(l.convs, conv)
	return h
}
