package wasmbuild

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
)

// SourceDigest is the SHA-256 of what decides the behaviour of the packages
// pkgs once compiled to Wasm: the Go version (`go env GOVERSION`, pinned by
// go.mod's toolchain line), the build flags Build uses, and, for each of
// pkgs and the packages they import (for GOOS=wasip1) whose import path
// starts with within (this repository's), its import path and the names and
// contents of its Go and embedded files; for the packages of other modules
// (which go.sum pins), those modules' versions. Test files are left out. It
// is computed by `go list -deps` run in workDir.
func SourceDigest(ctx context.Context, workDir, within string, pkgs ...string) (string, error) {
	env := buildEnv(workDir)
	ver := exec.CommandContext(ctx, "go", "env", "GOVERSION")
	ver.Dir, ver.Env = workDir, env
	goVersion, err := ver.Output()
	if err != nil {
		return "", fmt.Errorf("go env GOVERSION: %w", err)
	}
	cmd := exec.CommandContext(ctx, "go", append([]string{"list", "-deps", "-json=ImportPath,Dir,GoFiles,CgoFiles,EmbedFiles,Module"}, pkgs...)...)
	cmd.Dir, cmd.Env = workDir, env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go list %s: %w\n%s", strings.Join(pkgs, " "), err, stderr.String())
	}
	type listed struct {
		ImportPath                    string
		Dir                           string
		GoFiles, CgoFiles, EmbedFiles []string
		Module                        *struct {
			Path, Version string
			Replace       *struct{ Path, Version string }
		}
	}
	var deps []listed
	modules := map[string]bool{} // other modules' packages count by version
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p listed
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			return "", fmt.Errorf("go list: %w", err)
		}
		switch m := p.Module; {
		case p.ImportPath == within || strings.HasPrefix(p.ImportPath, within+"/"):
			deps = append(deps, p)
		case m != nil:
			v := m.Path + "@" + m.Version
			if m.Replace != nil {
				v += " => " + m.Replace.Path + "@" + m.Replace.Version
			}
			modules[v] = true
		}
	}
	slices.SortFunc(deps, func(a, b listed) int { return strings.Compare(a.ImportPath, b.ImportPath) })
	h := sha256.New()
	fmt.Fprintf(h, "go %s\nflags %s -ldflags=%s\n", strings.TrimSpace(string(goVersion)), buildFlags, ldFlags)
	for _, m := range slices.Sorted(maps.Keys(modules)) {
		fmt.Fprintf(h, "module %s\n", m)
	}
	for _, p := range deps {
		fmt.Fprintf(h, "package %s\n", p.ImportPath)
		files := slices.Concat(p.GoFiles, p.CgoFiles, p.EmbedFiles)
		slices.Sort(files)
		for _, f := range files {
			b, err := os.ReadFile(filepath.Join(p.Dir, filepath.FromSlash(f)))
			if err != nil {
				return "", err
			}
			sum := sha256.Sum256(b)
			fmt.Fprintf(h, "file %s %s\n", f, hex.EncodeToString(sum[:]))
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
