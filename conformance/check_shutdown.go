package conformance

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/valuescope/valuescope/host/plugin"
)

// closeTimeout bounds the closing of one plugin. go-plugin waits for the end
// of a plugin's stdout and stderr before it says the process is gone, and a
// process the plugin started can hold them open for ever: the kit must say
// so rather than hang.
const closeTimeout = 10 * time.Second

// closeReport is what closing one plugin process showed.
type closeReport struct {
	took     time.Duration
	finished bool // Close returned within closeTimeout
}

// holder is a process holding one of a plugin process's output pipes.
type holder struct {
	pid, pgid int
	comm      string
}

func (h holder) String() string {
	return fmt.Sprintf("process %d (%s)", h.pid, plugin.Printable(h.comm, 40))
}

// closePlugin closes p within closeTimeout and, for a plugin that is a
// process (gRPC), notes for the shutdown check what it left behind: the
// processes that hold its stdout or stderr from a process group of their
// own before it is closed (they escape a kill of the plugin's group: setsid,
// a daemon), and those that still run once it is closed, which the kit
// then ends, since nothing else would.
func (k *kit) closePlugin(p plugin.Plugin) {
	pp, isProc := p.(interface{ PID() int })
	pid := 0
	if isProc {
		pid = pp.PID()
	}
	pipes := outputPipes(pid)
	if len(pipes) > 0 {
		pgid := processGroup(pid)
		for _, h := range pipeHolders(pipes) {
			if h.pid != pid && h.pgid != pgid {
				k.shutdownProblems = append(k.shutdownProblems, fmt.Sprintf("%s, started by the plugin (process %d), holds its stdout or stderr from a process group of its own: it outlives the plugin unless the host finds and kills it; "+
					"end the processes you start with the plugin, and do not detach them (setsid, a daemon)", h, pid))
			}
		}
	}
	start := time.Now()
	done := make(chan struct{})
	go func() {
		p.Close()
		close(done)
	}()
	rep := closeReport{finished: true}
	select {
	case <-done:
	case <-time.After(closeTimeout):
		rep.finished = false
		k.shutdownProblems = append(k.shutdownProblems, fmt.Sprintf("closing the plugin (process %d) did not finish within %s: something holds its stdout or stderr open, or it does not exit", pid, closeTimeout))
	}
	rep.took = time.Since(start)
	if len(pipes) > 0 {
		var left []string
		for _, h := range pipeHolders(pipes) {
			left = append(left, h.String())
			if proc, err := os.FindProcess(h.pid); err == nil {
				proc.Kill() // the plugin's leftover: nothing else ends it
			}
		}
		if len(left) > 0 {
			k.shutdownProblems = append(k.shutdownProblems, fmt.Sprintf("%s still held the plugin's stdout or stderr after it was closed (the kit killed it): a plugin's processes must end with it",
				strings.Join(left, ", ")))
			if !rep.finished {
				select { // its pipes are free now: Close can finish
				case <-done:
				case <-time.After(2 * time.Second):
				}
			}
		}
	}
	k.closed = append(k.closed, rep)
}

func (k *kit) checkShutdown() {
	k.closePlugin(k.main)
	if k.transport != "grpc" {
		k.set("shutdown", Skip, "not applicable: a Wasm plugin's instances live in the host's process, which ends them")
		return
	}
	if len(k.shutdownProblems) > 0 {
		problems := slices.Compact(k.shutdownProblems)
		k.set("shutdown", Fail, problems[0], problems[1:]...)
		return
	}
	var slowest time.Duration
	for _, c := range k.closed {
		slowest = max(slowest, c.took)
	}
	k.set("shutdown", Pass, fmt.Sprintf("closed %s, each within %s; no process it started outlived it", plural(len(k.closed), "plugin process"), roundDuration(slowest)))
}

// outputPipes returns the pipes a process's stdout and stderr write to
// ("pipe:[INODE]", as /proc shows them); none when the process is not
// running, or /proc (Linux) cannot say.
func outputPipes(pid int) []string {
	if pid <= 0 {
		return nil
	}
	var pipes []string
	for _, fd := range []string{"1", "2"} {
		if l, err := os.Readlink(filepath.Join("/proc", strconv.Itoa(pid), "fd", fd)); err == nil && strings.HasPrefix(l, "pipe:") && !slices.Contains(pipes, l) {
			pipes = append(pipes, l)
		}
	}
	return pipes
}

// pipeHolders lists the processes, other than the kit's own, with a file
// descriptor on one of the pipes.
func pipeHolders(pipes []string) []holder {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	self := os.Getpid()
	var out []holder
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		fds, err := os.ReadDir(filepath.Join("/proc", e.Name(), "fd"))
		if err != nil {
			continue
		}
		for _, fd := range fds {
			if l, err := os.Readlink(filepath.Join("/proc", e.Name(), "fd", fd.Name())); err == nil && slices.Contains(pipes, l) {
				comm, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "comm"))
				out = append(out, holder{pid: pid, pgid: processGroup(pid), comm: strings.TrimSpace(string(comm))})
				break
			}
		}
	}
	return out
}

// processGroup is a process's group id from /proc; -1 when unknown.
func processGroup(pid int) int {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return -1
	}
	// pid (comm) state ppid pgrp ...: comm may hold spaces and parentheses.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return -1
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 3 {
		return -1
	}
	g, err := strconv.Atoi(f[2])
	if err != nil {
		return -1
	}
	return g
}
