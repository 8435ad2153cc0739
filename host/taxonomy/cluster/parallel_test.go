package cluster

import (
	"runtime"
	"sync/atomic"
	"testing"
)

func TestChunks(t *testing.T) {
	type scratch struct {
		id   int
		busy *atomic.Bool
	}
	for _, procs := range []int{1, 4} {
		prev := runtime.GOMAXPROCS(procs)
		for _, c := range []struct{ n, size int }{
			{0, 8}, {-3, 8}, {1, 8}, {5, 8}, {8, 8}, {9, 8}, {24, 8}, {1000, 7}, {1000, 1}, {3307, 256},
		} {
			visits := make([]atomic.Int32, max(c.n, 0))
			var made atomic.Int32
			var chunks, bad atomic.Int32
			Chunks(c.n, c.size, func() scratch {
				return scratch{id: int(made.Add(1)), busy: new(atomic.Bool)}
			}, func(s scratch, lo, hi int) {
				chunks.Add(1)
				if !s.busy.CompareAndSwap(false, true) {
					bad.Add(1) // two goroutines hold the same scratch
				}
				if lo%c.size != 0 || hi-lo < 1 || hi-lo > c.size || (hi-lo < c.size && hi != c.n) {
					t.Errorf("n=%d size=%d: chunk [%d, %d)", c.n, c.size, lo, hi)
				}
				for i := lo; i < hi; i++ {
					visits[i].Add(1)
				}
				runtime.Gosched()
				s.busy.Store(false)
			})
			want := 0
			if c.n > 0 {
				want = (c.n + c.size - 1) / c.size
			}
			if int(chunks.Load()) != want {
				t.Errorf("procs=%d n=%d size=%d: %d chunks, want %d", procs, c.n, c.size, chunks.Load(), want)
			}
			for i := range visits {
				if v := visits[i].Load(); v != 1 {
					t.Fatalf("procs=%d n=%d size=%d: row %d visited %d times", procs, c.n, c.size, i, v)
				}
			}
			if bad.Load() != 0 {
				t.Errorf("procs=%d n=%d size=%d: a scratch was shared between goroutines", procs, c.n, c.size)
			}
			if m := int(made.Load()); m > min(procs, want) || (want > 0 && m < 1) {
				t.Errorf("procs=%d n=%d size=%d: %d scratches for %d chunks", procs, c.n, c.size, m, want)
			}
		}
		runtime.GOMAXPROCS(prev)
	}
}

// TestChunksScratchPerGoroutine checks that every scratch is used by one
// goroutine only: chunks that block until all workers have started must each
// see a scratch of their own.
func TestChunksScratchPerGoroutine(t *testing.T) {
	const workers = 4
	prev := runtime.GOMAXPROCS(workers)
	defer runtime.GOMAXPROCS(prev)
	var started atomic.Int32
	release := make(chan struct{})
	seen := make([]*int, workers)
	Chunks(workers, 1, func() *int { return new(int) }, func(s *int, lo, hi int) {
		*s++ // a race here, under -race, would mean sharing
		seen[lo] = s
		if started.Add(1) == workers {
			close(release)
		}
		<-release // all four chunks run at once, so on four goroutines
	})
	for i := range seen {
		for j := range i {
			if seen[i] == seen[j] {
				t.Fatalf("chunks %d and %d ran concurrently with the same scratch", j, i)
			}
		}
	}
}
