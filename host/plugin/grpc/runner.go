package grpc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	goplugin "github.com/hashicorp/go-plugin"
	"github.com/hashicorp/go-plugin/runner"
)

// pipeGrace is how long the plugin's stdout and stderr may stay open after
// the plugin process exited (held by a child that escaped the kill): past it
// the host closes its ends, and go-plugin, which waits for the end of both
// before it says the process exited, goes on.
const pipeGrace = 500 * time.Millisecond

// memoryPoll is how often a plugin's resident memory is measured.
const memoryPoll = 100 * time.Millisecond

// procRunner runs one plugin process for go-plugin (it is the RunnerFunc's
// runner.Runner). It replaces go-plugin's own runner, which hands it
// exec.Cmd's StdoutPipe and StderrPipe and calls Wait only once both have
// ended: a child of the plugin that keeps them open (a shell script's
// `sleep 1000 &`) then keeps go-plugin's Kill, and so Close, waiting
// forever. Here the host reaps the process as soon as it exits, kills what is
// left of its process tree (see tree), and closes its ends of the pipes
// pipeGrace later whatever holds the other ends.
//
// It also puts the process in a process group of its own (a tree), polls
// the tree's resident memory against the memory limit, and can be killed
// before it has started (a load cancelled while go-plugin starts it).
type procRunner struct {
	command []string
	limit   int64 // bytes; 0: none

	mu      sync.Mutex
	env     []string
	cmd     *exec.Cmd
	tree    *tree
	pid     int
	killed  bool // Kill was called: Start refuses, reap kills again
	started bool

	exited  chan struct{} // closed once the process is reaped and its tree killed
	waitErr error         // cmd.Wait's; read after exited
	stdout  *pipeEnd
	stderr  *pipeEnd

	peak    atomic.Int64 // the highest memory measured, bytes
	overMem atomic.Int64 // the memory it was killed at, when over the limit
}

var _ runner.Runner = (*procRunner)(nil)

func newProcRunner(command []string, limit int64) *procRunner {
	return &procRunner{command: command, limit: limit, exited: make(chan struct{})}
}

// runnerFunc is go-plugin's ClientConfig.RunnerFunc: cmd carries the
// environment go-plugin prepared (the host's, the magic cookie, the protocol
// versions).
func (r *procRunner) runnerFunc(_ hclog.Logger, cmd *exec.Cmd, socketDir string) (runner.Runner, error) {
	// go-plugin made a folder for Unix sockets for a RunnerFunc's plugin and
	// names it in the environment; a plugin from a command serves on TCP, as
	// it would under go-plugin's own runner (sdk/ABI.md), so the folder is
	// neither named nor kept.
	env := slices.DeleteFunc(slices.Clone(cmd.Env), func(kv string) bool {
		return strings.HasPrefix(kv, goplugin.EnvUnixSocketDir+"=")
	})
	if socketDir != "" {
		_ = os.Remove(socketDir)
	}
	r.mu.Lock()
	r.env = env
	r.mu.Unlock()
	return r, nil
}

// Start starts the process; ctx is go-plugin's start timeout, which Start
// does not need (it returns as soon as the process runs).
func (r *procRunner) Start(context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.killed {
		return errors.New("cancelled before the process started")
	}
	if r.started {
		return errors.New("started twice")
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("stdout pipe: %w", err)
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return fmt.Errorf("stderr pipe: %w", err)
	}
	t, cmd, err := startTree(func() *exec.Cmd {
		cmd := exec.Command(r.command[0], r.command[1:]...)
		cmd.Env = r.env
		cmd.Stdout, cmd.Stderr = outW, errW // *os.File: no copying goroutine to wait for
		return cmd
	})
	outW.Close()
	errW.Close()
	if err != nil {
		outR.Close()
		errR.Close()
		return err
	}
	r.cmd, r.tree, r.pid, r.started = cmd, t, cmd.Process.Pid, true
	r.stdout, r.stderr = newPipeEnd(outR), newPipeEnd(errR)
	go r.reap()
	go r.watch()
	return nil
}

// reap waits for the process, kills what is left of its tree, and closes the
// pipes once they ended or pipeGrace passed.
func (r *procRunner) reap() {
	err := r.cmd.Wait()
	r.mu.Lock()
	r.waitErr = err
	r.mu.Unlock()
	r.tree.killAll()
	r.tree.release()
	time.AfterFunc(pipeGrace, func() {
		r.stdout.Close()
		r.stderr.Close()
	})
	close(r.exited)
}

// watch samples the tree's memory until the process exits.
func (r *procRunner) watch() {
	t := time.NewTicker(memoryPoll)
	defer t.Stop()
	for {
		select {
		case <-r.exited:
			return
		case <-t.C:
		}
		r.sample()
	}
}

// sample measures the tree's memory now, keeps the peak, and kills the tree
// when it is over the limit. (Measuring also lets the tree keep track of
// children that left the process group.)
func (r *procRunner) sample() {
	rss, ok := r.tree.rss()
	if !ok {
		return
	}
	for peak := r.peak.Load(); rss > peak && !r.peak.CompareAndSwap(peak, rss); peak = r.peak.Load() {
	}
	if r.limit > 0 && rss > r.limit && r.overMem.CompareAndSwap(0, rss) {
		r.tree.killAll()
	}
}

// Wait waits for the process to have exited (go-plugin calls it once the
// pipes ended).
func (r *procRunner) Wait(context.Context) error {
	<-r.exited
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.waitErr
}

// track samples the tree now (without a cgroup, a child that left the
// process group is found later only if it was noted while it was a
// descendant of the plugin process): once the process serves, and before it
// is asked to exit.
func (r *procRunner) track() {
	r.mu.Lock()
	ok := r.started && !r.hasExited()
	r.mu.Unlock()
	if ok {
		r.sample()
	}
}

// Kill kills the process and its tree; before Start, it makes Start fail.
// It does not wait.
func (r *procRunner) Kill(context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.killed = true
	if r.started && !r.hasExited() {
		r.tree.killAll()
	}
	return nil
}

func (r *procRunner) hasExited() bool {
	select {
	case <-r.exited:
		return true
	default:
		return false
	}
}

// exitStatus is "exit status 3", "signal: killed"..., once the process has
// exited.
func (r *procRunner) exitStatus() string {
	if !r.hasExited() {
		return "status unknown"
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd.ProcessState == nil {
		return "status unknown"
	}
	return r.cmd.ProcessState.String()
}

func (r *procRunner) Stdout() io.ReadCloser { return r.stdout }
func (r *procRunner) Stderr() io.ReadCloser { return r.stderr }
func (r *procRunner) Name() string          { return r.command[0] }
func (r *procRunner) Diagnose(context.Context) string {
	return ""
}

func (r *procRunner) ID() string {
	if pid := r.PID(); pid != 0 {
		return strconv.Itoa(pid)
	}
	return ""
}

// PID is the process's id; 0 before it started.
func (r *procRunner) PID() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.pid
}

func (r *procRunner) PluginToHost(network, addr string) (string, string, error) {
	return network, addr, nil
}

func (r *procRunner) HostToPlugin(network, addr string) (string, string, error) {
	return network, addr, nil
}

// pipeEnd is the host's end of a plugin's stdout or stderr. Closing it ends
// a Read in progress, which then reports io.EOF (go-plugin would log a
// closed file as an error).
type pipeEnd struct {
	f    *os.File
	once sync.Once
}

func newPipeEnd(f *os.File) *pipeEnd { return &pipeEnd{f: f} }

func (p *pipeEnd) Read(b []byte) (int, error) {
	n, err := p.f.Read(b)
	if err != nil && (errors.Is(err, os.ErrClosed) || errors.Is(err, io.EOF)) {
		p.Close()
		err = io.EOF
	}
	return n, err
}

func (p *pipeEnd) Close() error {
	p.once.Do(func() { p.f.Close() })
	return nil
}

// commandName is what the log calls a process's stderr.
func commandName(command []string) string { return filepath.Base(command[0]) }
