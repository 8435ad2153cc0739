package model

import (
	"errors"
	"testing"
	"time"

	"github.com/valuescope/valuescope/host/model/provider"
)

// A limit used up for every call pauses them until the provider's
// retry-after, on this side's clock, not until the reset it names (when
// the limit is whole again, on the server's clock): a reset far ahead, or
// a local clock behind the server's, does not stretch the pause.
func TestPauseFollowsRetryAfter(t *testing.T) {
	c := &Client{opts: Options{BackoffBase: time.Millisecond}}
	for _, e := range []*provider.Error{
		{Status: 429, Retryable: true, RetryAfter: time.Second, Exhausted: []string{"requests"}, Reset: time.Now().Add(5 * time.Minute)},
		{Status: 429, Retryable: true, Exhausted: []string{"requests"}, Reset: time.Now().Add(time.Second)},
	} {
		ep := &endpoint{lim: newLimiter(4, 0, 0)}
		if _, paused := c.verdict(ep, e); !paused {
			t.Fatalf("%+v: no pause", e)
		}
		ep.lim.mu.Lock()
		until := ep.lim.pause
		ep.lim.mu.Unlock()
		if d := time.Until(until); d < 500*time.Millisecond || d > 2*time.Second {
			t.Errorf("retry-after %s, reset in %s: paused for %s, want about 1s", e.RetryAfter, time.Until(e.Reset).Round(time.Second), d)
		}
	}
	if _, paused := c.verdict(&endpoint{lim: newLimiter(4, 0, 0)}, errors.New("not a provider error")); paused {
		t.Fatal("paused for another error")
	}
}
