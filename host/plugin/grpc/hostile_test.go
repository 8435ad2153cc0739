//go:build unix

package grpc_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valuescope/valuescope/host/plugin/callerr"
	"github.com/valuescope/valuescope/host/plugin/grpc"
	"github.com/valuescope/valuescope/sdk/protocol"
)

// hostile is the command running the test plugin under a script of
// testdata/hostile.
func hostile(t *testing.T, script string, args ...string) []string {
	t.Helper()
	return append(append([]string{"/bin/sh", filepath.Join("testdata", "hostile", script)}, args...), goPlugin(t))
}

func loadCommand(t *testing.T, command []string, opts grpc.Options) *grpc.Plugin {
	t.Helper()
	if opts.Log == nil {
		opts.Log = quiet
	}
	if opts.Config.ConfigJSON == "" {
		opts.Config.ConfigJSON = `{"mode": "echo"}`
	}
	p, err := grpc.Load(context.Background(), command, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// closeWithin closes p, failing the test when that takes over d.
func closeWithin(t *testing.T, p *grpc.Plugin, d time.Duration) {
	t.Helper()
	done := make(chan struct{})
	start := time.Now()
	go func() { p.Close(); close(done) }()
	select {
	case <-done:
		t.Logf("Close took %s", time.Since(start).Round(time.Millisecond))
	case <-time.After(d):
		t.Fatalf("Close did not return within %s", d)
	}
}

// A child that keeps the plugin's stdout and stderr open (a shell script's
// `sleep 1000 &`) neither hangs Close nor outlives the plugin.
func TestChildHoldingPipesClose(t *testing.T) {
	noLeftovers(t)
	p := loadCommand(t, hostile(t, "holdpipes.sh"), grpc.Options{})
	echoes(t, p)
	closeWithin(t, p, 20*time.Second)
}

// Nor does it hang the handling of a crash: the call fails with the exit
// status, the next call gets a new process, and Close is prompt.
func TestChildHoldingPipesCrash(t *testing.T) {
	noLeftovers(t)
	p := loadCommand(t, hostile(t, "holdpipes.sh"), grpc.Options{})
	errc := make(chan error, 1)
	go func() {
		_, err := process(p, misbehaving("x1", "exit"))
		errc <- err
	}()
	select {
	case err := <-errc:
		var ce *callerr.Error
		if !errors.As(err, &ce) || ce.Kind != callerr.Crashed || !strings.Contains(err.Error(), "died during the call (exit status 3)") {
			t.Fatalf("got %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the crashed call did not fail within 20s")
	}
	echoes(t, p)
	closeWithin(t, p, 20*time.Second)
}

// A child that left the plugin's process group (setsid) is killed with the
// plugin, with a cgroup and without one.
func TestSetsidChild(t *testing.T) {
	t.Run("default", func(t *testing.T) {
		noLeftovers(t)
		p := loadCommand(t, hostile(t, "setsid.sh"), grpc.Options{})
		echoes(t, p)
		closeWithin(t, p, 20*time.Second)
	})
	t.Run("no-cgroup", func(t *testing.T) {
		withoutCgroups(t)
		noLeftovers(t)
		p := loadCommand(t, hostile(t, "setsid.sh"), grpc.Options{})
		echoes(t, p)
		closeWithin(t, p, 20*time.Second)
	})
}

// A load cancelled while the process starts (Ctrl-C during loading) returns
// at once and leaves no process behind, even a process that never speaks.
func TestCancelWhileStarting(t *testing.T) {
	noLeftovers(t)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(300*time.Millisecond, cancel)
	start := time.Now()
	p, err := grpc.Load(ctx, []string{"/bin/sh", "-c", "sleep 1000; echo never"}, grpc.Options{Log: quiet})
	if err == nil {
		p.Close()
		t.Fatal("no error")
	}
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "starting /bin/sh") {
		t.Fatalf("got %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Load returned %s after its start, cancelled at 300ms", d)
	}
}

// A plugin that crashes on some conversations fails those and no others,
// with calls running concurrently: it is restarted as often as it crashes,
// and the calls that wait for a restart do not fail.
func TestCrashersFailAlone(t *testing.T) {
	noLeftovers(t)
	var log logBuffer
	p := load(t, "echo", grpc.Options{Backoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond, Log: log.logger(),
		Config: protocol.ConfigureRequest{ConfigJSON: `{"mode": "echo", "crash_suffix": "7"}`}})
	const n, workers = 300, 4
	ids := make(chan int)
	go func() {
		for i := range n {
			ids <- i
		}
		close(ids)
	}()
	var mu sync.Mutex
	var failed, wrong []string
	var wg sync.WaitGroup
	start := time.Now()
	for range workers {
		wg.Go(func() {
			for i := range ids {
				c := *conv
				c.ID = fmt.Sprintf("c%03d", i)
				_, err := process(p, &c)
				mu.Lock()
				crasher := strings.HasSuffix(c.ID, "7")
				var ce *callerr.Error
				switch {
				case err != nil && crasher && errors.As(err, &ce) && ce.Kind == callerr.Crashed:
					failed = append(failed, c.ID)
				case err != nil || crasher:
					wrong = append(wrong, fmt.Sprintf("%s: %v", c.ID, err))
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	t.Logf("%d conversations, %d crashed, in %s, %d restarts", n, len(failed), time.Since(start).Round(time.Millisecond), p.Restarts())
	if len(wrong) > 0 {
		t.Fatalf("%d conversations went wrong, e.g. %s", len(wrong), strings.Join(wrong[:min(5, len(wrong))], "; "))
	}
	if len(failed) != n/10 {
		t.Fatalf("%d conversations failed, want %d", len(failed), n/10)
	}
	echoes(t, p)
}

// A plugin whose restarts keep failing is given up on after
// MaxStartFailures in a row: the call waiting for the restart fails saying
// why, and so does every later call, without another try.
func TestCannotRestart(t *testing.T) {
	noLeftovers(t)
	var log logBuffer
	marker := filepath.Join(t.TempDir(), "started")
	p := loadCommand(t, hostile(t, "startonce.sh", marker), grpc.Options{Backoff: time.Millisecond, Log: log.logger()})
	if _, err := process(p, misbehaving("x1", "exit")); err == nil {
		t.Fatal("exit: no error")
	}
	_, err := process(p, conv)
	if !errors.Is(err, grpc.ErrCannotRestart) || !strings.Contains(err.Error(), "3 restarts in a row failed") ||
		!strings.Contains(err.Error(), "exited (exit status 1) before its handshake") || !strings.Contains(err.Error(), "startonce: broken for good") {
		t.Fatalf("got %v", err)
	}
	t.Log(err)
	if _, err := process(p, conv); !errors.Is(err, grpc.ErrCannotRestart) {
		t.Fatalf("later call: got %v", err)
	}
	if n := strings.Count(log.String(), `msg="restarting plugin"`); n != 3 {
		t.Fatalf("%d restarts logged, want 3:\n%s", n, log.String())
	}
}

// A reply over protocol.MaxReplyBytes fails its call as a protocol
// violation; the process goes on.
func TestReplyTooBig(t *testing.T) {
	p := load(t, "echo", grpc.Options{})
	_, err := process(p, misbehaving("b1", "bigreply"))
	var ce *callerr.Error
	if !errors.As(err, &ce) || ce.Kind != callerr.Malformed || !strings.Contains(err.Error(), "protocol violation: the reply is over the 8 MiB limit") {
		t.Fatalf("got %v", err)
	}
	t.Log(err)
	echoes(t, p)
}

// A crash error quotes the end of the plugin's stderr: escaped (no escape
// code reaches a terminal or the report) and short, however much the plugin
// wrote (here 1 MB, then escape codes on a 10 KB unfinished line).
func TestCrashErrorIsPrintable(t *testing.T) {
	noLeftovers(t)
	p := load(t, "loudexit", grpc.Options{})
	_, err := p.Process(context.Background(), &protocol.ProcessRequest{Conversation: conv})
	if err == nil {
		t.Fatal("no error from a plugin that exited")
	}
	msg := err.Error()
	if len(msg) > 4000 || strings.ContainsAny(msg, "\x1b\x07") || !strings.Contains(msg, `\x1b[2J`) || !strings.Contains(msg, "died during the call") {
		t.Fatalf("error of %d bytes: %.400q", len(msg), msg)
	}
}

// Without call deadlines, the calls of a start (health, Describe,
// Configure) are still bounded, by StartTimeout: a plugin that never
// finishes configuring does not hang Load.
func TestStartCallsBoundedWithoutDeadline(t *testing.T) {
	noLeftovers(t)
	start := time.Now()
	_, err := grpc.Load(context.Background(), []string{goPlugin(t)}, grpc.Options{Log: quiet, Deadline: -1, StartTimeout: 500 * time.Millisecond,
		Config: protocol.ConfigureRequest{ConfigJSON: `{"mode": "echo", "configure_sleep": "1h"}`}})
	var st *callerr.StartTimeout
	if err == nil || !strings.Contains(err.Error(), "Configure") || !strings.Contains(err.Error(), "did not start within 500ms") || !errors.As(err, &st) {
		t.Fatalf("got %v", err)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Fatalf("Load took %s", d)
	}
}

// A plugin that crashes on every call fails each call promptly: a process
// that died in a call is that call's failure, restarted at once, not after
// a backoff that grows to MaxBackoff (20 conversations took 100 s).
func TestCrashEveryCallNoBackoff(t *testing.T) {
	noLeftovers(t)
	p := load(t, "exit", grpc.Options{Backoff: time.Second, MaxBackoff: 5 * time.Second})
	start := time.Now()
	for i := range 10 {
		c := *conv
		c.ID = fmt.Sprintf("x%d", i)
		if _, err := p.Process(context.Background(), &protocol.ProcessRequest{Conversation: &c}); err == nil {
			t.Fatal("a crashing plugin answered")
		}
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("10 crashing calls took %s: restarts waited for a backoff", d)
	}
}

// A process that never writes its handshake line fails to start at the
// start-up deadline, with the same error as a Wasm module that never
// starts, and is killed.
func TestNoHandshakeStartTimeout(t *testing.T) {
	noLeftovers(t)
	start := time.Now()
	_, err := grpc.Load(context.Background(), []string{"/bin/sh", "-c", "sleep 30"}, grpc.Options{Log: quiet, StartTimeout: 500 * time.Millisecond})
	var st *callerr.StartTimeout
	var ce *callerr.Error
	if !errors.As(err, &st) || !errors.As(err, &ce) || ce.Kind != callerr.Timeout || !strings.Contains(err.Error(), "did not start within 500ms") {
		t.Fatalf("got %v", err)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Fatalf("Load took %s", d)
	}
}
