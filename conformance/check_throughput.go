package conformance

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"
)

func (k *kit) checkThroughput(ctx context.Context) {
	if k.check("throughput").Status != "" {
		return
	}
	if k.opts.ThroughputTime < 0 {
		k.set("throughput", Skip, "not measured (Options.ThroughputTime < 0)")
		return
	}
	var ok []int
	var seq time.Duration
	for i, o := range k.baseline {
		if o.kind == annotated {
			ok = append(ok, i)
			seq += o.dur
		}
	}
	if len(ok) == 0 {
		k.set("throughput", Skip, "not measured: no ordinary conversation was annotated")
		return
	}
	tctx, cancel := context.WithTimeout(ctx, k.opts.ThroughputTime+k.opts.Deadline)
	defer cancel()
	stop := time.Now().Add(k.opts.ThroughputTime)
	// Only the calls that succeeded count: a plugin that fails at once (a
	// gRPC plugin past its restarts, say) is not fast.
	var mu sync.Mutex
	done, calls := 0, 0
	failed := map[string]int{}
	var wg sync.WaitGroup
	start := time.Now()
	for w := range k.opts.Instances {
		wg.Go(func() {
			n, all := 0, 0
			fails := map[string]int{}
			for j := w; time.Now().Before(stop); j++ {
				o := k.annotate(tctx, k.main, k.corpus[ok[j%len(ok)]], k.models)
				if o.kind == canceled {
					break
				}
				all++
				if o.kind == annotated {
					n++
				} else {
					fails[o.what()]++
				}
			}
			mu.Lock()
			done += n
			calls += all
			for w, c := range fails {
				failed[w] += c
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	var failures []string
	for _, w := range slices.Sorted(maps.Keys(failed)) {
		failures = append(failures, fmt.Sprintf("%d ended in %s", failed[w], w))
	}
	if done == 0 {
		k.set("throughput", Skip, fmt.Sprintf("not measured: every call failed (%d calls in %s: %s)", calls, roundDuration(elapsed), strings.Join(failures, ", ")))
		return
	}
	k.throughput = float64(done) / elapsed.Seconds()
	details := []string{fmt.Sprintf("%d conversations in %s (the kit's corpus: %d conversations, %d KiB)", done, roundDuration(elapsed), len(ok), k.corpusBytes(ok)>>10)}
	if len(failures) > 0 {
		details = append(details, fmt.Sprintf("not counted: %d of %d calls failed (%s)", calls-done, calls, strings.Join(failures, ", ")))
	}
	k.set("throughput", Pass, fmt.Sprintf("%.0f conversations/s with %d in parallel; one at a time, %s per conversation on average",
		k.throughput, k.opts.Instances, roundDuration(seq/time.Duration(len(ok)))), details...)
}

func (k *kit) corpusBytes(idx []int) int {
	n := 0
	for _, i := range idx {
		n += len(k.corpus[i].MetaJSON)
		for _, t := range k.corpus[i].Turns {
			n += len(t.Content)
		}
	}
	return n
}

// --- limits --------------------------------------------------------------
