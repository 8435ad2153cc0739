// Package conformance certifies a plugin before it touches real data: it
// loads the plugin the way the host does (builtin:NAME, a .wasm file, or
// grpc:COMMAND) and runs it through a fixed set of checks, each with a
// reason a plugin author can act on. It is the kit behind
// `valuescope conformance REF`, and usable from any Go test, in the spirit
// of testing/fstest.TestFS:
//
//	func TestMyPlugin(t *testing.T) {
//		conformance.Test(t, "my-plugin.wasm", conformance.Options{})
//	}
//
// The checks (see Checks, and README.md for what each one sends):
//
//   - manifest: the manifest is valid and speaks a supported ABI.
//   - configure: a bad config is refused with an error, not accepted and
//     not answered with a trap.
//   - outputs: annotations are valid for the declared kind: declared
//     fields, labels within the declared set, item names short, normalised
//     (see CheckName) and non-empty.
//   - determinism: the same input, config and model answers give the same
//     output, on another instance, in another order, and repeated.
//   - models: the rounds of model calls hold up: well-formed calls, and
//     malformed or failed model answers lead to annotations or the plugin's
//     own error, never a trap.
//   - hostile: unusual input (no turns, no assistant turn, 1 MiB messages,
//     1,000 turns, invalid UTF-8, unknown roles, control characters, deep
//     JSON nesting...) is answered without a trap.
//   - limits: ordinary input is answered within the deadline and the
//     memory limit.
//   - capabilities: a Wasm module imports nothing but WASI preview 1 and
//     exports protocol v1.
//   - concurrency: many instances (or calls) in parallel give the same
//     answers as one at a time.
//   - throughput: conversations per second, over the calls that succeeded;
//     informational, never fails.
//   - shutdown: a gRPC plugin closes promptly and leaves no process behind.
//
// A failure in one check is not repeated by the others: a plugin that
// overruns its deadline on ordinary input fails limits, and the checks that
// need it to finish are skipped, saying why.
package conformance

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/valuescope/valuescope/host/plugin"
	"github.com/valuescope/valuescope/sdk/protocol"
)

// Status is a check's verdict.
type Status string

const (
	Pass Status = "pass"
	Fail Status = "fail"
	// Skip: the check did not apply (a gRPC plugin has no Wasm imports) or
	// could not run because another check failed; the reason says which.
	Skip Status = "skip"
)

// Check is one check's result.
type Check struct {
	Name   string `json:"name"`
	Status Status `json:"status"`
	// Reason is one line: what was found, and for a failure what to do.
	Reason string `json:"reason"`
	// Details are further lines: every problem found, the cases run.
	Details  []string      `json:"details,omitempty"`
	Duration time.Duration `json:"-"`
	// DurationMS is Duration in milliseconds, for the JSON report.
	DurationMS float64 `json:"duration_ms"`
}

// Report is the result of Run.
type Report struct {
	Ref string `json:"ref"`
	// Manifest is what the plugin said of itself, when it loaded.
	Manifest *protocol.Manifest `json:"manifest,omitempty"`
	// SHA256 is the plugin's digest as the host reports it (plugin.Info.SHA256:
	// a .wasm file's bytes, a built-in's source), when there is one.
	SHA256 string  `json:"sha256,omitempty"`
	Checks []Check `json:"checks"`
	// Passed, Failed and Skipped count the checks.
	Passed  int `json:"passed"`
	Failed  int `json:"failed"`
	Skipped int `json:"skipped"`
	// Throughput is conversations per second with Options.Instances in
	// parallel (0 when not measured).
	Throughput float64       `json:"conversations_per_second,omitempty"`
	Duration   time.Duration `json:"-"`
	DurationMS float64       `json:"duration_ms"`
}

// OK reports whether no check failed.
func (r *Report) OK() bool { return r.Failed == 0 }

// Check returns the named check's result.
func (r *Report) Check(name string) (Check, bool) {
	for _, c := range r.Checks {
		if c.Name == name {
			return c, true
		}
	}
	return Check{}, false
}

// FailedChecks lists the names of the failed checks.
func (r *Report) FailedChecks() []string {
	var out []string
	for _, c := range r.Checks {
		if c.Status == Fail {
			out = append(out, c.Name)
		}
	}
	return out
}

// WriteText writes the report for a terminal: a line per check (PASS, FAIL
// or SKIP, its name and reason), the details of failures (all details when
// verbose), and a summary line. What a plugin said (its manifest, errors,
// stderr) is printed with control characters escaped and long strings cut,
// so that a plugin cannot send the terminal escape codes.
func (r *Report) WriteText(w io.Writer, verbose bool) error {
	var b strings.Builder
	fmt.Fprintf(&b, "conformance of %s", plugin.Printable(r.Ref, maxLine))
	if m := r.Manifest; m != nil {
		fmt.Fprintf(&b, " (%s %s, %s, abi %d)", plugin.Printable(m.Name, 100), plugin.Printable(m.Version, 100), plugin.Printable(m.Kind, 40), m.ABI)
	}
	b.WriteString("\n")
	for _, c := range r.Checks {
		fmt.Fprintf(&b, "%-4s  %-12s  %s", strings.ToUpper(string(c.Status)), c.Name, plugin.Printable(c.Reason, maxLine))
		if c.Duration >= time.Millisecond {
			fmt.Fprintf(&b, " (%s)", roundDuration(c.Duration))
		}
		b.WriteString("\n")
		if c.Status == Fail || verbose {
			for _, d := range c.Details {
				fmt.Fprintf(&b, "                    %s\n", plugin.Printable(d, maxLine))
			}
		}
	}
	verdict := "ok"
	if !r.OK() {
		verdict = "FAIL"
	}
	fmt.Fprintf(&b, "%s: %d passed, %d failed, %d skipped, in %s", verdict, r.Passed, r.Failed, r.Skipped, roundDuration(r.Duration))
	if r.Throughput > 0 {
		fmt.Fprintf(&b, "; %.0f conversations/s", r.Throughput)
	}
	b.WriteString("\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// JSON is the report as indented JSON.
func (r *Report) JSON() []byte {
	b, _ := json.MarshalIndent(r, "", "  ")
	return append(b, '\n')
}

func roundDuration(d time.Duration) time.Duration {
	switch {
	case d >= 10*time.Second:
		return d.Round(100 * time.Millisecond)
	case d >= time.Second:
		return d.Round(10 * time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(100 * time.Microsecond)
	}
	return d.Round(time.Microsecond)
}

// CheckInfo names and describes a check.
type CheckInfo struct {
	Name string
	// Doc says what the check requires, in a sentence.
	Doc string
	// Informational checks report a measurement and never fail.
	Informational bool
}

// Checks lists the checks in the order of a report.
var Checks = []CheckInfo{
	{Name: "manifest", Doc: "the plugin loads, its manifest is valid (name, version, kind, field, labels of a classifier, needs) and it speaks ABI 1"},
	{Name: "configure", Doc: "a config with an unknown key, and one that is not JSON, are refused with an error: not accepted, not a trap"},
	{Name: "outputs", Doc: "annotations use declared fields, a classifier's labels come from its set, item names are short, normalised and non-empty, attributes valid UTF-8; a namer names each cluster with one item"},
	{Name: "determinism", Doc: "the same conversation, config and model answers give the same output on another instance, in another order, and repeated"},
	{Name: "models", Doc: "model calls are well formed and declared in needs; malformed, empty, truncated or failed model answers lead to annotations or an error, never a trap, within the host's rounds"},
	{Name: "hostile", Doc: "unusual input (no turns, no assistant turn, 1 MiB messages, 1,000 turns, invalid UTF-8, unknown roles, control characters, deep JSON nesting; for a namer also malformed and extreme clusters) is answered without a trap"},
	{Name: "limits", Doc: "ordinary conversations finish within the deadline and the memory limit"},
	{Name: "capabilities", Doc: "a Wasm module imports only WASI preview 1 functions (with WASI's signatures) and exports protocol v1"},
	{Name: "concurrency", Doc: "many calls in parallel (several Wasm instances, or concurrent gRPC calls) give the same answers as one at a time"},
	{Name: "throughput", Doc: "conversations per second with several instances in parallel, over the calls that succeeded (informational)", Informational: true},
	{Name: "shutdown", Doc: "a gRPC plugin closes within 10 s and leaves no process behind: none it started holds its stdout or stderr from a process group of its own, or still runs once it is closed"},
}

// Options tune a run of the kit. Zero values take the defaults, which are
// the host's for plugins from a file or a command.
type Options struct {
	// Config is the config table (JSON) and prompt the plugin is tested
	// with; default {} and no prompt. The configure check adds an unknown
	// key to it.
	Config protocol.ConfigureRequest
	// Deadline bounds one call; default 10 s (the host's default).
	Deadline time.Duration
	// StartTimeout bounds a plugin's start-up: for a Wasm module its
	// instantiation (start section, _initialize) and vs_abi, vs_describe and
	// vs_configure; default 30 s (the host's default).
	StartTimeout time.Duration
	// MemoryLimit bounds a Wasm instance's memory, and a gRPC plugin's
	// with its children, as in runs; default 256 MiB (the host's default).
	MemoryLimit int64
	// Instances is the number of Wasm instances (or concurrent gRPC calls)
	// in the concurrency and throughput checks; default 4.
	Instances int
	// Models answers the model calls of ordinary rounds; default a stand-in
	// answering each call with an instance of its schema_json, or "honesty".
	// The models check's malformed answers are the kit's own.
	Models plugin.ModelCaller
	// Corpus adds ordinary conversations to the kit's own (see Corpus).
	Corpus []*protocol.Conversation
	// ThroughputTime is how long throughput is measured; default 1 s,
	// negative: not measured.
	ThroughputTime time.Duration
	// MaxRounds bounds the rounds of model calls of one conversation;
	// default plugin.DefaultMaxRounds.
	MaxRounds int
	// Log receives the plugin's stderr; default: discarded (the kit quotes
	// the relevant lines in its reasons).
	Log *slog.Logger
}

func (o *Options) defaults() {
	if o.Deadline <= 0 {
		o.Deadline = 10 * time.Second
	}
	if o.StartTimeout <= 0 {
		o.StartTimeout = 30 * time.Second
	}
	if o.MemoryLimit <= 0 {
		o.MemoryLimit = 256 << 20
	}
	if o.Instances <= 0 {
		o.Instances = 4
	}
	if o.ThroughputTime == 0 {
		o.ThroughputTime = time.Second
	}
	if o.MaxRounds <= 0 {
		o.MaxRounds = plugin.DefaultMaxRounds
	}
	if o.Config.ConfigJSON == "" {
		o.Config.ConfigJSON = "{}"
	}
}

// Test runs the kit on the plugin ref names and reports each check as a
// subtest: a failed check fails its subtest with the reason and details, a
// skipped one is skipped. It returns the report for further assertions.
func Test(t *testing.T, ref string, opts Options) *Report {
	t.Helper()
	r := Run(t.Context(), ref, opts)
	for _, c := range r.Checks {
		t.Run(c.Name, func(t *testing.T) {
			msg := c.Reason
			if len(c.Details) > 0 {
				msg += "\n\t" + strings.Join(c.Details, "\n\t")
			}
			switch c.Status {
			case Fail:
				t.Error(msg)
			case Skip:
				t.Skip(msg)
			default:
				t.Log(msg)
			}
		})
	}
	return r
}
