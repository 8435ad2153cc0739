package grpc_test

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

const tagVar = "VALUESCOPE_TEST_PROCESS_TAG"

// currentTag is the tag noLeftovers set for the running test.
func currentTag() string { return os.Getenv(tagVar) }

// noLeftovers tags every process the test starts from now on (an
// environment variable, which every descendant inherits, setsid or not) and
// fails the test when any is still running 5 s after the test's end (its
// plugins closed), killing those.
func noLeftovers(t *testing.T) {
	t.Helper()
	tag := fmt.Sprintf("%s-%d-%d", t.Name(), os.Getpid(), time.Now().UnixNano())
	t.Setenv(tagVar, tag)
	t.Cleanup(func() {
		deadline := time.Now().Add(5 * time.Second)
		for {
			left := tagged(tag)
			if len(left) == 0 {
				return
			}
			if time.Now().After(deadline) {
				var desc []string
				for _, pid := range left {
					cmd, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
					desc = append(desc, fmt.Sprintf("%d %s", pid, bytes.ReplaceAll(bytes.TrimRight(cmd, "\x00"), []byte{0}, []byte{' '})))
					_ = syscall.Kill(pid, syscall.SIGKILL)
				}
				t.Errorf("%d processes left behind: %s", len(left), strings.Join(desc, "; "))
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}

// tagged lists the live processes, other than this one, whose environment
// holds the tag.
func tagged(tag string) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	want := []byte(tagVar + "=" + tag + "\x00")
	var out []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		env, err := os.ReadFile("/proc/" + e.Name() + "/environ")
		if err != nil || !bytes.Contains(append([]byte{0}, env...), append([]byte{0}, want...)) {
			continue
		}
		out = append(out, pid)
	}
	return out
}
