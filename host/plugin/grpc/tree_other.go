//go:build !unix

package grpc

import (
	"os"
	"os/exec"
	"sync"
)

// tree is a plugin process on systems without process groups (Windows):
// the process alone. Its children are not killed with it, and its memory is
// not measured, so Options.MemoryLimit is not enforced here (see the package
// comment).
type tree struct {
	mu   sync.Mutex
	proc *os.Process
}

// startTree starts the command newCmd makes.
func startTree(newCmd func() *exec.Cmd) (*tree, *exec.Cmd, error) {
	cmd := newCmd()
	if err := cmd.Start(); err != nil {
		return nil, nil, err
	}
	return &tree{proc: cmd.Process}, cmd, nil
}

func (t *tree) release()           {}
func (t *tree) rss() (int64, bool) { return 0, false }

// killAll kills the process.
func (t *tree) killAll() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.proc != nil {
		_ = t.proc.Kill()
	}
}
