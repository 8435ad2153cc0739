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
	var problems []string
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
				problems = append(problems, fmt.Sprintf("conversation %q: a different output with %d calls in parallel: %s", k.corpus[i].ID, workers, diff(want, got)))
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
	if len(problems) > 0 {
		slices.Sort(problems)
		problems = slices.Compact(problems)
		k.set("concurrency", Fail, problems[0]+"; keep no state shared between calls (a gRPC plugin serves calls on many threads at once)", problems[1:]...)
		return
	}
	what := fmt.Sprintf("%d Wasm instances", k.opts.Instances)
	if k.transport == "grpc" {
		what = "one process"
	}
	k.set("concurrency", Pass, fmt.Sprintf("the same output for %d calls, %d at a time on %s", calls, workers, what))
}
