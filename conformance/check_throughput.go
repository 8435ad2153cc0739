package conformance

import (
	"context"
	"fmt"
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
		if !o.failure() && o.kind != canceled && o.kind != undeliverable {
			ok = append(ok, i)
			seq += o.dur
		}
	}
	if len(ok) == 0 {
		k.set("throughput", Skip, "not measured: no ordinary conversation went through")
		return
	}
	tctx, cancel := context.WithTimeout(ctx, k.opts.ThroughputTime+k.opts.Deadline)
	defer cancel()
	stop := time.Now().Add(k.opts.ThroughputTime)
	var mu sync.Mutex
	done := 0
	var wg sync.WaitGroup
	start := time.Now()
	for w := range k.opts.Instances {
		wg.Go(func() {
			n := 0
			for j := w; time.Now().Before(stop); j++ {
				if k.annotate(tctx, k.main, k.corpus[ok[j%len(ok)]], k.models).kind == canceled {
					break
				}
				n++
			}
			mu.Lock()
			done += n
			mu.Unlock()
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	k.throughput = float64(done) / elapsed.Seconds()
	k.set("throughput", Pass, fmt.Sprintf("%.0f conversations/s with %d in parallel; one at a time, %s per conversation on average",
		k.throughput, k.opts.Instances, roundDuration(seq/time.Duration(len(ok)))),
		fmt.Sprintf("%d conversations in %s (the kit's corpus: %d conversations, %d KiB)", done, roundDuration(elapsed), len(ok), k.corpusBytes(ok)>>10))
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
