package model

import (
	"context"
	"encoding/json"
	"sync"
)

// UsageLog keeps an invocation's usage as it grows (*store.Store is one):
// rewritten before every request is sent, so that an invocation killed at
// any moment (SIGKILL included) has counted every request it made, and the
// run's total is what the provider billed.
type UsageLog interface {
	SaveModelUsage(ctx context.Context, invocation string, usage []byte) error
}

// usageLog writes the client's usage in groups: a request waits until a
// commit that counts it is done, and whoever arrives while a commit runs
// joins the next one, so that SQLite sees a few commits a second however
// many requests there are.
type usageLog struct {
	c    *Client
	log  UsageLog
	inv  string
	mu   sync.Mutex
	wait []chan struct{}
	busy bool
	warn sync.Once
}

// save returns once the usage counted so far is recorded.
func (u *usageLog) save() {
	if u == nil {
		return
	}
	ch := make(chan struct{})
	u.mu.Lock()
	u.wait = append(u.wait, ch)
	if !u.busy {
		u.busy = true
		go u.loop()
	}
	u.mu.Unlock()
	<-ch
}

func (u *usageLog) loop() {
	for {
		u.mu.Lock()
		if len(u.wait) == 0 {
			u.busy = false
			u.mu.Unlock()
			return
		}
		waiting := u.wait
		u.wait = nil
		u.mu.Unlock()
		b, err := json.Marshal(u.c.Usage()) // read after the waiters counted theirs
		if err == nil {
			err = u.log.SaveModelUsage(context.Background(), u.inv, b)
		}
		if err != nil {
			// Counted in memory still, and in the manifest at the end; only
			// a kill would lose it.
			u.warn.Do(func() { u.c.opts.Log.Warn("model usage not recorded as it grows", "err", err) })
		}
		for _, ch := range waiting {
			close(ch)
		}
	}
}

// DecodeUsage reads usage as a UsageLog recorded it.
func DecodeUsage(b []byte) ([]Usage, error) {
	var us []Usage
	err := json.Unmarshal(b, &us)
	return us, err
}
