// Package wasmbuild compiles Go plugin packages to WebAssembly modules:
// `valuescope plugins build` uses it for the built-in plugins, and tests use
// it for the plugins they drive. Builds are reproducible — the same source
// and Go version give the same bytes — so committed modules can be checked
// against their source.
package wasmbuild

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// Build compiles the main package in dir (a path or import path understood
// by `go build` run from workDir) to the .wasm file out. extraLDFlags are
// appended to the linker flags (e.g. "-X main.abi=2").
func Build(ctx context.Context, workDir, pkg, out string, extraLDFlags string) error {
	ldflags := "-s -w -buildid="
	if extraLDFlags != "" {
		ldflags += " " + extraLDFlags
	}
	abs, err := filepath.Abs(out)
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-buildmode=c-shared", "-trimpath", "-buildvcs=false",
		"-ldflags="+ldflags, "-o", abs, pkg)
	cmd.Dir = workDir
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0", "GOFLAGS=")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("building %s to wasm: %w\n%s", pkg, err, stderr.String())
	}
	return nil
}
