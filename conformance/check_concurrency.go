package conformance

import (
	"context"
	"fmt"
	"slices"
	"sync"
)

func (k *kit) checkConcurrency(ctx context.Context) {
	if k.check("concurrency").Status != "" {
		return
	}
	if k.check("determinism").Status == Fail {
		k.set("concurrency", Skip, "not judged: the plugin's output varies even one call at a time (see determinism)")
		return
	}
	const repeats = 3
	workers := 2 * k.opts.Instances
	jobs := make(chan int)
	var mu sync.Mutex
	var answers, failures []string // different answers; calls that failed
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range jobs {
				got := k.annotate(ctx, k.main, k.corpus[i], k.models)
				want := k.baseline[i]
				if got.kind == canceled || got.signature() == want.signature() {
					continue
				}
				mu.Lock()
				if sameKindOfAnswer(want, got) {
					// Both answered, differently: that is shared state.
					answers = append(answers, fmt.Sprintf("conversation %q: a different output with %d calls in parallel: %s", k.corpus[i].ID, workers, diff(want, got)))
				} else {
					// A crash, a deadline, a trap is not a different answer:
					// say what it was.
					failures = append(failures, fmt.Sprintf("conversation %q: %s with %d calls in parallel, where one at a time gave %s: %s",
						k.corpus[i].ID, got.what(), workers, want.what(), got.describe()))
				}
				mu.Unlock()
			}
		})
	}
	calls := 0
	for range repeats {
		for i, o := range k.baseline {
			if o.kind == canceled || o.kind == undeliverable {
				continue
			}
			jobs <- i
			calls++
		}
	}
	close(jobs)
	wg.Wait()
	slices.Sort(answers)
	answers = slices.Compact(answers)
	slices.Sort(failures)
	failures = slices.Compact(failures)
	switch {
	case len(failures) > 0:
		advice := "; a plugin must serve calls in parallel as it serves them one at a time (the host sends a gRPC plugin many calls at once, and runs several Wasm instances)"
		if len(answers) > 0 {
			advice += "; other calls answered differently, which is shared state between calls"
		}
		k.set("concurrency", Fail, failures[0]+advice, append(failures[1:], answers...)...)
		return
	case len(answers) > 0:
		k.set("concurrency", Fail, answers[0]+"; keep no state shared between calls (a gRPC plugin serves calls on many threads at once)", answers[1:]...)
		return
	}
	what := fmt.Sprintf("%d Wasm instances", k.opts.Instances)
	if k.transport == "grpc" {
		what = "one process"
	}
	k.set("concurrency", Pass, fmt.Sprintf("the same output for %d calls, %d at a time on %s", calls, workers, what))
}

// sameKindOfAnswer reports whether two outcomes are both answers of the
// plugin's (annotations or its own error), so that their difference is the
// plugin's doing and not a failed call.
func sameKindOfAnswer(a, b outcome) bool {
	answer := func(o outcome) bool { return o.kind == annotated || o.kind == refused }
	return answer(a) && answer(b)
}
