package model

import (
	"context"
	"math"
	"sync"
	"time"

	"github.com/valuescope/valuescope/internal/ctxsleep"
)

// limiter holds one model's limits: calls in flight, requests per minute,
// tokens per minute, and a pause all calls honour after the provider said
// "retry after" to one of them.
type limiter struct {
	slots chan struct{}
	rpm   *bucket
	tpm   *bucket

	mu    sync.Mutex
	pause time.Time
}

func newLimiter(concurrency, rpm, tpm int) *limiter {
	l := &limiter{slots: make(chan struct{}, concurrency)}
	if rpm > 0 {
		l.rpm = newBucket(float64(rpm))
	}
	if tpm > 0 {
		l.tpm = newBucket(float64(tpm))
	}
	return l
}

// acquire waits for the pause to pass, for the rate buckets (one request,
// tokens estimated), then for a slot. release gives the slot back.
func (l *limiter) acquire(ctx context.Context, tokens int64) error {
	l.mu.Lock()
	until := l.pause
	l.mu.Unlock()
	if err := ctxsleep.Sleep(ctx, time.Until(until)); err != nil {
		return err
	}
	if l.rpm != nil {
		if err := l.rpm.take(ctx, 1); err != nil {
			return err
		}
	}
	if l.tpm != nil {
		if err := l.tpm.take(ctx, float64(tokens)); err != nil {
			return err
		}
	}
	select {
	case l.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (l *limiter) release() { <-l.slots }

// settle corrects the token bucket once the real usage is known.
func (l *limiter) settle(estimated, actual int64) {
	if l.tpm != nil && actual != estimated {
		l.tpm.give(float64(estimated - actual))
	}
}

// hold makes every call wait until t (a provider's retry-after).
func (l *limiter) hold(t time.Time) {
	l.mu.Lock()
	if t.After(l.pause) {
		l.pause = t
	}
	l.mu.Unlock()
}

// bucket is a token bucket that refills at perMinute/60 a second up to one
// second's worth (at least 1 token), and lends: a take larger than what is
// there waits until the debt is repaid, so a request bigger than a second's
// tokens still goes, and later ones wait for it. Takes are served in order.
type bucket struct {
	mu       sync.Mutex
	rate     float64 // tokens per second
	capacity float64
	level    float64
	last     time.Time
}

func newBucket(perMinute float64) *bucket {
	rate := perMinute / 60
	c := math.Max(1, rate)
	return &bucket{rate: rate, capacity: c, level: c, last: time.Now()}
}

func (b *bucket) refill(now time.Time) {
	b.level = math.Min(b.capacity, b.level+now.Sub(b.last).Seconds()*b.rate)
	b.last = now
}

func (b *bucket) take(ctx context.Context, n float64) error {
	b.mu.Lock()
	now := time.Now()
	b.refill(now)
	b.level -= n
	var wait time.Duration
	if b.level < 0 {
		wait = time.Duration(-b.level / b.rate * float64(time.Second))
	}
	b.mu.Unlock()
	if err := ctxsleep.Sleep(ctx, wait); err != nil {
		b.give(n)
		return err
	}
	return nil
}

func (b *bucket) give(n float64) {
	b.mu.Lock()
	b.refill(time.Now())
	b.level = math.Min(b.capacity, b.level+n)
	b.mu.Unlock()
}
