package model

import (
	"fmt"
	"strings"
	"sync/atomic"

	"github.com/valuescope/valuescope/host/model/provider"
)

type counters struct {
	calls, hits, shared, requests, retries, failures, batches atomic.Int64
	in, out, batchIn, batchOut                                atomic.Int64
}

func (c *counters) add(u provider.Usage, batch bool) {
	c.in.Add(u.InputTokens)
	c.out.Add(u.OutputTokens)
	if batch {
		c.batchIn.Add(u.InputTokens)
		c.batchOut.Add(u.OutputTokens)
	}
}

// answered counts an answer's tokens, recorded with the next commit of the
// usage (Options.UsageLog).
func (ep *endpoint) answered(u provider.Usage, batch bool) {
	ep.use.add(u, batch)
	ep.usage.saveLater()
}

// sent counts n requests about to be sent to the provider, and returns
// once they are recorded (Options.UsageLog).
func (ep *endpoint) sent(n int64) {
	ep.use.requests.Add(n)
	ep.usage.save()
}

// Usage is what one model has done so far in this process.
type Usage struct {
	Name     string `json:"name"`
	Provider string `json:"provider"`
	Model    string `json:"model"`
	// Calls is the calls plugins asked for; CacheHits of them were answered
	// from a cache, Shared by an identical call in flight at the same time.
	Calls     int64 `json:"calls"`
	CacheHits int64 `json:"cache_hits"`
	Shared    int64 `json:"shared,omitempty"`
	// Requests is the requests sent to the provider, retries included (a
	// batched call counts once per submission); Batches the batches sent.
	Requests int64 `json:"requests"`
	Retries  int64 `json:"retries"`
	Batches  int64 `json:"batches,omitempty"`
	// Failures is the calls that got no answer (an error for the plugin, or
	// for the conversation).
	Failures     int64 `json:"failures"`
	InputTokens  int64 `json:"input_tokens"`
	OutputTokens int64 `json:"output_tokens"`
	// CostUSD is the tokens at the configured prices (batched ones at the
	// batch discount); Priced is false when no price was configured.
	CostUSD float64 `json:"cost_usd"`
	Priced  bool    `json:"priced"`
}

// Usage is each model's usage so far, by name: for progress and the manifest.
func (c *Client) Usage() []Usage {
	var out []Usage
	for _, ep := range c.sorted() {
		u := &ep.use
		in, o, bin, bout := u.in.Load(), u.out.Load(), u.batchIn.Load(), u.batchOut.Load()
		s := ep.s
		cost := (float64(in-bin)*s.InputPrice + float64(o-bout)*s.OutputPrice +
			(float64(bin)*s.InputPrice+float64(bout)*s.OutputPrice)*s.BatchDiscount) / 1e6
		out = append(out, Usage{Name: ep.name, Provider: ep.id.Provider, Model: s.Model,
			Calls: u.calls.Load(), CacheHits: u.hits.Load(), Shared: u.shared.Load(), Requests: u.requests.Load(),
			Retries: u.retries.Load(), Batches: u.batches.Load(), Failures: u.failures.Load(),
			InputTokens: in, OutputTokens: o, CostUSD: cost, Priced: s.InputPrice > 0 || s.OutputPrice > 0})
	}
	return out
}

// String is a one-line summary for progress output.
func (u Usage) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d calls (%d cached", u.Name, u.Calls, u.CacheHits+u.Shared)
	if u.Retries > 0 {
		fmt.Fprintf(&b, ", %d retries", u.Retries)
	}
	if u.Failures > 0 {
		fmt.Fprintf(&b, ", %d failed", u.Failures)
	}
	fmt.Fprintf(&b, "), %s in / %s out tokens", count(u.InputTokens), count(u.OutputTokens))
	if u.Priced {
		fmt.Fprintf(&b, ", $%.4f", u.CostUSD)
	}
	return b.String()
}

// Summary joins the models' usage lines.
func Summary(us []Usage) string {
	parts := make([]string, len(us))
	for i, u := range us {
		parts[i] = u.String()
	}
	return strings.Join(parts, "; ")
}

func count(n int64) string {
	switch {
	case n >= 10_000_000:
		return fmt.Sprintf("%.0fM", float64(n)/1e6)
	case n >= 1_000_000:
		return fmt.Sprintf("%.1fM", float64(n)/1e6)
	case n >= 10_000:
		return fmt.Sprintf("%.0fk", float64(n)/1e3)
	case n >= 1_000:
		return fmt.Sprintf("%.1fk", float64(n)/1e3)
	}
	return fmt.Sprint(n)
}

// TotalUsage adds up usages by model name (a run's invocations), in the
// order names first appear. A model is priced when any part was.
func TotalUsage(parts ...[]Usage) []Usage {
	var out []Usage
	at := map[string]int{}
	for _, us := range parts {
		for _, u := range us {
			i, ok := at[u.Name]
			if !ok {
				at[u.Name] = len(out)
				out = append(out, u)
				continue
			}
			t := &out[i]
			t.Provider, t.Model = u.Provider, u.Model
			t.Calls += u.Calls
			t.CacheHits += u.CacheHits
			t.Shared += u.Shared
			t.Requests += u.Requests
			t.Retries += u.Retries
			t.Batches += u.Batches
			t.Failures += u.Failures
			t.InputTokens += u.InputTokens
			t.OutputTokens += u.OutputTokens
			t.CostUSD += u.CostUSD
			t.Priced = t.Priced || u.Priced
		}
	}
	return out
}
