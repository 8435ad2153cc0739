package model

import "sync"

// groupCommit commits items in groups: whoever puts an item while a commit
// is running joins the next one, and put returns once a commit holding its
// item is done, with that commit's error. SQLite thus sees a few
// transactions a second however many calls there are, and each caller
// still knows its item is stored when put returns.
type groupCommit[T any] struct {
	commit func([]T) error

	mu      sync.Mutex
	pending []T
	waiters []chan error
	running bool
}

// put commits item and returns the commit's error.
func (g *groupCommit[T]) put(item T) error { return <-g.add(item, true) }

// putLater commits item with the next group, without waiting for it.
func (g *groupCommit[T]) putLater(item T) { g.add(item, false) }

func (g *groupCommit[T]) add(item T, wait bool) chan error {
	var ch chan error
	g.mu.Lock()
	g.pending = append(g.pending, item)
	if wait {
		ch = make(chan error, 1)
		g.waiters = append(g.waiters, ch)
	}
	if !g.running {
		g.running = true
		go g.loop()
	}
	g.mu.Unlock()
	return ch
}

func (g *groupCommit[T]) loop() {
	for {
		g.mu.Lock()
		if len(g.pending) == 0 {
			g.running = false
			g.mu.Unlock()
			return
		}
		items, waiters := g.pending, g.waiters
		g.pending, g.waiters = nil, nil
		g.mu.Unlock()
		err := g.commit(items)
		for _, ch := range waiters {
			ch <- err
		}
	}
}
