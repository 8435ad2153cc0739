// Package wasm runs protocol v1 plugins compiled to WebAssembly, with wazero.
//
// A module is compiled once (and cached on disk, keyed by module hash and
// wazero version), then instantiated as often as conversations are processed
// in parallel: an instance is single-threaded, so each call takes one from a
// pool and gives it back. An instance that traps, overruns its deadline or
// its memory, or answers garbage is closed and replaced; the call fails with
// an error and the next one gets a fresh instance.
//
// The sandbox: no filesystem, no network (WASI preview 1 has none), a fake
// clock and a deterministic random source (wazero's defaults), no
// environment, no arguments. Output written to stdout/stderr goes to the log
// under the plugin's name.
package wasm

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"

	"github.com/valuescope/valuescope/host/plugin/callerr"
	"github.com/valuescope/valuescope/host/plugin/internal/pluginlog"
	"github.com/valuescope/valuescope/sdk/protocol"
)

// Options limit a plugin. Zero values take the defaults.
type Options struct {
	// Name labels log lines and errors; default: the manifest's name.
	Name string
	// Instances bounds the instances alive at once; default GOMAXPROCS.
	Instances int
	// MemoryLimit bounds one instance's linear memory; default 256 MiB.
	MemoryLimit int64
	// Deadline bounds one call into the plugin; default 10 s, negative: none.
	// A deadline makes wazero check the context in loops, which costs a
	// little on every call (see the benchmarks); it is what stops a plugin
	// that loops forever.
	Deadline time.Duration
	// StartTimeout bounds an instance's start-up: instantiation (the
	// module's start section and _initialize) and, at load, vs_abi,
	// vs_encoding, vs_describe and vs_configure together; an instance the
	// pool adds later gets it for its instantiation and vs_configure.
	// Default 30 s; negative: none. It applies only when calls have a
	// deadline (Deadline > 0): that is what makes wazero watch the context,
	// and a plugin run without deadlines (a built-in) is trusted.
	StartTimeout time.Duration
	// MaxOutput bounds one reply (of vs_describe, vs_configure and
	// vs_process); default protocol.MaxReplyBytes.
	MaxOutput int
	// CacheDir holds compiled modules; default the user cache folder.
	// "off" disables the cache.
	CacheDir string
	// Config is handed to every instance's vs_configure.
	Config protocol.ConfigureRequest
	// Log receives the plugin's stdout and stderr; default slog.Default().
	Log *slog.Logger
	// Env is every instance's environment (WASI environ); default empty.
	// The built-in plugins' shared module reads which plugin to serve from
	// it (see package plugins).
	Env map[string]string
}

const (
	defaultMemoryLimit  = 256 << 20
	defaultDeadline     = 10 * time.Second
	defaultStartTimeout = 30 * time.Second
	defaultMaxOutput    = protocol.MaxReplyBytes
	pageSize            = 64 << 10
)

// The exports protocol v1 requires (sdk/ABI.md).
var requiredExports = []string{"vs_abi", "vs_alloc", "vs_describe", "vs_configure", "vs_process"}

// Plugin is a compiled module and its pool of instances.
type Plugin struct {
	name     string
	opts     Options
	rt       wazero.Runtime
	compiled wazero.CompiledModule
	manifest protocol.Manifest
	sha256   string
	encoding uint32 // protocol.EncodingJSON or EncodingProtobuf

	idle   chan *instance // instances ready for a call
	tokens chan struct{}  // one per instance that may exist
	mu     sync.Mutex
	closed bool
}

// instance is one instantiated module. It serves one call at a time.
type instance struct {
	mod                                      api.Module
	abi, encoding, alloc, describe, conf, do api.Function
	stack                                    []uint64
	in                                       []byte // reused request encoding buffer
	out                                      *pluginlog.Writer
}

// Load compiles a module, checks that it speaks protocol v1, reads its
// manifest and configures it. The module's bytes are hashed for the run
// manifest (SHA256).
func Load(ctx context.Context, wasm []byte, opts Options) (*Plugin, error) {
	if opts.Instances <= 0 {
		opts.Instances = runtime.GOMAXPROCS(0)
	}
	if opts.MemoryLimit <= 0 {
		opts.MemoryLimit = defaultMemoryLimit
	}
	if opts.Deadline == 0 {
		opts.Deadline = defaultDeadline
	}
	if opts.StartTimeout == 0 {
		opts.StartTimeout = defaultStartTimeout
	}
	if opts.MaxOutput <= 0 {
		opts.MaxOutput = defaultMaxOutput
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	sum := sha256.Sum256(wasm)
	p := &Plugin{
		name:   opts.Name,
		opts:   opts,
		sha256: hex.EncodeToString(sum[:]),
		idle:   make(chan *instance, opts.Instances),
		tokens: make(chan struct{}, opts.Instances),
	}
	if p.name == "" {
		p.name = "plugin " + p.sha256[:12]
	}
	rc := wazero.NewRuntimeConfig().
		WithMemoryLimitPages(uint32(opts.MemoryLimit / pageSize)).
		WithCloseOnContextDone(opts.Deadline > 0)
	if cache := compilationCache(opts.CacheDir); cache != nil {
		rc = rc.WithCompilationCache(cache)
	}
	p.rt = wazero.NewRuntimeWithConfig(ctx, rc)
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, p.rt); err != nil {
		p.rt.Close(ctx)
		return nil, fmt.Errorf("%s: WASI: %w", p.name, err)
	}
	compiled, err := p.rt.CompileModule(ctx, wasm)
	if err != nil {
		p.rt.Close(ctx)
		return nil, fmt.Errorf("%s: not a valid WebAssembly module: %w", p.name, err)
	}
	p.compiled = compiled
	if err := p.checkImportsExports(); err != nil {
		p.rt.Close(ctx)
		return nil, err
	}
	if err := p.start(ctx); err != nil {
		p.rt.Close(ctx)
		return nil, err
	}
	return p, nil
}

// start makes the first instance, asks it what it is and configures it,
// under the start-up deadline.
func (p *Plugin) start(ctx context.Context) error {
	ctx, cancel := p.startContext(ctx)
	defer cancel()
	inst, err := p.instantiate(ctx, false)
	if err != nil {
		return err
	}
	if err := p.handshake(ctx, inst); err != nil {
		inst.mod.Close(ctx)
		return err
	}
	if err := p.configure(ctx, inst); err != nil {
		inst.mod.Close(ctx)
		return err
	}
	p.tokens <- struct{}{}
	p.idle <- inst
	return nil
}

// startContext is ctx bounded by the start-up deadline, when there is one.
func (p *Plugin) startContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if p.opts.Deadline <= 0 || p.opts.StartTimeout <= 0 {
		return ctx, func() {}
	}
	return context.WithTimeoutCause(ctx, p.opts.StartTimeout, &callerr.StartTimeout{D: p.opts.StartTimeout,
		What: "instantiation, its start section or _initialize, or vs_abi, vs_describe or vs_configure did not return"})
}

// compilationCache opens the on-disk cache of compiled modules. wazero keys
// its entries by module hash and its own version, so an upgraded valuescope
// never reads a stale entry.
func compilationCache(dir string) wazero.CompilationCache {
	if dir == "off" {
		return nil
	}
	if dir == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			return nil
		}
		dir = filepath.Join(base, "valuescope", "wazero")
	}
	cache, err := wazero.NewCompilationCacheWithDir(dir)
	if err != nil {
		return nil
	}
	return cache
}

// checkImportsExports refuses a module that is not a protocol v1 plugin, or
// that imports anything beyond WASI preview 1 — the host offers nothing else.
func (p *Plugin) checkImportsExports() error {
	exports := p.compiled.ExportedFunctions()
	var missing []string
	for _, name := range requiredExports {
		if _, ok := exports[name]; !ok {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		var have []string
		for name := range exports {
			have = append(have, name)
		}
		slices.Sort(have)
		return fmt.Errorf("%s: not a valuescope plugin: missing export(s) %s (exports: %s)",
			p.name, strings.Join(missing, ", "), strings.Join(have, ", "))
	}
	for _, imp := range p.compiled.ImportedFunctions() {
		mod, name, _ := imp.Import()
		if mod != wasi_snapshot_preview1.ModuleName {
			return fmt.Errorf("%s: imports %s.%s; a plugin may import only %s", p.name, mod, name, wasi_snapshot_preview1.ModuleName)
		}
	}
	return nil
}

// instantiate makes a new instance: _initialize runs the guest's
// initialisers, and then (when configure is set) the stored configuration is
// replayed, since every instance keeps its own.
func (p *Plugin) instantiate(ctx context.Context, configure bool) (*instance, error) {
	logw := pluginlog.New(p.opts.Log, p.name)
	cfg := wazero.NewModuleConfig().
		WithName("").
		WithStartFunctions("_initialize").
		WithStdout(logw).
		WithStderr(logw)
	for _, k := range slices.Sorted(maps.Keys(p.opts.Env)) {
		cfg = cfg.WithEnv(k, p.opts.Env[k])
	}
	mod, err := p.rt.InstantiateModule(ctx, p.compiled, cfg)
	if err != nil {
		var exit *sys.ExitError
		if errors.As(err, &exit) {
			err = p.explain(ctx, err)
		}
		return nil, fmt.Errorf("%s: starting an instance: %w", p.name, err)
	}
	inst := &instance{
		mod:      mod,
		abi:      mod.ExportedFunction("vs_abi"),
		encoding: mod.ExportedFunction("vs_encoding"),
		alloc:    mod.ExportedFunction("vs_alloc"),
		describe: mod.ExportedFunction("vs_describe"),
		conf:     mod.ExportedFunction("vs_configure"),
		do:       mod.ExportedFunction("vs_process"),
		stack:    make([]uint64, 2),
		out:      logw,
	}
	if configure {
		if err := p.configure(ctx, inst); err != nil {
			mod.Close(ctx)
			return nil, err
		}
	}
	return inst, nil
}

// handshake checks the ABI version before anything else is asked: an older
// or newer plugin gets a clear refusal, not a confusing decode error.
func (p *Plugin) handshake(ctx context.Context, inst *instance) error {
	res, err := p.call(ctx, inst, inst.abi)
	if err != nil {
		return fmt.Errorf("%s: vs_abi: %w", p.name, err)
	}
	if v := uint32(res); v != protocol.ABI {
		return fmt.Errorf("%s: speaks plugin ABI %d; this host speaks ABI %d (rebuild the plugin against a matching valuescope SDK)", p.name, v, protocol.ABI)
	}
	if inst.encoding != nil {
		res, err := p.call(ctx, inst, inst.encoding)
		if err != nil {
			return fmt.Errorf("%s: vs_encoding: %w", p.name, err)
		}
		p.encoding = uint32(res)
		if p.encoding != protocol.EncodingJSON && p.encoding != protocol.EncodingProtobuf {
			return fmt.Errorf("%s: vs_encoding returned %d; want %d (JSON) or %d (protobuf)", p.name, p.encoding, protocol.EncodingJSON, protocol.EncodingProtobuf)
		}
	}
	out, err := p.reply(ctx, inst, inst.describe)
	if err != nil {
		return fmt.Errorf("%s: vs_describe: %w", p.name, err)
	}
	if err := p.decode(out, &p.manifest); err != nil {
		return fmt.Errorf("%s: vs_describe: malformed manifest: %w", p.name, err)
	}
	if p.opts.Name == "" && p.manifest.Name != "" {
		p.name = p.manifest.Name
	}
	return nil
}

func (p *Plugin) configure(ctx context.Context, inst *instance) error {
	var resp protocol.ConfigureResponse
	if err := p.roundTrip(ctx, inst, inst.conf, &p.opts.Config, &resp); err != nil {
		return fmt.Errorf("%s: vs_configure: %w", p.name, err)
	}
	if err := protocol.CheckError(resp.Error); err != nil {
		return fmt.Errorf("%s: vs_configure: %w", p.name, p.malformed(err))
	}
	if resp.Error != "" {
		return fmt.Errorf("%s: configuration refused: %s", p.name, resp.Error)
	}
	return nil
}

// Manifest returns what the plugin said of itself.
func (p *Plugin) Manifest() protocol.Manifest { return p.manifest }

// SHA256 is the hex digest of the module's bytes.
func (p *Plugin) SHA256() string { return p.sha256 }

// Process runs one round of one conversation in a pooled instance.
func (p *Plugin) Process(ctx context.Context, req *protocol.ProcessRequest) (*protocol.ProcessResponse, error) {
	inst, err := p.get(ctx)
	if err != nil {
		return nil, err
	}
	var resp protocol.ProcessResponse
	if err := p.roundTrip(ctx, inst, inst.do, req, &resp); err != nil {
		p.discard(inst)
		id := ""
		if req.Conversation != nil {
			id = " conversation " + req.Conversation.ID
			var ce *callerr.Error
			if errors.As(err, &ce) {
				ce.Conversation = req.Conversation.ID
			}
		}
		// The Go runtime says on stderr what killed the instance.
		return nil, fmt.Errorf("%s:%s: %w%s", p.name, id, err, inst.out.TailNote())
	}
	p.put(inst)
	return &resp, nil
}

// roundTrip encodes req into the instance's buffer, calls fn on it and
// decodes the reply into resp.
func (p *Plugin) roundTrip(ctx context.Context, inst *instance, fn api.Function, req, resp protocol.ProtoMessage) error {
	in, err := p.encode(inst.in[:0], req)
	if err != nil {
		return err
	}
	inst.in = in
	if _, err := p.callWith(ctx, inst, inst.alloc, uint64(len(in))); err != nil {
		return fmt.Errorf("vs_alloc: %w", err)
	}
	ptr := uint32(inst.stack[0])
	if len(in) > 0 && !inst.mod.Memory().Write(ptr, in) {
		return fmt.Errorf("vs_alloc returned %d, outside memory for %d bytes", ptr, len(in))
	}
	out, err := p.reply(ctx, inst, fn, uint64(ptr), uint64(len(in)))
	if err != nil {
		return err
	}
	if err := p.decode(out, resp); err != nil {
		if len(out) == 0 {
			return p.malformed(errors.New(err.Error()))
		}
		return p.malformed(fmt.Errorf("%s (reply began %q)", err.Error(), truncate(out, 200)))
	}
	return nil
}

func (p *Plugin) encode(b []byte, m protocol.ProtoMessage) ([]byte, error) {
	if p.encoding == protocol.EncodingProtobuf {
		return m.AppendProto(b), nil
	}
	return json.Marshal(m)
}

func (p *Plugin) decode(b []byte, m protocol.ProtoMessage) error {
	if p.encoding == protocol.EncodingProtobuf {
		return m.UnmarshalProto(b)
	}
	return json.Unmarshal(b, m)
}

// reply calls a function returning a packed (pointer, length) and copies the
// bytes out of the instance's memory.
func (p *Plugin) reply(ctx context.Context, inst *instance, fn api.Function, params ...uint64) ([]byte, error) {
	packed, err := p.callWith(ctx, inst, fn, params...)
	if err != nil {
		return nil, err
	}
	ptr, n := uint32(packed>>32), uint32(packed)
	if int(n) > p.opts.MaxOutput {
		return nil, p.malformed(callerr.OverLimit(fmt.Sprintf("reply of %d bytes is over the %d-byte limit", n, p.opts.MaxOutput)))
	}
	view, ok := inst.mod.Memory().Read(ptr, n)
	if !ok {
		return nil, p.malformed(fmt.Errorf("reply at %d+%d is outside the module's memory", ptr, n))
	}
	return bytes.Clone(view), nil
}

func (p *Plugin) call(ctx context.Context, inst *instance, fn api.Function) (uint64, error) {
	return p.callWith(ctx, inst, fn)
}

// callWith calls fn with the deadline, turning wazero's errors into ones a
// plugin author can act on.
func (p *Plugin) callWith(ctx context.Context, inst *instance, fn api.Function, params ...uint64) (uint64, error) {
	if p.opts.Deadline > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, p.opts.Deadline)
		defer cancel()
	}
	stack := inst.stack[:max(len(params), 1)]
	copy(stack, params)
	if err := fn.CallWithStack(ctx, stack); err != nil {
		return 0, p.explain(ctx, err)
	}
	return stack[0], nil
}

func (p *Plugin) explain(ctx context.Context, err error) error {
	var exit *sys.ExitError
	if errors.As(err, &exit) {
		switch exit.ExitCode() {
		case sys.ExitCodeDeadlineExceeded:
			var start *callerr.StartTimeout
			if errors.As(context.Cause(ctx), &start) {
				return p.callError(callerr.Timeout, start)
			}
			if ctx.Err() != nil && errors.Is(context.Cause(ctx), context.DeadlineExceeded) && p.opts.Deadline > 0 {
				return p.callError(callerr.Timeout, fmt.Errorf("did not finish within %s", p.opts.Deadline))
			}
			return p.callError(callerr.Timeout, context.DeadlineExceeded)
		case sys.ExitCodeContextCanceled:
			return p.callError(callerr.Canceled, context.Canceled)
		}
		return p.callError(callerr.Exited, fmt.Errorf("plugin exited with code %d (a Go plugin does this on a fatal error such as running out of its %d MiB memory limit; see its stderr in the log)", exit.ExitCode(), p.opts.MemoryLimit>>20))
	}
	// wazero appends the wasm stack trace, which names no Go functions in a
	// stripped module; the first line says what happened.
	msg, _, _ := strings.Cut(err.Error(), "\n")
	if strings.Contains(msg, "unreachable") {
		msg += fmt.Sprintf(" (a Go plugin ends here on a fatal runtime error: a panic outside Process, or running out of its %d MiB memory limit; its stderr, in the log, says which)", p.opts.MemoryLimit>>20)
	}
	return p.callError(callerr.Trap, errors.New(msg))
}

// callError is a failed call (Process adds the conversation).
func (p *Plugin) callError(kind callerr.Kind, err error) *callerr.Error {
	return &callerr.Error{Plugin: p.name, Kind: kind, Err: err}
}

func (p *Plugin) malformed(err error) *callerr.Error { return p.callError(callerr.Malformed, err) }

// get takes an idle instance, or makes one while fewer than Instances exist,
// or waits for one to come back.
func (p *Plugin) get(ctx context.Context) (*instance, error) {
	select {
	case inst := <-p.idle:
		return inst, nil
	default:
	}
	select {
	case inst := <-p.idle:
		return inst, nil
	case p.tokens <- struct{}{}:
		p.mu.Lock()
		closed := p.closed
		p.mu.Unlock()
		if closed {
			<-p.tokens
			return nil, errClosed
		}
		sctx, cancel := p.startContext(ctx)
		inst, err := p.instantiate(sctx, true)
		cancel()
		if err != nil {
			<-p.tokens
			return nil, err
		}
		return inst, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (p *Plugin) put(inst *instance) { p.idle <- inst }

// discard closes a failed instance and frees its slot for a fresh one.
func (p *Plugin) discard(inst *instance) {
	inst.mod.Close(context.Background())
	<-p.tokens
}

var errClosed = errors.New("plugin closed")

// Close releases every instance and the compiled module.
func (p *Plugin) Close() error {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	for {
		select {
		case inst := <-p.idle:
			inst.mod.Close(context.Background())
		default:
			return p.rt.Close(context.Background())
		}
	}
}

func truncate(b []byte, n int) string {
	if len(b) > n {
		b = b[:n]
	}
	return string(b)
}
