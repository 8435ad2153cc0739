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
	cmd  *exec.Cmd
}

func newTree() *tree        { return &tree{} }
func newTreeWithout() *tree { return &tree{} }

func (t *tree) prepare(cmd *exec.Cmd) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.cmd = cmd
}

func (t *tree) retryable(error) bool { return false }
func (t *tree) discard()             {}
func (t *tree) disableOthers()       {}
func (t *tree) release()             {}
func (t *tree) canMeasure() bool     { return false }
func (t *tree) rss() (int64, bool)   { return 0, false }

func (t *tree) started(int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.proc = t.cmd.Process
}

// killAll kills the process.
func (t *tree) killAll() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.proc != nil {
		_ = t.proc.Kill()
	}
}
