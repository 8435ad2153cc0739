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
	"strings"
)

// buildFlags and ldFlags are how Build compiles (SourceDigest covers them).
const (
	buildFlags = "-buildmode=c-shared -trimpath -buildvcs=false"
	ldFlags    = "-s -w -buildid="
)

// Build compiles the main package in dir (a path or import path understood
// by `go build` run from workDir) to the .wasm file out. extraLDFlags are
// appended to the linker flags (e.g. "-X main.abi=2").
func Build(ctx context.Context, workDir, pkg, out string, extraLDFlags string) error {
	ldflags := ldFlags
	if extraLDFlags != "" {
		ldflags += " " + extraLDFlags
	}
	abs, err := filepath.Abs(out)
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, "go", append(append([]string{"build"}, strings.Fields(buildFlags)...),
		"-ldflags="+ldflags, "-o", abs, pkg)...)
	cmd.Dir = workDir
	cmd.Env = buildEnv(workDir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("building %s to wasm: %w\n%s", pkg, err, stderr.String())
	}
	return nil
}

// buildEnv is the environment of the go commands: Wasm, and the exact Go
// toolchain go.mod's go line names (GOTOOLCHAIN, which the go command
// downloads when the local one differs), so that a build is reproducible
// anywhere. (go.mod has no toolchain line: one equal to the go line is
// redundant, and go mod tidy removes it; and it would only be a minimum.)
func buildEnv(workDir string) []string {
	env := append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0", "GOFLAGS=")
	if v := goLine(workDir); strings.Count(v, ".") == 2 {
		env = append(env, "GOTOOLCHAIN=go"+v)
	}
	return env
}

// goLine is the version go.mod's go line names in dir, or "".
func goLine(dir string) string {
	b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		return ""
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "go "); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
