package conformance

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"time"

	jsonv2 "github.com/go-json-experiment/json"
	"google.golang.org/protobuf/proto"

	"github.com/valuescope/valuescope/host/plugin"
	"github.com/valuescope/valuescope/host/plugin/grpc"
	"github.com/valuescope/valuescope/plugins"
	sdkgrpc "github.com/valuescope/valuescope/sdk/grpc"
	"github.com/valuescope/valuescope/sdk/protocol"
)

// The longest reason and detail line the kit reports: a reason is one line
// for a terminal, and what a plugin put in it (an error message, a line of
// its stderr) is quoted shorter where it is put in.
const maxLine = 2 << 10

// kind classifies how one conversation ended.
type kind int

const (
	annotated      kind = iota // annotations (valid or not: see outcome.violation)
	refused                    // the plugin's own error
	trapped                    // a trap, exit, crash, handler failure
	malformed                  // a reply that does not decode
	overDeadline               // the call overran the deadline
	outOfMemory                // the instance ran out of its memory limit
	roundViolation             // the rounds broke the protocol
	overLimit                  // a reply over the protocol's limits (sdk/protocol/limits.go)
	undeliverable              // the host cannot encode this request for the plugin
	canceled                   // the kit's context ended
)

var kindNames = [...]string{"annotations", "error", "trap", "malformed reply", "deadline", "out of memory", "protocol violation", "over a limit", "undeliverable", "canceled"}

func (k kind) String() string { return kindNames[k] }

// outcome is how one conversation went through a plugin.
type outcome struct {
	kind      kind
	call      plugin.CallErrorKind // how the call failed, when it did (0: it did not, or not as a call error)
	anns      []protocol.Annotation
	msg       string   // the plugin's error, or what went wrong
	violation string   // the annotations' first problem (checkOutput)
	stderr    []string // the plugin's stderr around a failure
	rounds    int
	dur       time.Duration
}

// signature is what determinism compares: the whole output, or the kind of
// failure (whose messages may hold process ids or addresses).
func (o outcome) signature() string {
	switch o.kind {
	case annotated:
		b, _ := json.Marshal(o.anns)
		return string(b)
	case refused:
		return "error: " + o.msg
	}
	return o.kind.String()
}

// describe is the outcome for a reason line.
func (o outcome) describe() string {
	switch o.kind {
	case annotated:
		n := 0
		for _, a := range o.anns {
			n += len(a.Items)
		}
		if n == 0 {
			return plural(len(o.anns), "annotation") + labels(o.anns)
		}
		return fmt.Sprintf("%s, %s", plural(len(o.anns), "annotation"), plural(n, "item")) + labels(o.anns)
	case refused:
		return "error " + quote(truncate(o.msg, 120))
	}
	s := o.kind.String() + ": " + plugin.Printable(o.msg, 600)
	if len(o.stderr) > 0 {
		s += " | stderr: " + strings.Join(o.stderr, " | ")
	}
	return s
}

// what names how a call went, for a reason that compares it with another:
// a crash or a deadline is not a different answer, and a reason must not
// blame the plugin's state for it.
func (o outcome) what() string {
	switch o.kind {
	case annotated:
		return "annotations"
	case refused:
		return "the plugin's own error"
	case overDeadline:
		return "a deadline overrun"
	case outOfMemory:
		return "running out of memory"
	case malformed:
		return "a malformed reply"
	case overLimit:
		return "a reply over the protocol's limits"
	case roundViolation:
		return "a protocol violation"
	case trapped:
		switch o.call {
		case plugin.Crashed:
			return "a crash (the process died or the connection broke)"
		case plugin.Exited:
			return "an exit (proc_exit)"
		case plugin.HandlerFailed:
			return "a failed handler (an exception in the plugin's server)"
		case plugin.Trap:
			return "a trap"
		}
		return "a failure to start or reach an instance"
	}
	return o.kind.String()
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

func labels(anns []protocol.Annotation) string {
	var ls []string
	for _, a := range anns {
		if a.Label != "" {
			ls = append(ls, quote(a.Label))
		}
	}
	if len(ls) == 0 {
		return ""
	}
	return " (" + strings.Join(ls, ", ") + ")"
}

// failure reports whether the outcome is one no plugin may give (a trap,
// a malformed reply, a limit).
func (o outcome) failure() bool {
	switch o.kind {
	case trapped, malformed, overDeadline, outOfMemory, overLimit:
		return true
	}
	return false
}

type modelsFunc func(ctx context.Context, round int, calls []protocol.ModelCall) ([]protocol.ModelResponse, error)

// kit is one run of the checks on one plugin.
type kit struct {
	ref       string
	opts      Options
	transport string // "wasm" or "grpc"
	module    []byte // the Wasm module, when there is one
	tail      *logTail
	logger    *slog.Logger
	// loader loads a plugin: plugin.Load, or a stand-in in the kit's tests.
	loader func(ctx context.Context, ref string, opts plugin.Options) (plugin.Plugin, plugin.Info, error)

	results  map[string]*Check
	main     plugin.Plugin
	manifest protocol.Manifest
	spec     *plugin.KindSpec // the manifest's kind
	models   modelsFunc       // nil when the plugin needs no model
	corpus   []*protocol.Conversation
	baseline []outcome // per corpus conversation (shorter when stopped early)

	// Problems found along the way, by the check that reports them.
	outputs, modelProblems, limitProblems, shutdownProblems []string
	closed                                                  []closeReport
	annotatedCount, conversations                           int
	limitsBroken                                            bool
	sha256                                                  string
	refusedImports                                          []string // imports the host refuses at load
	throughput                                              float64
}

// Run runs every check on the plugin ref names and returns the report. It
// fails only checks: a plugin that does not load fails the manifest (or
// capabilities, or configure) check, and the rest are skipped.
func Run(ctx context.Context, ref string, opts Options) *Report {
	return run(ctx, ref, opts, plugin.Load)
}

// run is Run with the function that loads plugins.
func run(ctx context.Context, ref string, opts Options, loader func(context.Context, string, plugin.Options) (plugin.Plugin, plugin.Info, error)) *Report {
	opts.defaults()
	start := time.Now()
	k := &kit{ref: ref, opts: opts, results: map[string]*Check{}, loader: loader}
	k.tail = &logTail{buf: &tailBuf{}}
	if opts.Log != nil {
		k.tail.next = opts.Log.Handler()
	}
	k.logger = slog.New(k.tail)
	k.corpus = append(Corpus(), opts.Corpus...)

	k.timed("capabilities", func() { k.checkCapabilities() })
	k.timed("manifest", func() { k.load(ctx) })
	if k.main != nil {
		k.timed("configure", func() { k.checkConfigure(ctx) })
		k.timed("outputs", func() { k.runBaseline(ctx) })
		k.timed("determinism", func() { k.checkDeterminism(ctx) })
		k.timed("models", func() { k.checkModels(ctx) })
		k.timed("hostile", func() { k.checkHostile(ctx) })
		k.timed("concurrency", func() { k.checkConcurrency(ctx) })
		k.timed("throughput", func() { k.checkThroughput(ctx) })
		k.timed("limits", func() { k.checkLimits() })
		k.judgeOutputs()
		k.timed("shutdown", func() { k.checkShutdown() })
	}

	rep := &Report{Ref: ref}
	if k.main != nil {
		m := k.manifest
		rep.Manifest = &m
	}
	for _, info := range Checks {
		c, ok := k.results[info.Name]
		if !ok || c.Status == "" {
			reason := "not run: the plugin did not load (see manifest)"
			if m, ok := k.results["manifest"]; ok && m.Status == Skip {
				reason = m.Reason
			}
			if ok {
				c.Status, c.Reason = Skip, reason
			} else {
				c = &Check{Name: info.Name, Status: Skip, Reason: reason}
			}
		}
		c.DurationMS = float64(c.Duration.Microseconds()) / 1000
		rep.Checks = append(rep.Checks, *c)
		switch c.Status {
		case Pass:
			rep.Passed++
		case Fail:
			rep.Failed++
		default:
			rep.Skipped++
		}
	}
	if c, ok := k.results["throughput"]; ok && c.Status == Pass {
		rep.Throughput = k.throughput
	}
	rep.SHA256 = k.sha256
	rep.Duration = time.Since(start)
	rep.DurationMS = float64(rep.Duration.Microseconds()) / 1000
	return rep
}

func (k *kit) timed(name string, f func()) {
	t := time.Now()
	f()
	c := k.check(name)
	c.Duration += time.Since(t)
}

func (k *kit) check(name string) *Check {
	c, ok := k.results[name]
	if !ok {
		c = &Check{Name: name}
		k.results[name] = c
	}
	return c
}

// maxDetails bounds a check's details: past it, a line says how many more.
const maxDetails = 16

func (k *kit) set(name string, st Status, reason string, details ...string) {
	if len(details) > maxDetails {
		details = append(details[:maxDetails-1:maxDetails-1], fmt.Sprintf("... and %d more", len(details)-maxDetails+1))
	}
	for i, d := range details {
		details[i] = plugin.Printable(d, maxLine)
	}
	c := k.check(name)
	c.Status, c.Reason, c.Details = st, plugin.Printable(reason, maxLine), details
}

// --- loading -----------------------------------------------------------

// resolve finds the Wasm module a reference names, if any.
func (k *kit) resolve() error {
	switch {
	case strings.HasPrefix(k.ref, "grpc:"):
		k.transport = "grpc"
		return nil
	case strings.HasPrefix(k.ref, "builtin:"):
		k.transport = "wasm"
		if _, ok := plugins.Lookup(strings.TrimPrefix(k.ref, "builtin:")); !ok {
			return nil // Load says which built-ins there are
		}
		k.module = plugins.Wasm() // shared by the built-ins
		return nil
	default:
		k.transport = "wasm"
		mod, err := os.ReadFile(k.ref)
		k.module = mod
		return err
	}
}

func (k *kit) pluginOptions(cfg protocol.ConfigureRequest, instances int) plugin.Options {
	return plugin.Options{Config: cfg, Instances: instances, MemoryLimit: k.opts.MemoryLimit, Deadline: k.opts.Deadline, StartTimeout: k.opts.StartTimeout, Log: k.logger}
}

// load loads the plugin with the config under test: the manifest check.
func (k *kit) load(ctx context.Context) {
	if len(k.refusedImports) > 0 {
		k.set("manifest", Skip, fmt.Sprintf("not run: the host refuses to load a module importing %s (see capabilities)", strings.Join(k.refusedImports, ", ")))
		return
	}
	p, info, err := k.loader(ctx, k.ref, k.pluginOptions(k.opts.Config, k.opts.Instances))
	if err != nil {
		k.loadFailed(err)
		return
	}
	k.main, k.manifest, k.sha256 = p, info.Manifest, info.SHA256
	m := k.manifest
	k.spec, _ = plugin.LookupKind(m.Kind) // known: plugin.Load checked the manifest
	if k.spec.Input == plugin.InputClusters {
		k.corpus = append(Clusters(), k.opts.Corpus...)
	}
	if slices.Contains(m.Needs, protocol.NeedModel) || slices.Contains(m.Needs, protocol.NeedEmbeddings) {
		k.models = goodModels(k.opts.Models)
	}
	if problems := checkManifest(m); len(problems) > 0 {
		k.set("manifest", Fail, problems[0], problems[1:]...)
		return
	}
	fields := strings.Join(append([]string{m.Field}, m.Fields...), ", ")
	desc := fmt.Sprintf("%s %s: %s writing %s, ABI %d", plugin.Printable(m.Name, 100), plugin.Printable(m.Version, 100), m.Kind, plugin.Printable(fields, 200), m.ABI)
	if len(m.Labels) > 0 {
		desc += fmt.Sprintf(", %d labels", len(m.Labels))
	}
	if len(m.Needs) > 0 {
		desc += ", needs " + plugin.Printable(strings.Join(m.Needs, " and "), 100)
	}
	k.set("manifest", Pass, desc)
}

// loadFailed says which check a failed load fails.
func (k *kit) loadFailed(err error) {
	msg := err.Error()
	capFailed := k.check("capabilities").Status == Fail
	var startTimeout *plugin.StartTimeout
	switch {
	case errors.As(err, &startTimeout):
		// Before the configuration's case: the start-up deadline covers
		// vs_configure, and its message names it.
		k.set("manifest", Fail, fmt.Sprintf("did not start within the start-up deadline (%s): %s; do no long work at start (in _initialize, a start section, or before the handshake)", k.opts.StartTimeout, msg))
	case strings.Contains(msg, "configuration refused"):
		k.set("manifest", Skip, "not judged: the plugin refused the kit's configuration (see configure)")
		k.set("configure", Fail, fmt.Sprintf("refused the configuration the kit tests with (%s): %s; if the plugin needs a config, pass one (--config, Options.Config)",
			truncate(k.opts.Config.ConfigJSON, 80), afterLast(msg, "configuration refused: ")))
	case isTrap(err) && (strings.Contains(msg, "vs_configure") || strings.Contains(msg, "Configure:")):
		k.set("manifest", Skip, "not judged: the plugin trapped when configured (see configure)")
		k.set("configure", Fail, "trapped when configured with the kit's configuration instead of answering: "+msg+k.stderrNote(0, msg))
	case capFailed:
		k.set("manifest", Skip, "not run: the host refuses to load the module (see capabilities): "+msg)
	default:
		k.set("manifest", Fail, msg+k.stderrNote(0, msg))
	}
}

func afterLast(s, sep string) string {
	if i := strings.LastIndex(s, sep); i >= 0 {
		return s[i+len(sep):]
	}
	return s
}

func isTrap(err error) bool {
	var ce *plugin.CallError
	return errors.As(err, &ce)
}

// --- configure ---------------------------------------------------------

// annotate runs one conversation to the end, as plugin.Annotate does, but
// telling apart every way it can end.
func (k *kit) annotate(ctx context.Context, p plugin.Plugin, c *protocol.Conversation, models modelsFunc) (o outcome) {
	start := time.Now()
	defer func() { o.dur = time.Since(start) }()
	req := &protocol.ProcessRequest{Conversation: c}
	for round := 0; ; round++ {
		o.rounds = round + 1
		mark := k.tail.count()
		resp, err := p.Process(ctx, req)
		if err != nil {
			return k.classify(ctx, req, err, mark)
		}
		m := p.Manifest()
		// The host's check of a reply (plugin.CheckResponse) refuses what a
		// run would refuse; the kit tells apart a reply over the limits,
		// which it reports under limits, from the rest.
		limitErr := plugin.CheckResponse(m, resp)
		switch {
		case errors.Is(limitErr, plugin.ErrOverLimit):
			o.kind, o.msg = overLimit, violationText(limitErr)
			return o
		case resp.Error != "" && (len(resp.Annotations) > 0 || len(resp.ModelCalls) > 0):
			o.kind, o.msg = malformed, violationText(limitErr)
			return o
		case resp.Error != "":
			o.kind, o.msg = refused, resp.Error
			return o
		case len(resp.ModelCalls) == 0:
			o.kind, o.anns = annotated, resp.Annotations
			o.violation = checkOutput(m, resp.Annotations, limitErr)
			return o
		case len(resp.Annotations) > 0:
			o.kind, o.msg = roundViolation, "answered both annotations and model calls in one response: set exactly one of annotations, model_calls, error"
			return o
		}
		if why := checkCalls(m, resp.ModelCalls); why != "" {
			o.kind, o.msg = roundViolation, fmt.Sprintf("round %d: %s", round, why)
			return o
		}
		if models == nil {
			o.kind, o.msg = roundViolation, "asked for model calls, but its manifest's needs list no model"
			return o
		}
		if round+1 >= k.opts.MaxRounds {
			o.kind, o.msg = roundViolation, fmt.Sprintf("still asking for model calls after %d rounds (the host's limit): give up with an error when the answers stay unusable", k.opts.MaxRounds)
			return o
		}
		answers, err := models(ctx, round, resp.ModelCalls)
		if err != nil {
			return outcome{kind: canceled, msg: "the model stand-in failed: " + err.Error()}
		}
		req = &protocol.ProcessRequest{Conversation: c, Round: uint32(round + 1), ModelResponses: answers, State: resp.State}
	}
}

// classify explains a failed Process call.
func (k *kit) classify(ctx context.Context, req *protocol.ProcessRequest, err error, mark int) outcome {
	o := outcome{msg: err.Error()}
	var ce *plugin.CallError
	// The call error's own message leaves out the plugin's name and the
	// conversation, which the kit's reasons give; the kit quotes stderr
	// itself.
	switch {
	case ctx.Err() != nil:
		o.kind = canceled
	case k.transport == "grpc" && !protoEncodable(req):
		// Protobuf strings are UTF-8: gRPC refuses to send invalid UTF-8
		// (an Internal status, which reads as the plugin's failure), so it is
		// asked only once a call failed, not on every round.
		o.kind, o.msg = undeliverable, "the host cannot send it to a gRPC plugin: "+o.msg
	case errors.As(err, &ce):
		o.msg, o.kind, o.call = ce.Error(), callKind(ce.Kind), ce.Kind
		if (ce.Kind == plugin.Trap || ce.Kind == plugin.Exited) && k.tail.outOfMemorySince(mark) || errors.Is(err, grpc.ErrOverMemory) {
			o.kind = outOfMemory
		}
		if errors.Is(ce, plugin.ErrOverLimit) { // the transport refused the reply's size
			o.kind = overLimit
		}
	case k.transport == "wasm" && !jsonEncodable(req):
		// A module exchanging JSON cannot be sent invalid UTF-8: the host's
		// encoder refuses it before the plugin sees anything.
		o.kind, o.msg = undeliverable, "the host cannot send it to a Wasm module speaking JSON: "+o.msg
	default:
		o.kind = trapped // a new instance failed to start, say
		if k.tail.outOfMemorySince(mark) {
			o.kind = outOfMemory
		}
	}
	switch o.kind {
	case outOfMemory:
		o.stderr = k.tail.matching(mark, "out of memory")
	case trapped, malformed:
		if !strings.Contains(o.msg, "its stderr said") && !strings.Contains(o.msg, "the last lines on its stderr") {
			o.stderr = k.tail.excerpt(mark)
		}
	}
	return o
}

// callKind is the outcome of a failed call by its kind, whichever the
// transport. A Wasm trap or exit may turn out to be the memory limit
// (classify reads stderr for those).
func callKind(k plugin.CallErrorKind) kind {
	switch k {
	case plugin.Timeout:
		return overDeadline
	case plugin.Canceled:
		return canceled
	case plugin.Malformed:
		return malformed
	}
	return trapped // Trap, Exited, Crashed, HandlerFailed
}

func protoEncodable(req *protocol.ProcessRequest) bool {
	_, err := proto.Marshal(sdkgrpc.ToProtoProcessRequest(req))
	return err == nil
}

func jsonEncodable(req *protocol.ProcessRequest) bool {
	_, err := jsonv2.Marshal(req)
	return err == nil
}

// stderrNote quotes the plugin's stderr since mark, for a message that does
// not quote it already.
func (k *kit) stderrNote(mark int, msg string) string {
	if strings.Contains(msg, "its stderr said") || strings.Contains(msg, "the last lines on its stderr") {
		return ""
	}
	lines := k.tail.excerpt(mark)
	if len(lines) == 0 {
		return ""
	}
	return " | stderr: " + strings.Join(lines, " | ")
}

// --- baseline: outputs and limits ----------------------------------------

// runBaseline runs the ordinary corpus one conversation at a time. It stops
// at the first deadline overrun: the rest would only wait for theirs.
func (k *kit) runBaseline(ctx context.Context) {
	for i, c := range k.corpus {
		o := k.annotate(ctx, k.main, c, k.models)
		k.baseline = append(k.baseline, o)
		k.record("ordinary conversation "+quote(c.ID), o, true)
		if o.kind == overDeadline {
			if n := len(k.corpus) - i - 1; n > 0 {
				k.limitProblems = append(k.limitProblems, fmt.Sprintf("the %d remaining ordinary conversations were not run", n))
			}
			break
		}
		if o.kind == canceled {
			break
		}
	}
	if k.limitsBroken {
		k.skipAfterLimits("determinism", "models", "hostile", "concurrency", "throughput")
	}
}

func (k *kit) skipAfterLimits(names ...string) {
	for _, n := range names {
		if k.check(n).Status == "" {
			k.set(n, Skip, "not run: the plugin does not finish ordinary conversations within its limits (see limits)")
		}
	}
}

// record files an outcome's problems under the checks that report them:
// invalid annotations under outputs, broken rounds under models, limits on
// ordinary input under limits. Traps are the caller's business, except on
// ordinary input (ordinary is set), where they fail outputs.
func (k *kit) record(what string, o outcome, ordinary bool) {
	if o.kind != undeliverable && o.kind != canceled {
		k.conversations++
	}
	switch o.kind {
	case annotated:
		k.annotatedCount++
		if o.violation != "" {
			k.outputs = append(k.outputs, what+": "+o.violation)
		}
	case refused:
		if ordinary && k.models == nil {
			k.outputs = append(k.outputs, what+": answered with an error: "+quote(truncate(o.msg, 200))+"; ordinary conversations should get annotations (an empty list when nothing is found)")
		}
	case roundViolation:
		k.modelProblems = append(k.modelProblems, what+": "+o.msg)
	case overDeadline, outOfMemory, overLimit:
		if ordinary {
			k.limitsBroken = true
			switch o.kind {
			case overDeadline:
				k.limitProblems = append(k.limitProblems, fmt.Sprintf("%s did not finish within the %s deadline", what, k.opts.Deadline))
			case overLimit:
				k.limitProblems = append(k.limitProblems, fmt.Sprintf("%s: the reply is over the protocol's limits: %s", what, plugin.Printable(o.msg, 400)))
			default:
				k.limitProblems = append(k.limitProblems, fmt.Sprintf("%s ran out of the %d MiB memory limit (%s)", what, k.opts.MemoryLimit>>20, strings.Join(o.stderr, " | ")))
			}
		}
	case trapped, malformed:
		if ordinary {
			k.outputs = append(k.outputs, what+": "+o.describe())
		}
	}
}

func (k *kit) judgeOutputs() {
	if c := k.check("outputs"); c.Status != "" {
		return
	}
	switch {
	case len(k.outputs) > 0:
		k.set("outputs", Fail, k.outputs[0], k.outputs[1:]...)
	case k.annotatedCount == 0 && k.limitsBroken:
		k.set("outputs", Skip, "not judged: no ordinary conversation finished within the limits (see limits)")
	case k.annotatedCount == 0:
		k.set("outputs", Skip, "no annotations to check: every conversation ended in an error with the kit's stand-in model answers; "+
			"give answers your plugin understands (--model-answer, Options.Models)", k.refusalSample()...)
	default:
		k.set("outputs", Pass, fmt.Sprintf("valid annotations from %d conversations (ordinary, hostile, model rounds): declared fields, %s", k.annotatedCount, k.spec.OutputCheck))
	}
}

func (k *kit) refusalSample() []string {
	for i, o := range k.baseline {
		if o.kind == refused {
			return []string{fmt.Sprintf("conversation %q: %s", k.corpus[i].ID, o.describe())}
		}
	}
	return nil
}

// --- determinism -------------------------------------------------------
