// Package testplugins builds the Wasm test plugins under
// host/plugin/testdata for tests, once per source and flags: the module is
// kept in the temp folder under a name derived from a hash of its source, the
// Go version and the flags, so later test runs (and other packages' tests)
// reuse it. WasmPackage and Binary do the same for a test plugin anywhere in
// the module (the conformance kit's gallery of broken plugins), as a Wasm
// module or a native executable.
package testplugins

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
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
	root := ModuleRoot(tb)
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

// ModuleRoot is the folder holding valuescope's go.mod, found upwards from
// the test's working folder.
func ModuleRoot(tb testing.TB) string {
	tb.Helper()
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

// locks serialises the builds of one output file while letting different
// ones run in parallel.
var locks sync.Map // output path -> *sync.Mutex

func lockFor(path string) func() {
	m, _ := locks.LoadOrStore(path, &sync.Mutex{})
	mu := m.(*sync.Mutex)
	mu.Lock()
	return mu.Unlock
}

// sourceHash hashes the Go version, the flags, go.mod and go.sum (the host's
// and the SDK's), and the Go files (tests excluded) of the given folders,
// relative to the module root.
func sourceHash(tb testing.TB, root, flags string, dirs ...string) string {
	tb.Helper()
	h := sha256.New()
	h.Write([]byte(runtime.Version() + "\x00" + flags + "\x00"))
	for _, f := range []string{"go.mod", "go.sum", "sdk/go.mod", "sdk/go.sum"} {
		b, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			tb.Fatal(err)
		}
		h.Write(b)
	}
	for _, dir := range dirs {
		files, _ := filepath.Glob(filepath.Join(root, filepath.FromSlash(dir), "*.go"))
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			b, err := os.ReadFile(f)
			if err != nil {
				tb.Fatal(err)
			}
			h.Write([]byte(f))
			h.Write(b)
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// WasmPackage builds the Wasm main package in dir (relative to the module
// root, e.g. "conformance/testdata/slow") with the given extra linker flags,
// and returns the path of the module, kept in the temp folder under a hash
// of its source (and the SDK's), the Go version and the flags. Different
// packages build in parallel.
func WasmPackage(tb testing.TB, dir, ldflags string) string {
	tb.Helper()
	root := ModuleRoot(tb)
	sum := sourceHash(tb, root, ldflags, dir, "sdk", "sdk/wasm", "sdk/protocol")
	out := filepath.Join(os.TempDir(), "valuescope-testplugins", filepath.Base(dir)+"-"+sum+".wasm")
	defer lockFor(out)()
	if _, err := os.Stat(out); err == nil {
		return out
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		tb.Fatal(err)
	}
	tmp := out + ".tmp"
	if err := wasmbuild.Build(context.Background(), root, "./"+filepath.ToSlash(dir), tmp, ldflags); err != nil {
		tb.Fatal(err)
	}
	if err := os.Rename(tmp, out); err != nil {
		tb.Fatal(err)
	}
	return out
}

// Binary builds the native main package in dir (relative to the module
// root), a gRPC test plugin say, and returns the path of the executable,
// cached like WasmPackage's modules.
func Binary(tb testing.TB, dir string) string {
	tb.Helper()
	root := ModuleRoot(tb)
	sum := sourceHash(tb, root, "", dir, "sdk", "sdk/grpc", "sdk/protocol", "sdk/proto/valuescope/plugin/v1")
	out := filepath.Join(os.TempDir(), "valuescope-testplugins", filepath.Base(dir)+"-"+sum)
	defer lockFor(out)()
	if _, err := os.Stat(out); err == nil {
		return out
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		tb.Fatal(err)
	}
	tmp := out + ".tmp"
	cmd := exec.Command("go", "build", "-o", tmp, "./"+filepath.ToSlash(dir))
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("building %s: %v\n%s", dir, err, b)
	}
	if err := os.Rename(tmp, out); err != nil {
		tb.Fatal(err)
	}
	return out
}
