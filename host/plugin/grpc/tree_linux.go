//go:build linux

package grpc

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// tree is a plugin process and every process it starts, on Linux. The
// process leads a process group of its own. When a cgroup v2 hierarchy is
// writable (root, or a delegated subtree), the process is also started in a
// cgroup of its own (clone3 CLONE_INTO_CGROUP): every descendant is in it,
// whatever it does (setsid, double fork), and killAll kills them all
// (cgroup.kill). Otherwise the tree is the process group plus the
// descendants found under /proc, at every memory poll (memoryPoll) and at
// killAll, remembered by pid and start time so that those that called
// setsid and were orphaned since are still found; a child that leaves the
// group and is orphaned between two polls escapes (the documented limit).
type tree struct {
	mu    sync.Mutex
	pid   int
	cg    string // the tree's cgroup folder; "" when none
	known map[int]uint64
}

// cgroupsOff is set once starting a process in a cgroup failed where
// starting it without one worked: cgroups are not used again.
var cgroupsOff atomic.Bool

var cgroupSeq atomic.Int64

const cgroupPrefix = "valuescope-"

// cgroupParent is the folder the trees' cgroups are made in: the host's own
// cgroup v2, when the host may make cgroups there; "" when not.
var cgroupParent = sync.OnceValue(func() string {
	mount := cgroup2Mount()
	if mount == "" {
		return ""
	}
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return ""
	}
	own := ""
	for line := range strings.Lines(string(b)) {
		if p, ok := strings.CutPrefix(strings.TrimSpace(line), "0::"); ok {
			own = p
		}
	}
	if own == "" {
		return ""
	}
	dir := filepath.Join(mount, own)
	probe := filepath.Join(dir, fmt.Sprintf("%sprobe-%d", cgroupPrefix, os.Getpid()))
	if err := os.Mkdir(probe, 0o755); err != nil {
		return ""
	}
	if err := os.Remove(probe); err != nil {
		return ""
	}
	removeStaleCgroups(dir)
	return dir
})

// cgroup2Mount is where the cgroup v2 hierarchy is mounted, from
// /proc/self/mountinfo; "" when it is not.
func cgroup2Mount() string {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return ""
	}
	for line := range strings.Lines(string(b)) {
		// "id parent major:minor root mountpoint options ... - fstype source options"
		pre, post, ok := strings.Cut(line, " - ")
		if !ok || !strings.HasPrefix(post, "cgroup2 ") {
			continue
		}
		if f := strings.Fields(pre); len(f) >= 5 && f[3] == "/" {
			return f[4]
		}
	}
	return ""
}

// removeStaleCgroups kills what is left in the cgroups of hosts that are no
// longer running (killed before they could clean up) and removes them.
func removeStaleCgroups(dir string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), cgroupPrefix)
		if !ok || !e.IsDir() {
			continue
		}
		hostPID, _, _ := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(hostPID)
		if err != nil || pid == os.Getpid() || !errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) { // the host is alive
			continue
		}
		cg := filepath.Join(dir, e.Name())
		killCgroup(cg)
		removeCgroup(cg)
	}
}

// startTree starts the command newCmd makes as the leader of a new tree: in
// a cgroup of its own when cgroups can be used, else (and from then on, if
// starting in a cgroup failed where starting without one works) in a
// process group alone.
func startTree(newCmd func() *exec.Cmd) (*tree, *exec.Cmd, error) {
	t := &tree{known: map[int]uint64{}}
	cg, fd := newCgroup()
	cmd := newCmd()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if cg != "" {
		cmd.SysProcAttr.UseCgroupFD, cmd.SysProcAttr.CgroupFD = true, fd
	}
	err := cmd.Start()
	if cg != "" {
		syscall.Close(fd)
		if err != nil {
			_ = os.Remove(cg)
			cmd = newCmd()
			cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
			if err = cmd.Start(); err == nil {
				cgroupsOff.Store(true)
			}
		} else {
			t.cg = cg
		}
	}
	if err != nil {
		return nil, nil, err
	}
	t.pid = cmd.Process.Pid
	// The leader is known by its start time too: once it is reaped, its pid
	// may be another process's.
	if st, ok := readStat(t.pid); ok {
		t.known[t.pid] = st.start
	}
	return t, cmd, nil
}

// newCgroup makes a cgroup for a tree and opens it for clone3; "" when
// cgroups are not used.
func newCgroup() (string, int) {
	parent := cgroupParent()
	if parent == "" || cgroupsOff.Load() {
		return "", -1
	}
	cg := filepath.Join(parent, fmt.Sprintf("%s%d-%d", cgroupPrefix, os.Getpid(), cgroupSeq.Add(1)))
	if err := os.Mkdir(cg, 0o755); err != nil {
		return "", -1
	}
	fd, err := syscall.Open(cg, syscall.O_DIRECTORY|syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		_ = os.Remove(cg)
		return "", -1
	}
	return cg, fd
}

// killAll kills every process of the tree (SIGKILL: a plugin being killed
// is wedged, or over its memory, or the host is closing).
func (t *tree) killAll() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.pid <= 0 {
		return
	}
	_ = syscall.Kill(-t.pid, syscall.SIGKILL)
	if t.cg != "" {
		killCgroup(t.cg)
		return
	}
	killRounds(t.membersLocked)
}

// killRounds kills the processes members lists, in a few rounds, for
// children forked meanwhile.
func killRounds(members func() []int) {
	for range 4 {
		pids := members()
		if len(pids) == 0 {
			return
		}
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// release removes the tree's cgroup once it is empty (its killed processes
// take a moment to exit). It does not wait.
func (t *tree) release() {
	t.mu.Lock()
	cg := t.cg
	t.mu.Unlock()
	if cg != "" {
		go removeCgroup(cg)
	}
}

// rss is the resident memory of the tree's processes, summed.
func (t *tree) rss() (int64, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.pid <= 0 {
		return 0, false
	}
	var sum int64
	for _, pid := range t.membersLocked() {
		sum += residentBytes(pid)
	}
	return sum, true
}

// membersLocked lists the tree's live processes.
func (t *tree) membersLocked() []int {
	if t.cg != "" {
		return cgroupProcs(t.cg)
	}
	procs := scanProcs()
	in := map[int]bool{}
	for pid, p := range procs {
		// A group keeps its id while it has members (Linux does not reuse
		// it meanwhile); any other process is the tree's only if it is one
		// seen before, with the same start time.
		if p.pgrp == t.pid || (t.known[pid] != 0 && t.known[pid] == p.start) {
			in[pid] = true
		}
	}
	children := map[int][]int{}
	for pid, p := range procs {
		children[p.ppid] = append(children[p.ppid], pid)
	}
	queue := make([]int, 0, len(in))
	for pid := range in {
		queue = append(queue, pid)
	}
	for len(queue) > 0 {
		pid := queue[0]
		queue = queue[1:]
		for _, c := range children[pid] {
			if !in[c] {
				in[c] = true
				queue = append(queue, c)
			}
		}
	}
	self := os.Getpid()
	t.known = map[int]uint64{}
	out := make([]int, 0, len(in))
	for pid := range in {
		if pid == self {
			continue
		}
		t.known[pid] = procs[pid].start
		out = append(out, pid)
	}
	return out
}

type procStat struct {
	ppid, pgrp int
	start      uint64
}

// scanProcs reads every live process's parent, group and start time from
// /proc (zombies left out: they hold nothing and cannot be killed).
func scanProcs() map[int]procStat {
	out := map[int]procStat{}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return out
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st, ok := readStat(pid); ok {
			out[pid] = st
		}
	}
	return out
}

// readStat reads a live process's parent, group and start time; false for
// a zombie or a process that is gone.
func readStat(pid int) (procStat, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStat{}, false
	}
	// "pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt
	// majflt cmajflt utime stime cutime cstime priority nice threads
	// itrealvalue starttime ..."; comm may hold spaces and parentheses.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procStat{}, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 || f[0] == "Z" || f[0] == "X" {
		return procStat{}, false
	}
	ppid, _ := strconv.Atoi(f[1])
	pgrp, _ := strconv.Atoi(f[2])
	start, _ := strconv.ParseUint(f[19], 10, 64)
	return procStat{ppid: ppid, pgrp: pgrp, start: start}, true
}

var pageSize = int64(os.Getpagesize())

// residentBytes is a process's share of resident memory: its proportional
// set size (Pss in /proc/PID/smaps_rollup, Linux 4.14+), where a page shared
// by n processes counts 1/n in each, so that a plugin that forks workers
// (copy-on-write pages, shared libraries) is not counted once per process;
// else its resident set (/proc/PID/statm's second field). 0 when it is gone.
func residentBytes(pid int) int64 {
	if b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/smaps_rollup"); err == nil {
		for line := range strings.Lines(string(b)) {
			if v, ok := strings.CutPrefix(line, "Pss:"); ok {
				if kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64); err == nil {
					return kb << 10
				}
			}
		}
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	n, _ := strconv.ParseInt(f[1], 10, 64)
	return n * pageSize
}

func cgroupProcs(cg string) []int {
	b, err := os.ReadFile(filepath.Join(cg, "cgroup.procs"))
	if err != nil {
		return nil
	}
	var out []int
	for _, f := range strings.Fields(string(b)) {
		if pid, err := strconv.Atoi(f); err == nil {
			out = append(out, pid)
		}
	}
	return out
}

// killCgroup kills every process in a cgroup: cgroup.kill (Linux 5.14), or
// else SIGKILL to its members, a few rounds.
func killCgroup(cg string) {
	if os.WriteFile(filepath.Join(cg, "cgroup.kill"), []byte("1"), 0) == nil {
		return
	}
	killRounds(func() []int { return cgroupProcs(cg) })
}

// removeCgroup removes an emptied cgroup, trying for up to 2 s while its
// killed processes exit.
func removeCgroup(cg string) {
	for i := 0; ; i++ {
		err := os.Remove(cg)
		if err == nil || errors.Is(err, os.ErrNotExist) || i == 40 {
			return
		}
		if i%10 == 9 {
			killCgroup(cg)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
