package model

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"

	"github.com/valuescope/valuescope/host/model/provider"
	"github.com/valuescope/valuescope/internal/ctxsleep"
)

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
		// A flight for the key may have ended between the lookup above and
		// this one's start (its answer cached first, then its flight
		// removed): look again before paying for the same call twice.
		if again, lerr := c.lookup(ctx, key); lerr == nil && again != nil {
			ep.use.hits.Add(1)
			f.resp = again
		} else {
			f.resp, f.err = c.fetch(ctx, ep, key, req, kind, t)
		}
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
		tk, err := ep.lim.acquire(ctx, est)
		if err != nil {
			return err
		}
		ep.sent(1)
		err = ep.timed(ctx, func(ctx context.Context) error {
			var err error
			resp, err = call(ctx, req)
			return err
		})
		o, paused := answered, false
		if err != nil {
			o, paused = c.verdict(ep, err)
			if e, ok := provider.AsError(err); !ok || e.Status != http.StatusTooManyRequests {
				ep.lim.settle(est, 0)
			}
		} else {
			ep.lim.settle(est, resp.Usage.InputTokens+resp.Usage.OutputTokens)
		}
		if lowered := ep.lim.release(tk, o); lowered || paused {
			c.slowed(ep, paused)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	ep.answered(resp.Usage, false)
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
		ep.use.retries.Add(1)
		// A refusal for load is expected, and summed up by slowed; other
		// failures are worth a line each.
		level := slog.LevelWarn
		if tooMany(e) {
			level = slog.LevelInfo
		}
		c.opts.Log.Log(ctx, level, "model call failed; retrying", append([]any{"model", ep.name, "attempt", n, "max_retries", ep.s.MaxRetries,
			"wait", wait.Round(time.Millisecond), "err", e.Error()}, t.attrs()...)...)
		if err := ctxsleep.Sleep(ctx, wait); err != nil {
			return err
		}
	}
}

// maxPause bounds the wait a provider's rate-limit headers can impose.
const maxPause = 10 * time.Minute

// slowdownEvery is how often, at most, a line says that a model's calls
// are slowed down (one for fewer in flight, one for a pause).
const slowdownEvery = 5 * time.Second

// tooMany is a refusal for load: 429, Anthropic's 529 (overloaded), 503
// (what OpenAI-compatible servers and gateways answer when their queue is
// full).
func tooMany(e *provider.Error) bool {
	return e.Status == http.StatusTooManyRequests || e.Status == 529 || e.Status == http.StatusServiceUnavailable
}

// verdict is a failed call's outcome for the limiter. When the provider
// said a limit every call shares is used up, every call of the model waits
// until it resets (or for the call's retry-after, if longer; at most
// maxPause): paused says whether that made the pause longer.
func (c *Client) verdict(ep *endpoint, err error) (o outcome, paused bool) {
	e, ok := provider.AsError(err)
	switch {
	case !ok:
		return failed, false
	case len(e.Exhausted) > 0:
		// The retry-after, when the provider sends one: it is when a call
		// may go again, on this side's clock. A reset is when the limit is
		// whole again (Anthropic's is a time on the server's clock, so a
		// slow local clock would stretch every pause), used only without.
		now := time.Now()
		until := e.Reset
		if e.RetryAfter > 0 {
			until = now.Add(e.RetryAfter)
		}
		if !until.After(now) {
			until = now.Add(c.opts.BackoffBase)
		}
		if until.After(now.Add(maxPause)) {
			until = now.Add(maxPause)
		}
		return failed, ep.lim.hold(until, e.Exhausted)
	case tooMany(e):
		return refused, false
	}
	return failed, false
}

// slowed logs how a model's calls are slowed down, fewer in flight or all
// paused, at most once every slowdownEvery for each.
func (c *Client) slowed(ep *endpoint, paused bool) {
	s, ok := ep.lim.report(time.Now(), slowdownEvery, paused)
	if !ok {
		return
	}
	if paused {
		if s.pause.IsZero() {
			return // over already
		}
		c.opts.Log.Warn("model calls paused: the provider says a rate limit every call shares is used up", "model", ep.name,
			"limits", strings.Join(s.exhausted, ","), "until", s.pause.Format(time.RFC3339), "for", time.Until(s.pause).Round(time.Millisecond))
		return
	}
	c.opts.Log.Warn("model calls slowed down: the provider refused some (429, 529 or 503); fewer go at once", "model", ep.name,
		"concurrency", s.limit, "max_concurrency", s.max, "refused", s.refusals)
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
