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

// usageLog writes the client's usage in groups (groupCommit): a request
// waits until a commit that counts it is done, an answer's tokens go with
// the next commit, so that SQLite sees a few commits a second however many
// requests there are.
type usageLog struct {
	g    groupCommit[struct{}]
	warn sync.Once
}

func newUsageLog(c *Client, log UsageLog, invocation string) *usageLog {
	u := &usageLog{}
	u.g.commit = func([]struct{}) error {
		b, err := json.Marshal(c.Usage()) // read after the items counted theirs
		if err == nil {
			err = log.SaveModelUsage(context.Background(), invocation, b)
		}
		if err != nil {
			// Counted in memory still, and in the manifest at the end; only
			// a kill would lose it.
			u.warn.Do(func() { c.opts.Log.Warn("model usage not recorded as it grows", "err", err) })
		}
		return nil
	}
	return u
}

// save returns once the usage counted so far is recorded (a request about
// to be sent).
func (u *usageLog) save() {
	if u != nil {
		u.g.put(struct{}{})
	}
}

// saveLater records the usage counted so far with the next commit (an
// answer's tokens: a kill before that loses at most their count).
func (u *usageLog) saveLater() {
	if u != nil {
		u.g.putLater(struct{}{})
	}
}

// DecodeUsage reads usage as a UsageLog recorded it.
func DecodeUsage(b []byte) ([]Usage, error) {
	var us []Usage
	err := json.Unmarshal(b, &us)
	return us, err
}
