package grpc_test

import (
	"context"
	"errors"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/valuescope/valuescope/host/plugin/callerr"
	"github.com/valuescope/valuescope/host/plugin/grpc"
	"github.com/valuescope/valuescope/sdk/protocol"
)

func withoutCgroups(t *testing.T) { grpc.WithoutCgroups(t) }

// A plugin over its memory limit is killed: the call fails saying so, and
// the next call restarts it; with a cgroup and without one (the processes
// found under /proc).
func TestMemoryLimit(t *testing.T) {
	t.Run("default", testMemoryLimit)
	t.Run("no-cgroup", func(t *testing.T) {
		withoutCgroups(t)
		testMemoryLimit(t)
	})
}

func testMemoryLimit(t *testing.T) {
	noLeftovers(t)
	p := load(t, "echo", grpc.Options{MemoryLimit: 128 << 20, Deadline: time.Minute})
	start := time.Now()
	_, err := process(p, misbehaving("m1", "alloc"))
	var ce *callerr.Error
	if !errors.As(err, &ce) || ce.Kind != callerr.Crashed || !errors.Is(err, grpc.ErrOverMemory) || !strings.Contains(err.Error(), "goplugin: conversation m1: crash: the plugin process") ||
		!strings.Contains(err.Error(), "exceeded its 128 MiB memory limit") {
		t.Fatalf("got %v", err)
	}
	t.Logf("%v (after %s)", err, time.Since(start).Round(time.Millisecond))
	if d := time.Since(start); d > 20*time.Second {
		t.Fatalf("killed after %s", d)
	}
	if peak := p.PeakMemory(); peak <= 128<<20 {
		t.Fatalf("peak memory %d MiB, want over the limit", peak>>20)
	}
	echoes(t, p)
	if peak := p.PeakMemory(); peak <= 128<<20 {
		t.Fatalf("peak memory %d MiB after the restart, want the dead process's", peak>>20)
	}
}

// A daemon child (forked twice, in a session of its own, orphaned at once)
// is no descendant of the plugin by the time anyone looks: a cgroup holds it
// all the same, and it goes with the plugin. Without a cgroup it escapes
// (the documented limit), and even then, holding the plugin's pipes, it
// does not hang Close.
func TestDaemonChild(t *testing.T) {
	t.Run("cgroup", func(t *testing.T) {
		if !grpc.UsesCgroups() {
			t.Skip("the cgroup v2 hierarchy is not writable here")
		}
		noLeftovers(t)
		p := loadCommand(t, hostile(t, "daemon.sh"), grpc.Options{})
		echoes(t, p)
		closeWithin(t, p, 20*time.Second)
	})
	t.Run("no-cgroup", func(t *testing.T) {
		withoutCgroups(t)
		noLeftovers(t)
		p := loadCommand(t, hostile(t, "daemon.sh"), grpc.Options{})
		echoes(t, p)
		closeWithin(t, p, 20*time.Second)
		// The daemon escaped: end it here, so that noLeftovers checks the rest.
		t.Cleanup(func() {
			for _, pid := range tagged(currentTag()) {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		})
	})
}

// Memory shared between a plugin's processes counts once: 4 processes
// sharing 96 MiB (a pre-fork worker pool) are well under a 256 MiB limit,
// though their resident sets add up to 384 MiB.
func TestMemoryLimitSharedPages(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("no python3")
	}
	noLeftovers(t)
	var log logBuffer
	p, err := grpc.Load(context.Background(), hostile(t, "forked.sh"), grpc.Options{Log: log.logger(), MemoryLimit: 256 << 20,
		Config: protocol.ConfigureRequest{ConfigJSON: `{"mode": "echo"}`}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	eventually(t, "the workers forked", func() bool { return strings.Contains(log.String(), "forked") })
	time.Sleep(300 * time.Millisecond) // three memory polls
	echoes(t, p)
	if peak := p.PeakMemory(); peak <= 96<<20 || peak > 256<<20 {
		t.Fatalf("peak memory %d MiB: want the 96 MiB shared once, not once per process", peak>>20)
	}
}
