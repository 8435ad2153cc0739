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
//   - the process dies (crash, killed): the calls in flight fail with a
//     call error (callerr.Error, which is plugin.CallError) of kind Crashed
//     giving its exit status and the end of its stderr; the next call
//     starts a new process (describe, check, configure again);
//   - a call overruns the deadline: it fails with kind Timeout. A plugin
//     cannot be told to stop a call (sdk.Plugin.Process takes no context), so
//     the process is retired: new calls go to a fresh one, and the old one is
//     killed as soon as its other calls in flight have ended;
//   - restarts are serialized, spaced by an exponential backoff, and bounded
//     (MaxRestarts within RestartWindow): past the bound, Process fails at
//     once with ErrKeepsCrashing until the window lets a restart through.
//
// The plugin's stderr (and the stdout and stderr of a Go plugin, which
// go-plugin forwards) goes to the log, a line at a time, under its name.
package grpc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os/exec"
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
	// StartTimeout bounds the start of a process up to its handshake line;
	// default 30 s.
	StartTimeout time.Duration
	// Config is handed to every process the plugin runs in, at its start.
	Config protocol.ConfigureRequest
	// Log receives the plugin's stderr and the restarts; default slog.Default().
	Log *slog.Logger
	// MaxRestarts bounds the restarts within RestartWindow; default 5,
	// negative: a dead process is not restarted.
	MaxRestarts int
}

const (
	defaultDeadline     = 10 * time.Second
	defaultStartTimeout = 30 * time.Second
	defaultMaxRestarts  = 5
	// RestartWindow is the period MaxRestarts counts restarts over.
	RestartWindow = time.Minute
	// The backoff before the n-th restart within the window (n ≥ 2) is
	// firstBackoff·2^(n-2), at most maxBackoff; the first is immediate.
	firstBackoff = 100 * time.Millisecond
	maxBackoff   = 5 * time.Second
)

// Plugin is a plugin subprocess, restarted when it dies. It is safe for
// concurrent use.
type Plugin struct {
	name     string
	command  []string
	opts     Options
	manifest protocol.Manifest

	starting chan struct{} // one slot: one (re)start at a time

	mu       sync.Mutex
	cur      *proc              // where new calls go; nil once it died or was retired
	procs    map[*proc]struct{} // every process not yet killed
	restarts []time.Time        // restarts within the window
	lastExit string             // why the last process was retired
	closed   bool
	kills    sync.WaitGroup
}

// proc is one running subprocess.
type proc struct {
	client *goplugin.Client
	cmd    *exec.Cmd
	rpc    pluginv1.PluginClient
	pid    int
	out    *pluginlog.Writer

	// guarded by Plugin.mu
	inflight int
	retired  bool
	killed   bool
}

// Load starts the plugin command (command[0] is the program, looked up in
// PATH when it has no slash), checks that it speaks protocol v1, reads its
// manifest and configures it.
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
	if opts.MaxRestarts == 0 {
		opts.MaxRestarts = defaultMaxRestarts
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	p := &Plugin{
		name:     opts.Name,
		command:  slices.Clone(command),
		opts:     opts,
		starting: make(chan struct{}, 1),
		procs:    map[*proc]struct{}{},
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
	return p, nil
}

// launch starts a process and brings it to the point where it takes calls:
// handshake, health, manifest, configuration.
func (p *Plugin) launch(ctx context.Context) (*proc, protocol.Manifest, error) {
	cmd := exec.Command(p.command[0], p.command[1:]...)
	out := pluginlog.New(p.opts.Log, p.name)
	client := goplugin.NewClient(&goplugin.ClientConfig{
		HandshakeConfig:  sdkgrpc.Handshake,
		VersionedPlugins: map[int]goplugin.PluginSet{int(sdkgrpc.Handshake.ProtocolVersion): sdkgrpc.Plugins(nil)},
		Cmd:              cmd,
		AllowedProtocols: []goplugin.Protocol{goplugin.ProtocolGRPC},
		StartTimeout:     p.opts.StartTimeout,
		Stderr:           out,
		SyncStdout:       out,
		SyncStderr:       out,
		Logger:           newHCLogger(p.opts.Log.With("plugin", p.name), filepath.Base(cmd.Path)),
		GRPCDialOptions: []grpcgo.DialOption{grpcgo.WithDefaultCallOptions(
			grpcgo.MaxCallRecvMsgSize(sdkgrpc.MaxMessageSize), grpcgo.MaxCallSendMsgSize(sdkgrpc.MaxMessageSize))},
	})
	pr := &proc{client: client, cmd: cmd, out: out}
	fail := func(err error) (*proc, protocol.Manifest, error) {
		pr.kill()
		return nil, protocol.Manifest{}, err
	}

	// go-plugin's Start takes no context: run it aside, and give up on it
	// (killing what it started) when ctx ends first.
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
		go func() { <-done; client.Kill() }()
		return nil, protocol.Manifest{}, fmt.Errorf("%s: starting %s: %w", p.name, p.command[0], ctx.Err())
	}
	if s.err != nil {
		return fail(p.startError(pr, s.err))
	}
	pr.rpc = s.impl
	if cmd.Process != nil {
		pr.pid = cmd.Process.Pid
	}

	// Health: go-plugin's Ping has no deadline; a server that accepts and
	// never answers must not hang the load.
	if conn, ok := s.rpc.(*goplugin.GRPCClient); ok {
		hctx, cancel := p.callContext(ctx)
		h, err := grpc_health_v1.NewHealthClient(conn.Conn).Check(hctx, &grpc_health_v1.HealthCheckRequest{Service: goplugin.GRPCServiceName})
		cancel()
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
	if unrecognized || pr.client.Exited() || strings.Contains(msg, "exited before we could connect") {
		if pr.waitExit(time.Second) {
			return fmt.Errorf("%s: starting %s: the process exited (%s) before its handshake; is it a valuescope plugin?%s", p.name, p.command[0], pr.exitStatus(), pr.out.TailNote())
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

// Manifest returns what the plugin said of itself.
func (p *Plugin) Manifest() protocol.Manifest { return p.manifest }

// PID is the process id of the running subprocess; 0 when none runs (it
// died and no call has restarted it yet).
func (p *Plugin) PID() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cur == nil || p.cur.client.Exited() {
		return 0
	}
	return p.cur.pid
}

// Process runs one round of one conversation in the subprocess, starting a
// new one first when the last died.
func (p *Plugin) Process(ctx context.Context, req *protocol.ProcessRequest) (*protocol.ProcessResponse, error) {
	pr, err := p.acquire(ctx)
	if err != nil {
		return nil, p.wrap(req, err)
	}
	defer p.release(pr)
	callCtx, cancel := p.callContext(ctx)
	defer cancel()
	resp, err := pr.rpc.Process(callCtx, sdkgrpc.ToProtoProcessRequest(req))
	if err != nil {
		return nil, p.wrap(req, p.callError(ctx, callCtx, pr, err))
	}
	return sdkgrpc.FromProtoProcessResponse(resp), nil
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
	p.mu.Lock()
	closed := p.closed
	p.mu.Unlock()
	switch {
	case closed:
		return ErrClosed
	case ctx.Err() != nil:
		// The caller gave up; the process is not to blame.
		return p.failed(callerr.Canceled, context.Cause(ctx))
	case errors.Is(callCtx.Err(), context.DeadlineExceeded) || st.Code() == codes.DeadlineExceeded:
		// (The server side may see the deadline, sent along with the call,
		// pass a moment before this side does.)
		if d, ok := ctx.Deadline(); ok {
			if own, _ := callCtx.Deadline(); !own.Before(d) {
				return p.failed(callerr.Canceled, context.DeadlineExceeded) // the caller's deadline
			}
		}
		p.retire(pr, fmt.Sprintf("a call overran the %s deadline", p.opts.Deadline))
		return p.failed(callerr.Timeout, fmt.Errorf("did not finish within %s (the plugin process is replaced: a call in a plugin cannot be stopped otherwise)", p.opts.Deadline))
	case st.Code() == codes.Unavailable || st.Code() == codes.Canceled || pr.client.Exited():
		if pr.waitExit(2 * time.Second) {
			why := "the process exited: " + pr.exitStatus()
			p.retire(pr, why)
			return p.failed(callerr.Crashed, fmt.Errorf("the plugin process (pid %d) died during the call (%s); the next call restarts it%s", pr.pid, pr.exitStatus(), pr.out.TailNote()))
		}
		p.retire(pr, "lost the connection: "+st.Message())
		return p.failed(callerr.Crashed, fmt.Errorf("lost the connection to the plugin process (pid %d): %s; the next call restarts it", pr.pid, st.Message()))
	case st.Code() == codes.ResourceExhausted:
		return p.failed(callerr.Malformed, errors.New(st.Message()))
	case st.Code() == codes.Internal && strings.Contains(st.Message(), "unmarshal"):
		return p.failed(callerr.Malformed, errors.New(st.Message()))
	}
	// The plugin's own handler failed (an exception in a Python plugin, say):
	// that call fails, the process goes on.
	return p.failed(callerr.HandlerFailed, fmt.Errorf("the plugin's handler failed: %s: %s", st.Code(), st.Message()))
}

// acquire returns the process to call, (re)starting one when needed.
func (p *Plugin) acquire(ctx context.Context) (*proc, error) {
	for {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return nil, ErrClosed
		}
		if pr := p.cur; pr != nil {
			if !pr.client.Exited() {
				pr.inflight++
				p.mu.Unlock()
				return pr, nil
			}
			p.retireLocked(pr, "the process exited: "+pr.exitStatus())
		}
		p.mu.Unlock()
		if err := p.restart(ctx); err != nil {
			return nil, err
		}
	}
}

func (p *Plugin) release(pr *proc) {
	p.mu.Lock()
	defer p.mu.Unlock()
	pr.inflight--
	p.maybeKillLocked(pr)
}

// restart starts a new process, unless another call did so meanwhile. One
// restart at a time; the others wait for it.
func (p *Plugin) restart(ctx context.Context) error {
	select {
	case p.starting <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-p.starting }()

	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return ErrClosed
	}
	if p.cur != nil {
		p.mu.Unlock()
		return nil
	}
	now := time.Now()
	p.restarts = slices.DeleteFunc(p.restarts, func(t time.Time) bool { return now.Sub(t) >= RestartWindow })
	if p.opts.MaxRestarts < 0 {
		last := p.lastExit
		p.mu.Unlock()
		return fmt.Errorf("%w: the process is gone (%s) and restarts are off (MaxRestarts < 0)", ErrKeepsCrashing, last)
	}
	if len(p.restarts) >= p.opts.MaxRestarts {
		last, wait := p.lastExit, RestartWindow-now.Sub(p.restarts[0])
		p.mu.Unlock()
		return fmt.Errorf("%w: %d restarts in the last %s (last: %s); not restarting for another %s",
			ErrKeepsCrashing, len(p.restarts), RestartWindow, last, wait.Round(time.Second))
	}
	delay := backoff(len(p.restarts))
	p.restarts = append(p.restarts, now)
	n, last := len(p.restarts), p.lastExit
	p.mu.Unlock()

	p.opts.Log.Warn("restarting plugin", "plugin", p.name, "reason", last, "restart", n, "backoff", delay)
	if delay > 0 {
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
	}
	pr, m, err := p.launch(ctx)
	if err != nil {
		p.mu.Lock()
		p.lastExit = "restart failed: " + err.Error()
		p.mu.Unlock()
		return fmt.Errorf("restarting: %w", err)
	}
	if !sameManifest(m, p.manifest) {
		pr.kill()
		p.mu.Lock()
		p.lastExit = "the manifest changed"
		p.mu.Unlock()
		return fmt.Errorf("restarting: the plugin's manifest changed (was %+v, now %+v); was the binary replaced?", p.manifest, m)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		pr.kill()
		return ErrClosed
	}
	p.cur = pr
	p.procs[pr] = struct{}{}
	return nil
}

func backoff(n int) time.Duration {
	if n == 0 {
		return 0
	}
	d := firstBackoff << (n - 1)
	if d > maxBackoff || d <= 0 {
		d = maxBackoff
	}
	return d
}

func sameManifest(a, b protocol.Manifest) bool {
	return a.Name == b.Name && a.Version == b.Version && a.ABI == b.ABI && a.Kind == b.Kind && a.Field == b.Field &&
		slices.Equal(a.Labels, b.Labels) && slices.Equal(a.Needs, b.Needs) && slices.Equal(a.Fields, b.Fields) &&
		a.Description == b.Description
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
	p.kills.Go(pr.kill)
}

// kill ends the process at once (a retired process may be wedged: it gets no
// chance to shut down) and lets go-plugin clean up after it.
func (pr *proc) kill() {
	if pr.cmd.Process != nil {
		_ = pr.cmd.Process.Kill()
	}
	pr.client.Kill()
}

// shutdown asks the process to stop (go-plugin's GRPCController/Shutdown),
// and kills it if it has not within a few seconds.
func (pr *proc) shutdown() {
	done := make(chan struct{})
	go func() { pr.client.Kill(); close(done) }()
	select {
	case <-done:
	case <-time.After(3 * time.Second):
		pr.kill()
		<-done
	}
}

// waitExit waits up to d for the process to have exited and been reaped.
func (pr *proc) waitExit(d time.Duration) bool {
	deadline := time.Now().Add(d)
	for !pr.client.Exited() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
	return true
}

// exitStatus is "exit status 3", "signal: killed"..., once the process exited.
func (pr *proc) exitStatus() string {
	if !pr.client.Exited() || pr.cmd.ProcessState == nil {
		return "status unknown"
	}
	return pr.cmd.ProcessState.String()
}

// Close ends every process of the plugin: the current one is asked to shut
// down, retired ones are killed. Calls in flight fail with ErrClosed.
func (p *Plugin) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
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
	p.mu.Unlock()
	var wg sync.WaitGroup
	for _, pr := range graceful {
		wg.Go(pr.shutdown)
	}
	for _, pr := range kill {
		wg.Go(pr.kill)
	}
	wg.Wait()
	p.kills.Wait()
	return nil
}

// ErrClosed is returned by Process after Close.
var ErrClosed = errors.New("plugin closed")

// ErrKeepsCrashing is returned, wrapped, by Process while the plugin has used
// up its restarts.
var ErrKeepsCrashing = errors.New("plugin keeps crashing")

// failed is a call the plugin did not complete (the wrapping in Process adds
// the conversation).
func (p *Plugin) failed(kind callerr.Kind, err error) *callerr.Error {
	return &callerr.Error{Plugin: p.name, Kind: kind, Err: err}
}
