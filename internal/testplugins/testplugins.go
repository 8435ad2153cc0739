// Package testplugins builds the Wasm test plugins under
// host/plugin/testdata for tests, once per source and flags: the module is
// kept in the temp folder under a name derived from a hash of its source, the
// Go version and the flags, so later test runs (and other packages' tests)
// reuse it.
package testplugins

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	"github.com/valuescope/valuescope/internal/wasmbuild"
)

var mu sync.Mutex

// Wasm returns the bytes of the test plugin host/plugin/testdata/NAME built
// with the given extra linker flags.
func Wasm(tb testing.TB, name, ldflags string) []byte {
	tb.Helper()
	mu.Lock()
	defer mu.Unlock()
	root := moduleRoot(tb)
	dir := filepath.Join(root, "host", "plugin", "testdata", name)
	h := sha256.New()
	h.Write([]byte(runtime.Version() + "\x00" + ldflags + "\x00"))
	for _, sub := range []string{dir, filepath.Join(root, "sdk"), filepath.Join(root, "sdk", "wasm"), filepath.Join(root, "sdk", "protocol")} {
		files, _ := filepath.Glob(filepath.Join(sub, "*.go"))
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				tb.Fatal(err)
			}
			h.Write([]byte(f))
			h.Write(b)
		}
	}
	out := filepath.Join(os.TempDir(), "valuescope-testplugins", name+"-"+hex.EncodeToString(h.Sum(nil))[:16]+".wasm")
	if b, err := os.ReadFile(out); err == nil {
		return b
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		tb.Fatal(err)
	}
	tmp := out + ".tmp"
	if err := wasmbuild.Build(context.Background(), root, "./host/plugin/testdata/"+name, tmp, ldflags); err != nil {
		tb.Fatal(err)
	}
	if err := os.Rename(tmp, out); err != nil {
		tb.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func moduleRoot(tb testing.TB) string {
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Fatal("no go.mod above the test's folder")
		}
		dir = parent
	}
}
