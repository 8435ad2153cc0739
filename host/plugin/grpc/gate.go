package grpc

import (
	"context"
	"sync"
)

// gate lets calls into a plugin run together (shared) or one alone
// (exclusive), waiting within their context. A waiting exclusive call holds
// back new shared ones, so that it is not starved.
type gate struct {
	mu      sync.Mutex
	shared  int
	excl    bool
	waiting int           // exclusive calls waiting
	changed chan struct{} // closed, and replaced, when the state changes
}

func (g *gate) lock(ctx context.Context, exclusive bool) error {
	g.mu.Lock()
	if exclusive {
		g.waiting++
	}
	for {
		switch {
		case exclusive && !g.excl && g.shared == 0:
			g.waiting--
			g.excl = true
			g.mu.Unlock()
			return nil
		case !exclusive && !g.excl && g.waiting == 0:
			g.shared++
			g.mu.Unlock()
			return nil
		}
		if g.changed == nil {
			g.changed = make(chan struct{})
		}
		ch := g.changed
		g.mu.Unlock()
		select {
		case <-ch:
			g.mu.Lock()
		case <-ctx.Done():
			g.mu.Lock()
			if exclusive {
				g.waiting--
				g.broadcastLocked()
			}
			g.mu.Unlock()
			return context.Cause(ctx)
		}
	}
}

func (g *gate) unlock(exclusive bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if exclusive {
		g.excl = false
	} else {
		g.shared--
	}
	g.broadcastLocked()
}

func (g *gate) broadcastLocked() {
	if g.changed != nil {
		close(g.changed)
		g.changed = nil
	}
}
