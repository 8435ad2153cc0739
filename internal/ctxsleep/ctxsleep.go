// Package ctxsleep is a sleep that a context ends early: the wait before a
// retry (model calls) or a restart (plugin processes) must not outlive the
// run that is waiting.
package ctxsleep

import (
	"context"
	"time"
)

// Sleep waits d, or until ctx ends, and returns ctx.Err() in that case
// (also when d ≤ 0 and ctx has already ended); nil after a full wait.
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
