package runfolder

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
)

// Version is valuescope's version. The command sets it from its
// `-ldflags "-X main.version=..."`; when nothing set it, the module version
// stamped by `go install module@version` is used, else "dev". It is read in
// one place (Build) so that `valuescope --version` and every manifest agree.
var Version = ""

// VersionString is the version Build reports, without looking up the
// revision (for `--version`).
func VersionString() string {
	bi, ok := debug.ReadBuildInfo()
	return version(bi, ok)
}

func version(bi *debug.BuildInfo, ok bool) string {
	switch {
	case Version != "":
		return Version
	case ok && bi.Main.Version != "" && bi.Main.Version != "(devel)":
		return bi.Main.Version
	}
	return "dev"
}

// BuildInfo is what built the valuescope that made a run.
type BuildInfo struct {
	Version  string `json:"version"`
	Revision string `json:"revision"`
	Go       string `json:"go"`
}

// Build describes this valuescope: Version, the VCS revision it was built
// from and the Go toolchain.
func Build() BuildInfo {
	b := BuildInfo{Revision: "unknown"}
	bi, ok := debug.ReadBuildInfo()
	if ok {
		b.Go = bi.GoVersion
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				b.Revision = s.Value
			}
		}
	}
	b.Version = version(bi, ok)
	if b.Revision == "unknown" && ownSourceTree() {
		// `go run` does not stamp the revision; the source tree it ran from
		// knows it.
		if out, err := exec.Command("git", "rev-parse", "HEAD").Output(); err == nil {
			b.Revision = strings.TrimSpace(string(out))
			if dirty, _ := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output(); len(bytes.TrimSpace(dirty)) > 0 {
				b.Revision += "+dirty"
			}
		}
	}
	return b
}

// ownSourceTree reports whether the working directory is inside
// valuescope's own source tree (where `go run` runs it): only then is the
// git revision there valuescope's, not that of some repository of the
// user's.
func ownSourceTree() bool {
	top, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	if err != nil {
		return false
	}
	mod, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(top)), "go.mod"))
	return err == nil && bytes.HasPrefix(mod, []byte("module github.com/valuescope/valuescope\n"))
}
