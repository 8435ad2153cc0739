package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Ctrl-C (SIGINT) or SIGTERM while a stage's plugin is loading, starting or
// configuring: valuescope exits with status 130 and says it was interrupted,
// and no plugin process is left behind.
func TestInterruptWhileLoading(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and starts gRPC plugins")
	}
	bin := buildValuescope(t)
	for _, c := range []struct {
		name, flags, config, marker string
		sig                         syscall.Signal
	}{
		{"starting", "-start 1h", "", "b.pid", syscall.SIGINT},
		{"configuring", "", `configure_sleep = "1h"`, "b.configuring", syscall.SIGINT},
		{"configuring, SIGTERM", "", `configure_sleep = "1h"`, "b.configuring", syscall.SIGTERM},
	} {
		t.Run(c.name, func(t *testing.T) {
			mark := t.TempDir()
			cfg := stageConfig(t, "-mark "+mark+" -name b "+c.flags, c.config)
			cmd := exec.Command(bin, "run", "--quiet", "--out", filepath.Join(t.TempDir(), "run"), cfg)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			marker := filepath.Join(mark, c.marker)
			for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(5 * time.Millisecond) {
				if _, err := os.Stat(marker); err == nil {
					break
				}
				if time.Now().After(deadline) {
					cmd.Process.Kill()
					t.Fatalf("%s did not appear\n%s", c.marker, stderr.String())
				}
			}
			cmd.Process.Signal(c.sig)
			var err error
			select {
			case err = <-done:
			case <-time.After(20 * time.Second):
				cmd.Process.Kill()
				t.Fatalf("still running 20 s after the signal\n%s", stderr.String())
			}
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != exitInterrupted || !strings.Contains(stderr.String(), "interrupted") {
				t.Fatalf("exit: %v, want status %d\n%s", err, exitInterrupted, stderr.String())
			}
			b, _ := os.ReadFile(filepath.Join(mark, "b.pid"))
			pid, perr := strconv.Atoi(string(b))
			if perr != nil {
				t.Fatal(perr)
			}
			if syscall.Kill(pid, 0) == nil {
				syscall.Kill(pid, syscall.SIGKILL)
				t.Fatalf("the plugin (pid %d) outlived valuescope", pid)
			}
		})
	}
}
