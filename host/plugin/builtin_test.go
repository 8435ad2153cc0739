package plugin_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/valuescope/valuescope/host/plugin"
	"github.com/valuescope/valuescope/plugins"
)

// Every built-in loads from the one shared module, serves the plugin its
// name picks, and reports its own source digest (what a run's stage
// fingerprint hashes), not the shared module's: rebuilding the module for
// one built-in leaves the others' digests alone (the digests' own
// behaviour is tested in internal/wasmbuild).
func TestBuiltinsShareOneModule(t *testing.T) {
	sum := sha256.Sum256(plugins.Wasm())
	moduleSHA := hex.EncodeToString(sum[:])
	seen := map[string]string{}
	for _, b := range plugins.All {
		p, info, err := plugin.Load(context.Background(), "builtin:"+b.Name, plugin.Options{Log: quiet, Instances: 1})
		if err != nil {
			t.Fatalf("%s: %v", b.Name, err)
		}
		p.Close()
		if info.Manifest.Name != b.Name {
			t.Errorf("builtin:%s serves %q", b.Name, info.Manifest.Name)
		}
		src, err := b.SourceSHA256()
		if err != nil {
			t.Fatal(err)
		}
		if info.SHA256 != src || src == moduleSHA {
			t.Errorf("%s: SHA256 %s, want its source digest %s (module %s)", b.Name, info.SHA256, src, moduleSHA)
		}
		if other, ok := seen[src]; ok {
			t.Errorf("%s and %s share a source digest", b.Name, other)
		}
		seen[src] = b.Name
	}
}

// The shared module loaded as a file, without a built-in's name in its
// environment, serves nothing and is refused with a clear error.
func TestBuiltinsModuleWithoutName(t *testing.T) {
	path := filepath.Join(t.TempDir(), "builtins.wasm")
	if err := os.WriteFile(path, plugins.Wasm(), 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, err := plugin.Load(context.Background(), path, plugin.Options{Log: quiet})
	if err == nil || !strings.Contains(err.Error(), "load it as builtin:NAME") {
		t.Fatalf("got %v", err)
	}
	p, info, err := plugin.Load(context.Background(), path, plugin.Options{Log: quiet, Env: map[string]string{plugins.EnvVar: "cue-values"}})
	if err != nil {
		t.Fatal(err)
	}
	p.Close()
	if info.Manifest.Name != "cue-values" || info.SHA256 != hex.EncodeToString(func() []byte { s := sha256.Sum256(plugins.Wasm()); return s[:] }()) {
		t.Fatalf("as a file: %s, %s", info.Manifest.Name, info.SHA256)
	}
}
