//go:build linux

package plugin_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/valuescope/valuescope/host/plugin"
	"github.com/valuescope/valuescope/internal/testplugins"
	"github.com/valuescope/valuescope/sdk/protocol"
)

// A gRPC plugin's SHA256 covers the script its command names: an edited
// script is a new fingerprint, the same content the same one.
func TestGRPCFingerprintCoversScript(t *testing.T) {
	bin := testplugins.Binary(t, "host/plugin/grpc/testdata/goplugin")
	script := filepath.Join(t.TempDir(), "run.sh")
	write := func(content string) {
		t.Helper()
		if err := os.WriteFile(script, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	sha := func() string {
		t.Helper()
		p, info, err := plugin.Load(context.Background(), "grpc:/bin/sh "+script, plugin.Options{Log: quiet, Config: protocol.ConfigureRequest{ConfigJSON: `{"mode": "echo"}`}})
		if err != nil {
			t.Fatal(err)
		}
		p.Close()
		if len(info.SHA256) != 64 {
			t.Fatalf("SHA256 %q", info.SHA256)
		}
		return info.SHA256
	}
	write("exec " + bin + "\n")
	first := sha()
	write("exec " + bin + "\n")
	if again := sha(); again != first {
		t.Fatalf("same script, other SHA256: %s, was %s", again, first)
	}
	write("# edited\nexec " + bin + "\n")
	if edited := sha(); edited == first {
		t.Fatal("an edited script kept the SHA256")
	}
}

// plugin.Options.MemoryLimit bounds a gRPC plugin too.
func TestGRPCMemoryLimit(t *testing.T) {
	bin := testplugins.Binary(t, "host/plugin/grpc/testdata/goplugin")
	p, _, err := plugin.Load(context.Background(), "grpc:"+bin, plugin.Options{Log: quiet, MemoryLimit: 128 << 20,
		Config: protocol.ConfigureRequest{ConfigJSON: `{"mode": "alloc"}`}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	_, err = plugin.Annotate(context.Background(), p, conv, nil, 0)
	var ce *plugin.CallError
	if !errors.As(err, &ce) || ce.Kind != plugin.Crashed || !strings.Contains(err.Error(), "exceeded its 128 MiB memory limit") {
		t.Fatalf("got %v", err)
	}
}
