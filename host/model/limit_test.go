package model

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valuescope/valuescope/internal/fakeapi"
	"github.com/valuescope/valuescope/sdk/protocol"
)

const limitKey = "sk-ant-limit-test-key"

// limitClient is a client of srv as model "m" with max calls in flight.
func limitClient(t testing.TB, srv *fakeapi.Anthropic, max int) (*Client, *limiter) {
	t.Helper()
	c, err := New([]Model{{Name: "m", Settings: Settings{Provider: "anthropic", Model: "claude-test", BaseURL: srv.URL,
		APIKeyEnv: "KEY", MaxConcurrency: max, Timeout: 10 * time.Second, MaxRetries: 50}}},
		Options{Getenv: func(string) string { return limitKey }, Log: slog.New(slog.DiscardHandler),
			BackoffBase: time.Millisecond, BackoffMax: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, c.models["m"].lim
}

// drive makes n distinct calls (texts prefix-0...) from workers goroutines.
func drive(t testing.TB, c *Client, workers, n int, prefix string) {
	t.Helper()
	k, err := c.ForStage("s", "m")
	if err != nil {
		t.Fatal(err)
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := next.Add(1); i <= int64(n); i = next.Add(1) {
				mc := protocol.ModelCall{ID: "1", Messages: []protocol.Message{{Role: "user", Content: fmt.Sprint(prefix, "-", i)}}, MaxTokens: 16}
				if _, err := k.Call(context.Background(), []protocol.ModelCall{mc}); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
}

// warnings makes c log its lines at WARN and above into the buffer it
// returns (to be read once c's calls are done).
func warnings(c *Client) *bytes.Buffer {
	var b bytes.Buffer
	c.opts.Log = slog.New(slog.NewTextHandler(&b, &slog.HandlerOptions{Level: slog.LevelWarn}))
	return &b
}

// state is the limiter's limit and decreases so far.
func (l *limiter) state() (limit float64, decreases int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.limit, l.epoch
}

// A 429 makes its own call wait its retry-after; the other calls go on.
func TestBackoffPerCall(t *testing.T) {
	t.Parallel()
	srv := fakeapi.NewAnthropic(limitKey)
	defer srv.Close()
	srv.Latency = 5 * time.Millisecond
	srv.RetryAfter = "1"
	var refused atomic.Bool
	srv.Fault = func(_ int64, last string) fakeapi.Fault {
		if last == "slow" && refused.CompareAndSwap(false, true) {
			return fakeapi.RateLimit
		}
		return fakeapi.OK
	}
	c, _ := limitClient(t, srv, 4)
	k, _ := c.ForStage("s", "m")
	slow := make(chan error, 1)
	go func() {
		_, err := k.Call(context.Background(), []protocol.ModelCall{{ID: "1", Messages: []protocol.Message{{Role: "user", Content: "slow"}}, MaxTokens: 16}})
		slow <- err
	}()
	for srv.FaultCount(fakeapi.RateLimit) == 0 {
		time.Sleep(time.Millisecond)
	}
	// 40 calls of 5 ms, 4 at a time, while "slow" waits its second.
	drive(t, c, 8, 40, "other")
	select {
	case err := <-slow:
		t.Fatalf("the 429'd call came back (%v) before the others were done: they waited for it", err)
	default:
	}
	if err := <-slow; err != nil {
		t.Fatal(err)
	}
	if n := srv.Requests.Load(); n != 42 {
		t.Fatalf("%d requests, want 40 + slow twice", n)
	}
}

// A 429 saying a limit every call shares is used up pauses every call of
// the model until the reset, those waiting for a slot too, whatever the
// number of workers: at most the calls already sent meet the exhausted
// limit.
func TestSharedPause(t *testing.T) {
	t.Parallel()
	const max = 3
	for _, workers := range []int{max, 4 * max} {
		t.Run(fmt.Sprint("workers=", workers), func(t *testing.T) {
			t.Parallel()
			srv := fakeapi.NewAnthropic(limitKey)
			defer srv.Close()
			srv.Latency = 5 * time.Millisecond
			srv.Fault = func(n int64, _ string) fakeapi.Fault {
				if n == 10 {
					srv.Exhaust(time.Now().Add(300 * time.Millisecond))
				}
				return fakeapi.OK
			}
			c, lim := limitClient(t, srv, max)
			log := warnings(c)
			drive(t, c, workers, 60, "q")
			if n := strings.Count(log.String(), "\n"); n != 1 || !strings.Contains(log.String(), "model calls paused") || !strings.Contains(log.String(), "limits=requests") {
				t.Errorf("want one line about the pause, at WARN:\n%s", log)
			}
			if n := srv.Limited.Load(); n < 1 || n > max {
				t.Fatalf("%d requests met the used-up limit, want 1 to %d (those sent before the first answer said so)", n, max)
			}
			if n := srv.Requests.Load(); n != 60+srv.Limited.Load() {
				t.Fatalf("%d requests for 60 calls and %d 429s", n, srv.Limited.Load())
			}
			if limit, d := lim.state(); limit != max || d != 0 {
				t.Fatalf("limit %v after %d decreases: a used-up rate limit is no reason for fewer calls at once", limit, d)
			}
		})
	}
}

// Against a server that takes only N requests at once, the calls in flight
// converge to about N, whatever the number of workers.
func TestConcurrencyConverges(t *testing.T) {
	t.Parallel()
	const n, max = 6, 24
	for _, workers := range []int{max, 4 * max} {
		t.Run(fmt.Sprint("workers=", workers), func(t *testing.T) {
			t.Parallel()
			srv := fakeapi.NewAnthropic(limitKey)
			defer srv.Close()
			srv.Latency = 10 * time.Millisecond
			srv.RetryAfter = "0.05"
			srv.ConcurrencyLimit = n
			c, lim := limitClient(t, srv, max)
			log := warnings(c)
			drive(t, c, workers, 150, "warm")
			srv.MaxInFlight.Store(0)
			// Sample the limit while the rest of the calls go.
			stop := make(chan struct{})
			var sum float64
			var samples int
			var sampled sync.WaitGroup
			sampled.Go(func() {
				for {
					select {
					case <-stop:
						return
					case <-time.After(time.Millisecond):
						l, _ := lim.state()
						sum += l
						samples++
					}
				}
			})
			limited := srv.Limited.Load()
			drive(t, c, workers, 300, "q")
			close(stop)
			sampled.Wait()
			mean := sum / float64(samples)
			limit, d := lim.state()
			t.Logf("limit %.1f (mean %.1f over %d samples) after %d decreases; server: %d in flight at most, %d 429s for 300 calls",
				limit, mean, samples, d, srv.MaxInFlight.Load(), srv.Limited.Load()-limited)
			if mean < n-1.5 || mean > n+2 || limit < n-1.5 || limit > n+3 {
				t.Errorf("limit %.1f, mean %.1f: want about %d", limit, mean, n)
			}
			if m := srv.MaxInFlight.Load(); m < n || m > n+2 {
				t.Errorf("%d in flight at the server at most, want about %d", m, n)
			}
			if w := srv.Limited.Load() - limited; w > 300/4 {
				t.Errorf("%d 429s for 300 calls", w)
			}
			// Dozens of 429s in a second or two, and one line about them
			// (at most one every 5 s): none for each 429.
			if n := strings.Count(log.String(), "\n"); n != 1 || !strings.Contains(log.String(), "model calls slowed down") {
				t.Errorf("want one line about the slowdown, at WARN:\n%s", log)
			}
		})
	}
}

// Sparse random 429s, for one call each, leave the calls in flight where
// they were.
func TestSparse429s(t *testing.T) {
	t.Parallel()
	const max = 16
	srv := fakeapi.NewAnthropic(limitKey)
	defer srv.Close()
	srv.Latency = 5 * time.Millisecond
	srv.RetryAfter = "0.025"
	srv.Fault = func(int64, string) fakeapi.Fault {
		if rand.Float64() < 0.03 {
			return fakeapi.RateLimit
		}
		return fakeapi.OK
	}
	c, lim := limitClient(t, srv, max)
	drive(t, c, 4*max, 800, "q")
	limit, d := lim.state()
	t.Logf("limit %.1f after %d decreases, %d 429s", limit, d, srv.FaultCount(fakeapi.RateLimit))
	if limit < 0.8*max || d > 3 {
		t.Fatalf("limit %.1f of %d after %d decreases, for %d random 429s", limit, max, d, srv.FaultCount(fakeapi.RateLimit))
	}
}

// BenchmarkRateLimited measures a run with 3% of requests answered 429
// (retry-after 1 s, as the APIs send whole seconds; no rate-limit headers,
// so for their calls alone) against the same run with none, as the ratio
// of their times: 3200 distinct calls, 200 ms an answer, max_concurrency
// 64 (a clean run takes 10 s), with as many workers as max_concurrency,
// and with four times as many. It reports the ratio (issue #17 asks for
// at most 1.5), the 429s served, the limiter's decreases and its limit at
// the end. With as many workers as slots, a worker whose call waits its
// retry-after leaves a slot idle: that, and the last calls' retry-afters,
// are most of what a run with 429s loses.
//
//	go test -run XXX -bench RateLimited -benchtime 1x ./host/model/
func BenchmarkRateLimited(b *testing.B) {
	const (
		latency = 200 * time.Millisecond
		max     = 64
		calls   = 3200
	)
	for _, workers := range []int{max, 4 * max} {
		b.Run(fmt.Sprint("workers=", workers), func(b *testing.B) {
			var clean, faulted time.Duration
			var limits float64
			var decreases, refused int64
			for i := 0; b.Loop(); i++ {
				for _, p := range []float64{0, 0.03} {
					srv := fakeapi.NewAnthropic(limitKey)
					srv.Latency = latency
					srv.RetryAfter = "1"
					srv.Fault = func(int64, string) fakeapi.Fault {
						if rand.Float64() < p {
							return fakeapi.RateLimit
						}
						return fakeapi.OK
					}
					c, lim := limitClient(b, srv, max)
					start := time.Now()
					drive(b, c, workers, calls, fmt.Sprint(i))
					if p == 0 {
						clean += time.Since(start)
					} else {
						faulted += time.Since(start)
						l, d := lim.state()
						limits += l
						decreases += d
						refused += srv.FaultCount(fakeapi.RateLimit)
					}
					srv.Close()
				}
			}
			b.ReportMetric(clean.Seconds()/float64(b.N), "clean_s")
			b.ReportMetric(faulted.Seconds()/float64(b.N), "with429s_s")
			b.ReportMetric(faulted.Seconds()/clean.Seconds(), "ratio")
			b.ReportMetric(float64(refused)/float64(b.N), "refused")
			b.ReportMetric(float64(decreases)/float64(b.N), "decreases")
			b.ReportMetric(limits/float64(b.N), "final_limit")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// waitQueue waits until n calls wait for a slot of l.
func waitQueue(l *limiter, n int) {
	for {
		l.mu.Lock()
		q := len(l.queue)
		l.mu.Unlock()
		if q == n {
			return
		}
		time.Sleep(100 * time.Microsecond)
	}
}

// Slots are granted in the order they were asked for; a call that stops
// waiting leaves the line.
func TestSlotsInTurn(t *testing.T) {
	t.Parallel()
	l := newLimiter(1, 0, 0)
	first, err := l.acquire(context.Background(), 1)
	if err != nil {
		t.Fatal(err)
	}
	var order []int
	var mu sync.Mutex
	var wg sync.WaitGroup
	ctx, cancel := context.WithCancel(context.Background())
	for i := range 6 {
		wctx := context.Background()
		if i == 2 {
			wctx = ctx
		}
		wg.Go(func() {
			tk, err := l.acquire(wctx, 1)
			if err != nil {
				return
			}
			mu.Lock()
			order = append(order, i)
			mu.Unlock()
			l.release(tk, answered)
		})
		waitQueue(l, i+1)
	}
	cancel()
	waitQueue(l, 5)
	l.release(first, answered)
	wg.Wait()
	if !slices.Equal(order, []int{0, 1, 3, 4, 5}) {
		t.Fatalf("granted in the order %v", order)
	}
}

// The number of workers changes nothing but who waits: the same calls
// meet the same 429s (each a call's alone) and are made as often, and the
// limit stays where it was.
func TestWorkersAlike(t *testing.T) {
	t.Parallel()
	const max, calls = 8, 200
	for _, workers := range []int{max, 4 * max} {
		t.Run(fmt.Sprint("workers=", workers), func(t *testing.T) {
			t.Parallel()
			srv := fakeapi.NewAnthropic(limitKey)
			defer srv.Close()
			srv.Latency = 5 * time.Millisecond
			srv.RetryAfter = "0.02"
			var seen sync.Map
			srv.Fault = func(_ int64, last string) fakeapi.Fault {
				if _, again := seen.LoadOrStore(last, true); !again && strings.HasSuffix(last, "7") {
					return fakeapi.RateLimit
				}
				return fakeapi.OK
			}
			c, lim := limitClient(t, srv, max)
			drive(t, c, workers, calls, "q")
			const refused = calls / 10 // q-7, q-17, ... q-197
			u := c.Usage()[0]
			if srv.Requests.Load() != calls+refused || u.Requests != calls+refused || u.Retries != refused || srv.MaxInFlight.Load() > max {
				t.Fatalf("%d requests, %d in flight at most; usage %+v", srv.Requests.Load(), srv.MaxInFlight.Load(), u)
			}
			if limit, d := lim.state(); limit != max || d != 0 {
				t.Fatalf("limit %v after %d decreases, for %d sparse 429s", limit, d, refused)
			}
		})
	}
}
