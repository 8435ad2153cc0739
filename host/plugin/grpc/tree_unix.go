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

// startTree starts the command newCmd makes as the leader of a process
// group of its own.
func startTree(newCmd func() *exec.Cmd) (*tree, *exec.Cmd, error) {
	cmd := newCmd()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, nil, err
	}
	return &tree{pid: cmd.Process.Pid}, cmd, nil
}

func (t *tree) release()           {}
func (t *tree) rss() (int64, bool) { return 0, false }

// killAll kills the process group.
func (t *tree) killAll() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.pid > 0 {
		_ = syscall.Kill(-t.pid, syscall.SIGKILL)
	}
}
