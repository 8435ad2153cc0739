//go:build unix && !linux

package grpc

import (
	"os/exec"
	"sync"
	"syscall"
)

// tree is a plugin process and the processes it starts, on Unix systems
// other than Linux: its process group. A child that leaves the group
// (setsid) is not found, and the tree's memory is not measured, so
// Options.MemoryLimit is not enforced here (see the package comment).
type tree struct {
	mu  sync.Mutex
	pid int
}

func newTree() *tree        { return &tree{} }
func newTreeWithout() *tree { return &tree{} }

func (t *tree) prepare(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

func (t *tree) retryable(error) bool { return false }
func (t *tree) discard()             {}
func (t *tree) disableOthers()       {}
func (t *tree) release()             {}
func (t *tree) canMeasure() bool     { return false }
func (t *tree) rss() (int64, bool)   { return 0, false }

func (t *tree) started(pid int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.pid = pid
}

// killAll kills the process group.
func (t *tree) killAll() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.pid > 0 {
		_ = syscall.Kill(-t.pid, syscall.SIGKILL)
	}
}
