package plugin

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/valuescope/valuescope/host/plugin/grpc"
	"github.com/valuescope/valuescope/host/plugin/wasm"
	"github.com/valuescope/valuescope/plugins"
	"github.com/valuescope/valuescope/sdk/protocol"
)

// Options apply to a plugin whatever its backend.
type Options struct {
	// Config is the stage's config table (JSON) and prompt text.
	Config protocol.ConfigureRequest
	// Instances bounds parallel Wasm instances; default GOMAXPROCS.
	Instances int
	// MemoryLimit bounds a Wasm instance's linear memory, and a gRPC
	// plugin's resident memory (its process and every process it starts,
	// summed, measured every 100 ms on Linux: see package grpc); default
	// 256 MiB.
	MemoryLimit int64
	// Deadline bounds one call. 0 takes the default: 10 s for plugins from a
	// file or a command; none for built-in plugins, which are part of
	// valuescope and checked by the conformance kit. Enforcing a deadline on
	// a Wasm module makes wazero check for it on every loop iteration and
	// call, which costs ~6x on a Go-compiled module's round trip (see the
	// wasm package's benchmarks). Negative: no deadline.
	Deadline time.Duration
	// StartTimeout bounds a plugin's start-up when calls have a deadline:
	// for a Wasm module, instantiation (its start section, _initialize) and
	// vs_abi, vs_describe and vs_configure; for a gRPC command, its start up
	// to the handshake line (the call deadline bounds the health check,
	// Describe and Configure). 0 takes the default, 30 s; negative: none for
	// a Wasm module, the default for a gRPC command. A built-in, run without
	// deadlines, gets none.
	StartTimeout time.Duration
	// Log receives the plugin's stderr; default slog.Default().
	Log *slog.Logger
	// Env is the environment of a Wasm plugin's instances; default empty.
	// A built-in's is set by Load (it names the plugin the shared module
	// serves, see package plugins); tests set it to drive a module built
	// from the built-ins' source.
	Env map[string]string
}

// Info is what a loaded plugin is, for the run manifest.
type Info struct {
	Ref      string            `json:"ref"`
	Manifest protocol.Manifest `json:"manifest"`
	// SHA256 is the digest of the plugin's code: for a .wasm file, of the
	// module's bytes; for a built-in, of its source as `valuescope plugins
	// build` recorded it (plugins.Builtin.SourceSHA256: its package and the
	// packages of valuescope it imports, with the Go version), not of the
	// module it shares with the other built-ins, so that rebuilding that
	// module for one built-in leaves the others' digests (and the run stages
	// fingerprinted with them) unchanged; for a gRPC command, of its
	// program and of every file, or folder of files, that a later argument
	// names (`grpc:python3 plugin.py` covers the python3 executable and
	// plugin.py; see grpc.Fingerprint for the exact rule and its bounds), so
	// that editing a plugin's script changes it; not of what a script loads
	// without naming it on the command line.
	SHA256 string `json:"sha256,omitempty"`
}

// Load loads and configures the plugin a reference names (see the package
// documentation for the forms of reference).
func Load(ctx context.Context, ref string, opts Options) (Plugin, Info, error) {
	info := Info{Ref: ref}
	var p Plugin
	switch {
	case strings.HasPrefix(ref, "builtin:"):
		name := strings.TrimPrefix(ref, "builtin:")
		b, ok := plugins.Lookup(name)
		if !ok {
			return nil, info, fmt.Errorf("unknown built-in plugin %q (built-in: %s)", name, strings.Join(plugins.Names(), ", "))
		}
		src, err := b.SourceSHA256()
		if err != nil {
			return nil, info, fmt.Errorf("built-in plugin %s: %w", name, err)
		}
		if opts.Deadline == 0 {
			opts.Deadline = -1
		}
		wo := wasmOptions(ref, opts)
		wo.Env = b.Env()
		wp, err := wasm.Load(ctx, plugins.Wasm(), wo)
		if err != nil {
			return nil, info, err
		}
		p, info.SHA256 = wp, src
	case strings.HasPrefix(ref, "grpc:"):
		args := strings.Fields(strings.TrimPrefix(ref, "grpc:"))
		if len(args) == 0 {
			return nil, info, fmt.Errorf("plugin %q: no command after grpc:", ref)
		}
		gp, err := grpc.Load(ctx, args, grpc.Options{Name: ref, Deadline: opts.Deadline, StartTimeout: opts.StartTimeout, Config: opts.Config, Log: opts.Log, MemoryLimit: opts.MemoryLimit})
		if err != nil {
			return nil, info, err
		}
		sum, err := grpc.Fingerprint(args)
		if err != nil {
			gp.Close()
			return nil, info, fmt.Errorf("plugin %s: %w", ref, err)
		}
		p, info.SHA256 = gp, sum
	default:
		mod, err := os.ReadFile(ref)
		if err != nil {
			return nil, info, fmt.Errorf("plugin %s: %w", ref, err)
		}
		wp, err := wasm.Load(ctx, mod, wasmOptions(ref, opts))
		if err != nil {
			return nil, info, err
		}
		p, info.SHA256 = wp, wp.SHA256()
	}
	info.Manifest = p.Manifest()
	if err := CheckManifest(info.Manifest); err != nil {
		p.Close()
		return nil, info, fmt.Errorf("plugin %s: %w", ref, err)
	}
	return p, info, nil
}

func wasmOptions(ref string, opts Options) wasm.Options {
	return wasm.Options{
		Name:         ref,
		Instances:    opts.Instances,
		MemoryLimit:  opts.MemoryLimit,
		Deadline:     opts.Deadline,
		StartTimeout: opts.StartTimeout,
		Config:       opts.Config,
		Log:          opts.Log,
		Env:          opts.Env,
	}
}
