package cluster

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// Chunks runs work over the rows [0, n) in consecutive chunks of at most size
// rows ([0, size), [size, 2·size), …), on min(GOMAXPROCS, chunks) goroutines.
// Each goroutine calls newScratch once and passes the result to every chunk it
// runs, so scratch buffers are reused across its chunks and never shared; with
// one worker everything runs on the calling goroutine. Chunks returns when all
// chunks are done. n <= 0 does nothing; a size under 1 is 1.
//
// The chunk boundaries are fixed, so whatever work writes per row does not
// depend on scheduling. Which goroutine runs which chunk does: anything
// accumulated across chunks in the scratch (a floating-point sum, say) would
// not be reproducible. Reduce such partial results per chunk instead, into a
// slice indexed by lo/size, and combine them in chunk order after Chunks
// returns.
func Chunks[S any](n, size int, newScratch func() S, work func(s S, lo, hi int)) {
	ChunksN(n, size, runtime.GOMAXPROCS(0), newScratch, work)
}

// ChunksN is Chunks on at most workers goroutines (under 1: one), for work
// that already runs beside other work of its own (k-means restarts run in
// parallel, each on one goroutine).
func ChunksN[S any](n, size, workers int, newScratch func() S, work func(s S, lo, hi int)) {
	if n <= 0 {
		return
	}
	size = max(size, 1)
	chunks := (n + size - 1) / size
	workers = min(workers, chunks)
	if workers <= 1 {
		s := newScratch()
		for lo := 0; lo < n; lo += size {
			work(s, lo, min(lo+size, n))
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			s := newScratch()
			for {
				c := int(next.Add(1) - 1)
				if c >= chunks {
					return
				}
				lo := c * size
				work(s, lo, min(lo+size, n))
			}
		})
	}
	wg.Wait()
}
