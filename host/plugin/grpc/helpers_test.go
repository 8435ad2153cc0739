package grpc_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/valuescope/valuescope/internal/testplugins"
	"github.com/valuescope/valuescope/sdk/protocol"
)

var (
	buildOnce sync.Once
	buildPath string
	buildErr  error
)

// goPlugin builds testdata/goplugin once per test binary, and keeps the
// binary in the temp folder under a hash of everything it is built from (the
// Go version, go.mod, go.sum, and the Go files under sdk and
// host/plugin/grpc's internal and testdata), so that later runs reuse it.
func goPlugin(tb testing.TB) string {
	tb.Helper()
	buildOnce.Do(func() {
		root := testplugins.ModuleRoot(tb)
		h := sha256.New()
		h.Write([]byte(runtime.Version() + "\x00"))
		for _, f := range []string{"go.mod", "go.sum"} {
			b, err := os.ReadFile(filepath.Join(root, f))
			if err != nil {
				buildErr = err
				return
			}
			h.Write(b)
		}
		for _, dir := range []string{"sdk", filepath.Join("host", "plugin", "grpc", "internal"), filepath.Join("host", "plugin", "grpc", "testdata")} {
			err := filepath.WalkDir(filepath.Join(root, dir), func(path string, d fs.DirEntry, err error) error {
				if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
					return err
				}
				b, err := os.ReadFile(path)
				h.Write([]byte(path))
				h.Write(b)
				return err
			})
			if err != nil {
				buildErr = err
				return
			}
		}
		out := filepath.Join(os.TempDir(), "valuescope-testplugins", "goplugin-"+hex.EncodeToString(h.Sum(nil))[:16])
		if _, err := os.Stat(out); err == nil {
			buildPath = out
			return
		}
		if buildErr = os.MkdirAll(filepath.Dir(out), 0o755); buildErr != nil {
			return
		}
		tmp, err := os.CreateTemp(filepath.Dir(out), "goplugin-*.tmp")
		if err != nil {
			buildErr = err
			return
		}
		tmp.Close()
		defer os.Remove(tmp.Name())
		cmd := exec.Command("go", "build", "-o", tmp.Name(), "./host/plugin/grpc/testdata/goplugin")
		cmd.Dir = root
		if b, err := cmd.CombinedOutput(); err != nil {
			buildErr = &buildError{err: err, out: string(b)}
			return
		}
		if buildErr = os.Rename(tmp.Name(), out); buildErr == nil {
			buildPath = out
		}
	})
	if buildErr != nil {
		tb.Fatal("building the test plugin: ", buildErr)
	}
	return buildPath
}

type buildError struct {
	err error
	out string
}

func (e *buildError) Error() string { return e.err.Error() + "\n" + e.out }

// logBuffer collects log lines, for the tests that look at the log.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// fakeModels answers every model call with the next of its answers.
type fakeModels struct {
	mu      sync.Mutex
	answers []string
	calls   int
}

func (f *fakeModels) Call(_ context.Context, calls []protocol.ModelCall) ([]protocol.ModelResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]protocol.ModelResponse, len(calls))
	for i, c := range calls {
		out[i] = protocol.ModelResponse{ID: c.ID, Text: f.answers[f.calls%len(f.answers)]}
		f.calls++
	}
	return out, nil
}
