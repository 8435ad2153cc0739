// Package grpc runs protocol v1 plugins as subprocesses speaking gRPC, through
// hashicorp/go-plugin. A Go plugin is built with sdk/grpc; a plugin in any
// other language speaks the same handshake and service (see
// sdk/examples/python).
//
// Load starts the command, checks the go-plugin handshake (magic cookie,
// protocol version = the plugin ABI, gRPC only) and the standard gRPC health
// service, reads the manifest (refusing another ABI) and configures the
// plugin. Process then sends it one round of one conversation; calls run
// concurrently over the one connection.
//
// Failures fail the call they happen in, with an error naming the plugin and
// the conversation, and never the host:
//
//   - the process dies (crash, killed, over its memory limit): the call in
//     flight fails with a call error (callerr.Error, which is
//     plugin.CallError) of kind Crashed giving its exit status and the end
//     of its stderr, and the next call starts a new process (describe,
//     check, configure again). When several calls were in flight, which one
//     killed the process is not known: each is run once more, alone in a
//     new process, so that only the calls that crash a process fail;
//   - a call overruns the deadline: it fails with kind Timeout. A plugin
//     cannot be told to stop a call (sdk.Plugin.Process takes no context), so
//     the process is retired: new calls go to a fresh one, and the old one is
//     killed as soon as its other calls in flight have ended;
//   - restarts are serialized; the calls that need a process wait for the
//     restart under way (within their context) rather than fail. A process
//     that was given a call is restarted at once (the call it died in is
//     its failure); one that died before any call, after a backoff that
//     doubles with each such death in a row (Options.Backoff, MaxBackoff). A plugin that crashes on some
//     conversations is so restarted as often as it crashes; one that cannot
//     start (Options.MaxStartFailures restarts in a row failed) is given up
//     on, and every later call fails at once with ErrCannotRestart.
//
// A plugin process runs in a process group of its own, and its children are
// killed with it whenever it ends (retired, crashed, killed over its memory,
// closed, or a load cancelled while it starts): a plugin leaves no process
// behind. On Linux, when the host may make cgroups in the cgroup v2
// hierarchy (root, or a delegated subtree), each process starts in a cgroup
// of its own, which holds every descendant whatever it does (setsid, double
// fork); without one, the descendants are found under /proc every 100 ms
// and at the kill, so a child that leaves the process group and whose
// parent exits within those 100 ms escapes. On other Unix systems only the
// process group is killed; on Windows, only the process. The host reads the
// plugin's stdout and stderr itself and closes them shortly after the
// process exited, so a child still holding them cannot keep Close (or the
// handling of a crash) waiting.
//
// Options.MemoryLimit bounds the memory of a process and its children:
// their proportional set sizes (Pss: a page shared by n of them counts 1/n
// in each), summed, measured every 100 ms (Linux only; elsewhere it is
// not enforced): over it, the process is killed, and the calls in flight
// fail saying so. Memory allocated faster than it is measured may exceed
// the limit by what can be touched in 100 ms; PeakMemory reports the
// highest measured.
//
// The plugin's stderr (and the stdout and stderr of a Go plugin, which
// go-plugin forwards) goes to the log, a line at a time, under its name.
package grpc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	goplugin "github.com/hashicorp/go-plugin"
	grpcgo "google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/valuescope/valuescope/host/plugin/callerr"
	"github.com/valuescope/valuescope/host/plugin/internal/pluginlog"
	"github.com/valuescope/valuescope/host/plugin/internal/printable"
	"github.com/valuescope/valuescope/internal/ctxsleep"
	sdkgrpc "github.com/valuescope/valuescope/sdk/grpc"
	pluginv1 "github.com/valuescope/valuescope/sdk/proto/valuescope/plugin/v1"
	"github.com/valuescope/valuescope/sdk/protocol"
)

// Options configure a plugin. Zero values take the defaults.
type Options struct {
	// Name labels log lines and errors; default: the manifest's name.
	Name string
	// Deadline bounds one call into the plugin (Process, and Describe and
	// Configure at start); default 10 s, negative: none. A call that overruns
	// it costs a process restart (see the package comment).
	Deadline time.Duration
	// StartTimeout bounds the start of a process: up to its handshake
	// line, and the health check, Describe and Configure after it; default
	// 30 s. A start that overruns it fails with a *callerr.StartTimeout.
	StartTimeout time.Duration
	// Config is handed to every process the plugin runs in, at its start.
	Config protocol.ConfigureRequest
	// Log receives the plugin's stderr and the restarts; default slog.Default().
	Log *slog.Logger
	// MemoryLimit bounds the resident memory of a plugin process and of every
	// process it starts, summed (Linux; see the package comment); default
	// 256 MiB, negative: none.
	MemoryLimit int64
	// MaxStartFailures is how many restarts in a row may fail (the process
	// does not come up, or does not answer its health check, Describe or
	// Configure) before the plugin is given up on: every later call then
	// fails at once with ErrCannotRestart. Default 3.
	MaxStartFailures int
	// Backoff is the wait before restarting a process that died before it
	// was given any call, or failed to start, doubled for each further one in
	// a row, up to MaxBackoff; a process that was given a call is restarted
	// at once. Defaults 100 ms and 5 s.
	Backoff, MaxBackoff time.Duration
}

const (
	defaultDeadline         = 10 * time.Second
	defaultStartTimeout     = 30 * time.Second
	defaultMemoryLimit      = 256 << 20
	defaultMaxStartFailures = 3
	defaultBackoff          = 100 * time.Millisecond
	defaultMaxBackoff       = 5 * time.Second
)

// Plugin is a plugin subprocess, restarted when it dies. It is safe for
// concurrent use.
type Plugin struct {
	name     string
	command  []string
	opts     Options
	manifest protocol.Manifest

	// life is cancelled by Close: it ends a restart under way.
	life   context.Context
	cancel context.CancelFunc
	gate   gate // a call retried alone holds it exclusively

	mu         sync.Mutex
	cur        *proc              // where new calls go; nil once it died or was retired
	procs      map[*proc]struct{} // every process not yet killed
	restarting chan struct{}      // closed when the restart under way ends; nil when none is
	fruitless  int                // processes in a row that died before any call, or did not start
	startFails int                // restarts in a row that failed
	broken     error              // set once startFails reached MaxStartFailures
	lastExit   string             // why the last process was retired
	restarts   int
	peak       int64 // the highest resident memory of a process that ended
	closed     bool
	kills      sync.WaitGroup
}

// proc is one running subprocess.
type proc struct {
	client *goplugin.Client
	r      *procRunner
	rpc    pluginv1.PluginClient
	pid    int
	out    *pluginlog.Writer

	// guarded by Plugin.mu
	inflight int
	called   bool // was given a call
	retired  bool
	killed   bool
	// atDeath is how many calls were in flight when the process was found
	// dead (by the first of them to fail); 0 until then.
	atDeath int
}

// Load starts the plugin command (command[0] is the program, looked up in
// PATH when it has no slash), checks that it speaks protocol v1, reads its
// manifest and configures it. When ctx ends first, Load returns at once and
// the process is killed, with its children.
func Load(ctx context.Context, command []string, opts Options) (*Plugin, error) {
	if len(command) == 0 || command[0] == "" {
		return nil, errors.New("grpc plugin: empty command")
	}
	if opts.Deadline == 0 {
		opts.Deadline = defaultDeadline
	}
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = defaultStartTimeout
	}
	if opts.MemoryLimit == 0 {
		opts.MemoryLimit = defaultMemoryLimit
	}
	if opts.MemoryLimit < 0 {
		opts.MemoryLimit = 0
	}
	if opts.MaxStartFailures <= 0 {
		opts.MaxStartFailures = defaultMaxStartFailures
	}
	if opts.Backoff <= 0 {
		opts.Backoff = defaultBackoff
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = defaultMaxBackoff
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	p := &Plugin{
		name:    opts.Name,
		command: slices.Clone(command),
		opts:    opts,
		procs:   map[*proc]struct{}{},
	}
	if p.name == "" {
		p.name = filepath.Base(command[0])
	}
	pr, m, err := p.launch(ctx)
	if err != nil {
		return nil, err
	}
	if opts.Name == "" && m.Name != "" {
		p.name = m.Name
	}
	p.manifest = m
	p.cur = pr
	p.procs[pr] = struct{}{}
	p.life, p.cancel = context.WithCancel(context.Background())
	return p, nil
}

// launch starts a process and brings it to the point where it takes calls:
// handshake, health, manifest, configuration.
func (p *Plugin) launch(ctx context.Context) (*proc, protocol.Manifest, error) {
	// One start-up deadline over the whole start, as for a Wasm module: the
	// process up to its handshake line, then the health check, Describe and
	// Configure (each under the call deadline too).
	parent := ctx
	ctx, cancelStart := context.WithTimeoutCause(ctx, p.opts.StartTimeout, &callerr.StartTimeout{D: p.opts.StartTimeout,
		What: "its handshake line, the health check, Describe or Configure did not come"})
	defer cancelStart()
	r := newProcRunner(p.command, p.opts.MemoryLimit)
	out := pluginlog.New(p.opts.Log, p.name)
	client := goplugin.NewClient(&goplugin.ClientConfig{
		HandshakeConfig:  sdkgrpc.Handshake,
		VersionedPlugins: map[int]goplugin.PluginSet{int(sdkgrpc.Handshake.ProtocolVersion): sdkgrpc.Plugins(nil)},
		RunnerFunc:       r.runnerFunc,
		AllowedProtocols: []goplugin.Protocol{goplugin.ProtocolGRPC},
		// go-plugin's own, a moment after ours: ours names the cause.
		StartTimeout: p.opts.StartTimeout + time.Second,
		Stderr:       out,
		SyncStdout:   out,
		SyncStderr:   out,
		Logger:       newHCLogger(p.opts.Log.With("plugin", p.name), commandName(p.command)),
		// A reply is at most protocol.MaxReplyBytes (sdk/ABI.md, "Limits"):
		// a bigger one fails its call (ResourceExhausted) before it is read
		// whole. A request carries a whole conversation.
		GRPCDialOptions: []grpcgo.DialOption{grpcgo.WithDefaultCallOptions(
			grpcgo.MaxCallRecvMsgSize(protocol.MaxReplyBytes), grpcgo.MaxCallSendMsgSize(sdkgrpc.MaxMessageSize))},
	})
	pr := &proc{client: client, r: r, out: out}
	fail := func(err error) (*proc, protocol.Manifest, error) {
		pr.kill()
		return nil, protocol.Manifest{}, err
	}

	// go-plugin's Start takes no context: run it aside, and when ctx ends
	// first, kill the process (and its children) at once, which ends Start,
	// and let go-plugin clean up after it in the background.
	type started struct {
		rpc  goplugin.ClientProtocol
		err  error
		impl pluginv1.PluginClient
	}
	done := make(chan started, 1)
	go func() {
		var s started
		if s.rpc, s.err = client.Client(); s.err == nil {
			var raw any
			if raw, s.err = s.rpc.Dispense(sdkgrpc.PluginName); s.err == nil {
				s.impl = raw.(pluginv1.PluginClient)
			}
		}
		done <- s
	}()
	var s started
	select {
	case s = <-done:
	case <-ctx.Done():
		_ = r.Kill(context.Background())
		go func() { <-done; client.Kill() }()
		return nil, protocol.Manifest{}, fmt.Errorf("%s: starting %s: %w", p.name, p.command[0], p.startCause(parent, ctx))
	}
	if s.err != nil {
		return fail(p.startError(pr, s.err))
	}
	pr.rpc = s.impl
	pr.pid = r.PID()
	r.track()

	// Health: go-plugin's Ping has no deadline; a server that accepts and
	// never answers must not hang the load.
	if conn, ok := s.rpc.(*goplugin.GRPCClient); ok {
		hctx, cancel := p.callContext(ctx)
		h, err := grpc_health_v1.NewHealthClient(conn.Conn).Check(hctx, &grpc_health_v1.HealthCheckRequest{Service: goplugin.GRPCServiceName})
		cancel()
		if err != nil && ctx.Err() != nil {
			err = p.startCause(parent, ctx)
		}
		switch {
		case err != nil:
			return fail(fmt.Errorf("%s: health check (grpc.health.v1.Health/Check, service %q): %w%s", p.name, goplugin.GRPCServiceName, err, pr.out.TailNote()))
		case h.GetStatus() != grpc_health_v1.HealthCheckResponse_SERVING:
			return fail(fmt.Errorf("%s: health check: status %s, want SERVING", p.name, h.GetStatus()))
		}
	}

	dctx, cancel := p.callContext(ctx)
	pm, err := pr.rpc.Describe(dctx, &pluginv1.DescribeRequest{})
	cancel()
	if err != nil {
		return fail(fmt.Errorf("%s: Describe: %w", p.name, p.callError(ctx, dctx, pr, err)))
	}
	m := sdkgrpc.FromProtoManifest(pm)
	name := p.name
	if p.opts.Name == "" && m.Name != "" {
		name = m.Name
		out.SetName(name)
	}
	if m.ABI != protocol.ABI {
		return fail(fmt.Errorf("%s: speaks plugin ABI %d; this host speaks ABI %d (rebuild the plugin against a matching valuescope SDK)", name, m.ABI, protocol.ABI))
	}

	cctx, cancel := p.callContext(ctx)
	cr, err := pr.rpc.Configure(cctx, sdkgrpc.ToProtoConfigureRequest(p.opts.Config))
	cancel()
	if err != nil {
		return fail(fmt.Errorf("%s: Configure: %w", name, p.callError(ctx, cctx, pr, err)))
	}
	if err := protocol.CheckError(cr.GetError()); err != nil {
		return fail(fmt.Errorf("%s: Configure: %w", name, p.failed(callerr.Malformed, err)))
	}
	if e := cr.GetError(); e != "" {
		return fail(fmt.Errorf("%s: configuration refused: %s", name, e))
	}
	return pr, m, nil
}

var pluginVersion = regexp.MustCompile(`Plugin version: (\d+)`)

// startError explains a failed start: another protocol version, an exit
// before the handshake line (with the end of its stderr), and so on.
func (p *Plugin) startError(pr *proc, err error) error {
	msg := err.Error()
	if strings.Contains(msg, "incompatible API version") {
		v := "another"
		if m := pluginVersion.FindStringSubmatch(msg); m != nil {
			v = m[1]
		}
		return fmt.Errorf("%s: speaks plugin protocol version %s; this host speaks version %d (the go-plugin handshake's ProtocolVersion is the plugin ABI: rebuild the plugin against a matching valuescope SDK)",
			p.name, v, sdkgrpc.Handshake.ProtocolVersion)
	}
	line, unrecognized := strings.CutPrefix(msg, "Unrecognized remote plugin message: ")
	line, _, _ = strings.Cut(line, "\n")
	if unrecognized && line != "" {
		return fmt.Errorf("%s: starting %s: its first line on stdout, %q, is not a go-plugin handshake (want \"1|%d|tcp|127.0.0.1:PORT|grpc\"); is it a valuescope plugin?%s",
			p.name, p.command[0], line, sdkgrpc.Handshake.ProtocolVersion, pr.out.TailNote())
	}
	if unrecognized || pr.r.hasExited() || strings.Contains(msg, "exited before we could connect") {
		if pr.waitExit(time.Second) {
			return fmt.Errorf("%s: starting %s: the process exited (%s) before its handshake; is it a valuescope plugin?%s", p.name, p.command[0], pr.r.exitStatus(), pr.out.TailNote())
		}
		return fmt.Errorf("%s: starting %s: the process closed its stdout without a handshake line; is it a valuescope plugin?%s", p.name, p.command[0], pr.out.TailNote())
	}
	return fmt.Errorf("%s: starting %s: %w%s", p.name, p.command[0], err, pr.out.TailNote())
}

func (p *Plugin) callContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if p.opts.Deadline > 0 {
		return context.WithTimeout(ctx, p.opts.Deadline)
	}
	return context.WithCancel(ctx)
}

// startCause is why a start's context ended: its start-up deadline (a call
// error of kind Timeout: the plugin is to blame), or the caller's end.
func (p *Plugin) startCause(parent, ctx context.Context) error {
	var st *callerr.StartTimeout
	if parent.Err() == nil && errors.As(context.Cause(ctx), &st) {
		return p.failed(callerr.Timeout, st)
	}
	return context.Cause(ctx)
}

// Manifest returns what the plugin said of itself.
func (p *Plugin) Manifest() protocol.Manifest { return p.manifest }

// PID is the process id of the running subprocess; 0 when none runs (it
// died and no call has restarted it yet).
func (p *Plugin) PID() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cur == nil || p.cur.r.hasExited() {
		return 0
	}
	return p.cur.pid
}

// PeakMemory is the highest resident memory measured of one of the plugin's
// processes with its children (summed, as MemoryLimit counts it), over every
// process the plugin ran in so far; 0 where it is not measured (see the
// package comment).
func (p *Plugin) PeakMemory() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	peak := p.peak
	for pr := range p.procs {
		peak = max(peak, pr.r.peak.Load())
	}
	return peak
}

// Restarts is how many processes the plugin started after its first.
func (p *Plugin) Restarts() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.restarts
}

// Process runs one round of one conversation in the subprocess, starting a
// new one first when the last died (waiting for it, within ctx). When the
// process dies with other calls in flight, which of them killed it is not
// known: each is run once more, alone in a new process, and fails only if
// it kills that one too.
func (p *Plugin) Process(ctx context.Context, req *protocol.ProcessRequest) (*protocol.ProcessResponse, error) {
	resp, err, again := p.call(ctx, req, false)
	if again {
		p.opts.Log.Info("plugin process died with other calls in flight: retrying the call alone", "plugin", p.name, "conversation", conversationID(req))
		resp, err, _ = p.call(ctx, req, true)
	}
	return resp, err
}

// call is one try of Process; alone, it runs with no other call in flight.
// again says whether the call failed because its process died with other
// calls in flight (and was not alone).
func (p *Plugin) call(ctx context.Context, req *protocol.ProcessRequest, alone bool) (_ *protocol.ProcessResponse, _ error, again bool) {
	if err := p.gate.lock(ctx, alone); err != nil {
		return nil, p.wrap(req, p.failed(callerr.Canceled, err)), false
	}
	defer p.gate.unlock(alone)
	pr, err := p.acquire(ctx)
	if err != nil {
		return nil, p.wrap(req, err), false
	}
	callCtx, cancel := p.callContext(ctx)
	defer cancel()
	resp, err := pr.rpc.Process(callCtx, sdkgrpc.ToProtoProcessRequest(req))
	if err != nil {
		err = p.callError(ctx, callCtx, pr, err)
		p.mu.Lock()
		shared := pr.atDeath > 1
		p.mu.Unlock()
		p.release(pr)
		var ce *callerr.Error
		again = !alone && shared && errors.As(err, &ce) && ce.Kind == callerr.Crashed
		return nil, p.wrap(req, err), again
	}
	p.release(pr)
	return sdkgrpc.FromProtoProcessResponse(resp), nil, false
}

func conversationID(req *protocol.ProcessRequest) string {
	if req == nil || req.Conversation == nil {
		return ""
	}
	return req.Conversation.ID
}

func (p *Plugin) wrap(req *protocol.ProcessRequest, err error) error {
	id := ""
	if req != nil && req.Conversation != nil {
		id = " conversation " + req.Conversation.ID
		var ce *callerr.Error
		if errors.As(err, &ce) {
			ce.Conversation = req.Conversation.ID
		}
	}
	return fmt.Errorf("%s:%s: %w", p.name, id, err)
}

// callError explains a failed call and retires the process when it cannot
// serve the next one.
func (p *Plugin) callError(ctx, callCtx context.Context, pr *proc, err error) error {
	st, _ := status.FromError(err)
	// The status message is the plugin's own text (an exception's message,
	// say): escaped and cut, like a reply's error (protocol.MaxErrorBytes).
	msg := printable.String(st.Message(), protocol.MaxErrorBytes)
	p.mu.Lock()
	closed := p.closed
	p.mu.Unlock()
	switch {
	case closed:
		return ErrClosed
	case ctx.Err() != nil:
		// The caller gave up (the process is not to blame), or, in a start,
		// the start-up deadline passed.
		var st *callerr.StartTimeout
		if errors.As(context.Cause(ctx), &st) {
			return p.failed(callerr.Timeout, st)
		}
		return p.failed(callerr.Canceled, context.Cause(ctx))
	case errors.Is(callCtx.Err(), context.DeadlineExceeded) || st.Code() == codes.DeadlineExceeded:
		// (The server side may see the deadline, sent along with the call,
		// pass a moment before this side does.)
		if d, ok := ctx.Deadline(); ok {
			if own, _ := callCtx.Deadline(); !own.Before(d) {
				// The caller's deadline (a start's is a StartTimeout), which
				// the call saw pass a moment before ctx did: wait for ctx to
				// end and say why.
				if wait := time.Until(d); wait < time.Second {
					select {
					case <-ctx.Done():
					case <-time.After(wait + 100*time.Millisecond):
					}
				}
				if ctx.Err() != nil {
					return p.callError(ctx, callCtx, pr, err)
				}
				return p.failed(callerr.Canceled, context.DeadlineExceeded)
			}
		}
		p.retire(pr, fmt.Sprintf("a call overran the %s deadline", p.opts.Deadline))
		return p.failed(callerr.Timeout, fmt.Errorf("did not finish within %s (the plugin process is replaced: a call in a plugin cannot be stopped otherwise)", p.opts.Deadline))
	case st.Code() == codes.Unavailable || st.Code() == codes.Canceled || pr.r.hasExited():
		p.mu.Lock()
		if pr.atDeath == 0 {
			pr.atDeath = pr.inflight
		}
		p.mu.Unlock()
		if over := pr.r.overMem.Load(); over > 0 {
			pr.waitExit(2 * time.Second)
			p.retire(pr, fmt.Sprintf("exceeded its %d MiB memory limit", p.opts.MemoryLimit>>20))
			return p.failed(callerr.Crashed, overMemory(fmt.Sprintf("the plugin process (pid %d) exceeded its %d MiB memory limit (resident memory %d MiB, with its children) and was killed during the call; the next call restarts it%s",
				pr.pid, p.opts.MemoryLimit>>20, over>>20, pr.out.TailNote())))
		}
		if pr.waitExit(2 * time.Second) {
			why := "the process exited: " + pr.r.exitStatus()
			p.retire(pr, why)
			return p.failed(callerr.Crashed, fmt.Errorf("the plugin process (pid %d) died during the call (%s); the next call restarts it%s", pr.pid, pr.r.exitStatus(), pr.out.TailNote()))
		}
		p.retire(pr, "lost the connection: "+msg)
		return p.failed(callerr.Crashed, fmt.Errorf("lost the connection to the plugin process (pid %d): %s; the next call restarts it", pr.pid, msg))
	case st.Code() == codes.ResourceExhausted:
		return p.failed(callerr.Malformed, callerr.OverLimit(fmt.Sprintf("protocol violation: the reply is over the %d MiB limit (protocol.MaxReplyBytes): %s", protocol.MaxReplyBytes>>20, msg)))
	case st.Code() == codes.Internal && strings.Contains(st.Message(), "unmarshal"):
		return p.failed(callerr.Malformed, errors.New(msg))
	}
	// The plugin's own handler failed (an exception in a Python plugin, say):
	// that call fails, the process goes on.
	return p.failed(callerr.HandlerFailed, fmt.Errorf("the plugin's handler failed: %s: %s", st.Code(), msg))
}

// acquire returns the process to call, waiting for a restart when needed
// (one restart at a time, shared by the calls that wait for it).
func (p *Plugin) acquire(ctx context.Context) (*proc, error) {
	for {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return nil, ErrClosed
		}
		if p.broken != nil {
			err := p.broken
			p.mu.Unlock()
			return nil, err
		}
		if pr := p.cur; pr != nil {
			if !pr.r.hasExited() {
				pr.inflight++
				pr.called = true
				p.mu.Unlock()
				return pr, nil
			}
			p.retireLocked(pr, "the process exited: "+pr.r.exitStatus())
		}
		if p.restarting == nil {
			p.restarting = make(chan struct{})
			go p.restart(p.restarting)
		}
		wait := p.restarting
		p.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return nil, p.failed(callerr.Canceled, fmt.Errorf("waiting for the plugin process to restart: %w", context.Cause(ctx)))
		}
	}
}

func (p *Plugin) release(pr *proc) {
	p.mu.Lock()
	defer p.mu.Unlock()
	pr.inflight--
	p.maybeKillLocked(pr)
}

// restart starts a new process, after the backoff, and closes done. It runs
// on its own, not under a caller's context: a caller that gives up does not
// end a restart the others wait for; Close does.
func (p *Plugin) restart(done chan struct{}) {
	p.mu.Lock()
	delay := p.backoffLocked()
	p.restarts++
	n, last := p.restarts, p.lastExit
	p.mu.Unlock()
	p.opts.Log.Warn("restarting plugin", "plugin", p.name, "reason", last, "restart", n, "backoff", delay)

	err := ctxsleep.Sleep(p.life, delay)
	var pr *proc
	if err == nil {
		var m protocol.Manifest
		pr, m, err = p.launch(p.life)
		if err == nil && !m.Equal(p.manifest) {
			pr.kill()
			pr, err = nil, fmt.Errorf("the plugin's manifest changed (was %+v, now %+v); was its program replaced?", p.manifest, m)
		}
	}

	p.mu.Lock()
	defer close(done)
	defer p.mu.Unlock()
	p.restarting = nil
	switch {
	case p.closed:
		if pr != nil {
			p.kills.Go(pr.kill) // Close waits for it
		}
	case err != nil:
		p.startFails++
		p.fruitless++
		p.lastExit = "restart failed: " + err.Error()
		p.opts.Log.Warn("restarting plugin failed", "plugin", p.name, "error", err, "failures_in_a_row", p.startFails)
		if p.startFails >= p.opts.MaxStartFailures {
			p.broken = fmt.Errorf("%w: %d restarts in a row failed; the last: %w", ErrCannotRestart, p.startFails, err)
		}
	default:
		p.startFails = 0
		p.cur = pr
		p.procs[pr] = struct{}{}
	}
}

// backoffLocked is the wait before the next restart: none after a process
// that was given a call; Backoff·2^(n-1), at most MaxBackoff, after n
// processes in a row that died before any call or did not start.
func (p *Plugin) backoffLocked() time.Duration {
	n := p.fruitless
	if n == 0 {
		return 0
	}
	d := p.opts.Backoff
	for i := 1; i < n && d < p.opts.MaxBackoff; i++ {
		d *= 2
	}
	return min(d, p.opts.MaxBackoff)
}

func (p *Plugin) retire(pr *proc, why string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.retireLocked(pr, why)
}

// retireLocked stops sending calls to pr; it is killed once the calls in
// flight in it have ended.
func (p *Plugin) retireLocked(pr *proc, why string) {
	if p.cur == pr {
		p.cur = nil
		p.lastExit = why
		// A process that died in a call is that call's failure: it is
		// restarted at once (each restart is taken by a conversation, and a
		// stage failing for most of them stops the run). Backoff is for one
		// that died, or could not start, before it was given any call.
		if pr.called {
			p.fruitless = 0
		} else {
			p.fruitless++
		}
		p.opts.Log.Warn("plugin process retired", "plugin", p.name, "pid", pr.pid, "reason", why)
	}
	pr.retired = true
	p.maybeKillLocked(pr)
}

func (p *Plugin) maybeKillLocked(pr *proc) {
	if !pr.retired || pr.inflight > 0 || pr.killed {
		return
	}
	pr.killed = true
	delete(p.procs, pr)
	p.peak = max(p.peak, pr.r.peak.Load())
	p.kills.Go(pr.kill)
}

// kill ends the process and its children at once (a retired process may be
// wedged: it gets no chance to shut down) and lets go-plugin clean up after
// it.
func (pr *proc) kill() {
	_ = pr.r.Kill(context.Background())
	pr.client.Kill()
}

// shutdown asks the process to stop (go-plugin's GRPCController/Shutdown),
// and kills it, with its children, if it has not within a few seconds.
func (pr *proc) shutdown() {
	pr.r.track()
	done := make(chan struct{})
	go func() { pr.client.Kill(); close(done) }()
	select {
	case <-done:
	case <-time.After(3 * time.Second):
		_ = pr.r.Kill(context.Background())
		<-done
	}
	// The process exited; children it left behind go with it.
	_ = pr.r.Kill(context.Background())
}

// waitExit waits up to d for the process to have exited and its output to
// have been read (so that the end of its stderr is in the log's tail).
func (pr *proc) waitExit(d time.Duration) bool {
	deadline := time.Now().Add(d)
	for !pr.client.Exited() {
		if time.Now().After(deadline) {
			return pr.r.hasExited()
		}
		time.Sleep(5 * time.Millisecond)
	}
	return true
}

// Close ends every process of the plugin, with their children: the current
// one is asked to shut down, retired ones are killed. Calls in flight fail
// with ErrClosed.
func (p *Plugin) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	p.cancel()
	var graceful, kill []*proc
	for pr := range p.procs {
		if pr == p.cur {
			graceful = append(graceful, pr)
		} else {
			kill = append(kill, pr)
		}
		pr.killed = true
	}
	p.procs = map[*proc]struct{}{}
	p.cur = nil
	restarting := p.restarting
	p.mu.Unlock()
	var wg sync.WaitGroup
	for _, pr := range graceful {
		wg.Go(pr.shutdown)
	}
	for _, pr := range kill {
		wg.Go(pr.kill)
	}
	wg.Wait()
	if restarting != nil {
		<-restarting
	}
	p.kills.Wait()
	return nil
}

// ErrClosed is returned by Process after Close.
var ErrClosed = errors.New("plugin closed")

// ErrCannotRestart is returned, wrapped, by Process once the plugin's
// process died and Options.MaxStartFailures restarts in a row failed.
var ErrCannotRestart = errors.New("plugin cannot be restarted")

// ErrOverMemory is matched (errors.Is) by the error of a call whose process
// was killed over Options.MemoryLimit.
var ErrOverMemory = errors.New("plugin process over its memory limit")

// overMemory is the error of a call whose process was killed over its
// memory limit: its message is msg, and it is ErrOverMemory.
type overMemory string

func (e overMemory) Error() string        { return string(e) }
func (e overMemory) Is(target error) bool { return target == ErrOverMemory }

// failed is a call the plugin did not complete (the wrapping in Process adds
// the conversation).
func (p *Plugin) failed(kind callerr.Kind, err error) *callerr.Error {
	return &callerr.Error{Plugin: p.name, Kind: kind, Err: err}
}
