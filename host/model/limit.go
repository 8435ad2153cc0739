package model

import (
	"context"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/valuescope/valuescope/internal/ctxsleep"
)

// The adaptive concurrency's factors (see limiter), chosen by measuring
// runs against fakeapi (20 ms answers, retry-after 100 ms): a server that
// takes N = 6 or 20 at once (ConcurrencyLimit), and 3% of random 429s at
// max_concurrency 64 (BenchmarkRateLimited's proportions):
//
//   - without the sparseness rule, a decrease on every 429 of a call sent
//     since the last decrease (TCP's AIMD) holds the first server at N,
//     but random 429s bring 64 down to 15-20 and the run to 3-5.6x a clean
//     one: a 429 comes back at once, so nearly every one is "new";
//   - with it, sparse = 10% of the last 64 outcomes: the random 429s leave
//     64 at 64 (a run 1.1-1.3x a clean one: the calls' own retry-afters);
//     at 5% they lowered it again, at 20% twice as many 429s went by
//     before the limit came down;
//   - decrease 0.8: the limit averages N+0.3 for N = 6, 0.95N for N = 20,
//     with 429s for 11% and 6% of the calls; 0.9 made 20% 429s at N = 6,
//     0.75 and 0.5 averaged 0.92N and 0.82N at N = 20;
//   - one call more a round trip: two made 42% 429s at N = 6; half of one
//     made about as many as one, and climbed back slower.
var (
	decrease = 0.8  // the limit is multiplied by it on a refusal that is not sparse
	increase = 1.0  // the limit grows by it for every limit's worth of answers
	sparse   = 0.1  // refusals are sparse while at most this share of recent outcomes
	horizon  = 64.0 // outcomes the share is about, at least (two round trips' worth if more)
)

// outcome is what became of a call that was sent, for the limiter.
type outcome int

const (
	answered outcome = iota // the provider answered
	refused                 // 429, 529 or 503: it took too many
	failed                  // anything else, or a limit used up for all (the pause deals with it)
)

// limiter holds one model's limits: calls in flight, requests per minute,
// tokens per minute, and a pause every call honours once the provider said
// a limit all calls share is used up.
//
// The number of calls in flight adapts (AIMD), between 1 and
// max_concurrency: every answer adds increase/limit to it (one call more a
// round trip, while the limit is in use), and a refusal (429, 529, 503)
// multiplies it by decrease, unless
//
//   - the call was sent before the last decrease: what it says, the
//     decrease already answered (so at most one decrease a "window");
//   - refusals are sparse (at most the share sparse of the recent
//     outcomes): a random 429, a burst or acceleration limit, one call's
//     bad luck, which that call's own backoff deals with. A server that
//     takes only N at once refuses every call above N, at once, so that
//     refusals are dense as soon as the limit passes N.
//
// So against a server that takes only N at once the limit converges to
// about N, and sparse random 429s leave it where it was.
//
// Slots are granted in the order they were asked for, whatever the number
// of workers asking: the pause and the buckets are waited for once a slot
// is held, so that a call waiting for a slot when a pause starts honours it
// too.
type limiter struct {
	max      int
	rpm, tpm *bucket

	mu        sync.Mutex
	limit     float64         // calls allowed in flight, in [1, max]
	held      int             // slots held
	queue     []chan struct{} // calls waiting for a slot, first first; closed when granted
	epoch     int64           // decreases so far
	share     float64         // refusals among recent outcomes (a moving average)
	pause     time.Time       // every call waits until then
	exhausted []string        // the limits the provider said were used up, for the pause
	// For the slowdown's log line.
	refusals           int // since the last line about them
	logged, loggedHold time.Time
}

func newLimiter(concurrency, rpm, tpm int) *limiter {
	l := &limiter{max: concurrency, limit: float64(concurrency)}
	if rpm > 0 {
		l.rpm = newBucket(float64(rpm))
	}
	if tpm > 0 {
		l.tpm = newBucket(float64(tpm))
	}
	return l
}

// ticket is a slot held by a call about to be sent.
type ticket struct {
	epoch int64 // the limiter's decreases when it was sent
}

// acquire waits for a slot (in turn), then for the pause to pass and for
// the rate buckets (one request, tokens estimated); the call is then sent,
// and release must be called with its outcome.
func (l *limiter) acquire(ctx context.Context, tokens int64) (*ticket, error) {
	if err := l.slot(ctx); err != nil {
		return nil, err
	}
	if err := l.ready(ctx, tokens); err != nil {
		l.mu.Lock()
		l.free()
		l.mu.Unlock()
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return &ticket{epoch: l.epoch}, nil
}

// slot waits for a slot, behind the calls that asked before.
func (l *limiter) slot(ctx context.Context) error {
	l.mu.Lock()
	if len(l.queue) == 0 && l.held < l.allowed() {
		l.held++
		l.mu.Unlock()
		return nil
	}
	ready := make(chan struct{})
	l.queue = append(l.queue, ready)
	l.mu.Unlock()
	select {
	case <-ready:
		return nil
	case <-ctx.Done():
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if i := slices.Index(l.queue, ready); i >= 0 {
		l.queue = slices.Delete(l.queue, i, i+1)
	} else {
		l.free() // granted meanwhile: pass it on
	}
	return ctx.Err()
}

// ready waits, holding a slot, for the pause and the rate buckets, and for
// the pause again if one began meanwhile.
func (l *limiter) ready(ctx context.Context, tokens int64) error {
	for taken := false; ; {
		l.mu.Lock()
		wait := time.Until(l.pause)
		l.mu.Unlock()
		if wait <= 0 && taken {
			return nil
		}
		if err := ctxsleep.Sleep(ctx, wait); err != nil {
			return err
		}
		if !taken {
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
			taken = true
		}
	}
}

// release gives a sent call's slot back and adapts the limit to its
// outcome; it says whether the limit was lowered.
func (l *limiter) release(t *ticket, o outcome) (lowered bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch o {
	case answered:
		if l.held >= l.allowed() || len(l.queue) > 0 { // only a limit in use grows
			l.limit = math.Min(float64(l.max), l.limit+increase/l.limit)
		}
		l.share *= 1 - 1/l.horizon()
	case refused:
		l.refusals++
		w := 1 / l.horizon()
		l.share = l.share*(1-w) + w
		if t.epoch == l.epoch && l.share > sparse {
			l.limit = math.Max(1, l.limit*decrease)
			l.epoch++
			lowered = true
		}
	}
	l.free()
	return lowered
}

// free gives a slot back and grants the slots the limit allows to the
// calls waiting, in turn. l.mu is held.
func (l *limiter) free() {
	l.held--
	for len(l.queue) > 0 && l.held < l.allowed() {
		close(l.queue[0])
		l.queue = l.queue[1:]
		l.held++
	}
}

// allowed is the calls the limit lets in flight. l.mu is held.
func (l *limiter) allowed() int { return max(1, int(l.limit)) }

// horizon is how many outcomes the share of refusals is about: two round
// trips' worth, or more. l.mu is held.
func (l *limiter) horizon() float64 { return math.Max(horizon, 2*l.limit) }

// hold makes every call wait until t: the provider said the limits all
// calls share named are used up until then. It says whether the pause grew.
func (l *limiter) hold(t time.Time, limits []string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !t.After(l.pause) {
		return false
	}
	l.pause, l.exhausted = t, limits
	return true
}

// slowdown is the limiter's state for the log line about it.
type slowdown struct {
	limit, max int
	refusals   int       // 429/529/503 since the last line
	pause      time.Time // zero when none is in force
	exhausted  []string  // the limits that caused the pause
}

// report says how the limiter is slowing its calls down, at most once
// every `every` for fewer calls in flight, and as often for a pause (which
// matters more: it stops them all); ok is false when a line about it was
// written less than that ago.
func (l *limiter) report(now time.Time, every time.Duration, paused bool) (s slowdown, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	last := &l.logged
	if paused {
		last = &l.loggedHold
	}
	if now.Sub(*last) < every {
		return s, false
	}
	*last = now
	s = slowdown{limit: l.allowed(), max: l.max, refusals: l.refusals}
	if paused && l.pause.After(now) {
		s.pause, s.exhausted = l.pause, l.exhausted
	}
	if !paused {
		l.refusals = 0
	}
	return s, true
}

// settle corrects the token bucket once the real usage is known.
func (l *limiter) settle(estimated, actual int64) {
	if l.tpm != nil && actual != estimated {
		l.tpm.give(float64(estimated - actual))
	}
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
