package conformance

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode"

	"github.com/valuescope/valuescope/host/plugin"
	"github.com/valuescope/valuescope/sdk/protocol"
)

// fake is a stand-in plugin for the kit's own tests: answer decides each
// call's reply from the call's number (from 0, on this instance) and the
// calls in flight with it (itself included).
type fake struct {
	m        protocol.Manifest
	opts     plugin.Options
	delay    time.Duration
	answer   func(f *fake, n, inflight int64) (*protocol.ProcessResponse, error)
	calls    atomic.Int64
	inflight atomic.Int64
}

func (f *fake) Manifest() protocol.Manifest { return f.m }
func (f *fake) Close() error                { return nil }

func (f *fake) Process(ctx context.Context, req *protocol.ProcessRequest) (*protocol.ProcessResponse, error) {
	n := f.calls.Add(1) - 1
	in := f.inflight.Add(1)
	defer f.inflight.Add(-1)
	time.Sleep(f.delay)
	return f.answer(f, n, in)
}

var fakeManifest = protocol.Manifest{Name: "fake", Version: "0.1.0", ABI: protocol.ABI, Kind: protocol.Extractor, Field: "ai_values"}

func honesty() *protocol.ProcessResponse {
	return &protocol.ProcessResponse{Annotations: []protocol.Annotation{{Items: []protocol.Item{{Name: "honesty"}}}}}
}

// runFake runs the kit on fakes that newFake makes, one per load (the main
// one, determinism's second instance). Bad configs are refused, as a plugin
// should.
func runFake(t *testing.T, newFake func(opts plugin.Options) *fake) *Report {
	t.Helper()
	loader := func(ctx context.Context, ref string, opts plugin.Options) (plugin.Plugin, plugin.Info, error) {
		if strings.Contains(opts.Config.ConfigJSON, "valuescope_conformance") {
			return nil, plugin.Info{}, errors.New("fake: configuration refused: unknown key")
		}
		f := newFake(opts)
		if f.m.Name == "" {
			f.m = fakeManifest
		}
		f.opts = opts
		return f, plugin.Info{Ref: ref, Manifest: f.m}, nil
	}
	return run(t.Context(), "fake", Options{ThroughputTime: 200 * time.Millisecond, Instances: 4}, loader)
}

func text(r *Report) string {
	var b strings.Builder
	r.WriteText(&b, true)
	return b.String()
}

func crash(msg string) error {
	return &plugin.CallError{Plugin: "fake", Kind: plugin.Crashed, Err: errors.New(msg)}
}

// A plugin whose calls all fail at once (a gRPC plugin past its restarts
// answers "not restarting for another 53s" in microseconds) has no
// throughput: the kit reported "53069 conversations/s" for one.
func TestThroughputNotMeasuredWhenEveryCallFails(t *testing.T) {
	corpus := int64(len(Corpus()))
	r := runFake(t, func(plugin.Options) *fake {
		return &fake{answer: func(_ *fake, n, _ int64) (*protocol.ProcessResponse, error) {
			if n < corpus {
				return honesty(), nil // the ordinary conversations, one at a time
			}
			return nil, crash("not restarting for another 53s")
		}}
	})
	c, _ := r.Check("throughput")
	if c.Status != Skip || !strings.Contains(c.Reason, "not measured: every call failed") || !strings.Contains(c.Reason, "crash") {
		t.Errorf("throughput %s: %s, want skipped: every call failed, saying they crashed", c.Status, c.Reason)
	}
	if r.Throughput != 0 || strings.Contains(text(r), "conversations/s") {
		t.Errorf("a throughput of %.0f conversations/s reported for a plugin whose every call failed:\n%s", r.Throughput, text(r))
	}
}

// Throughput counts only the calls that succeeded, and says how many did not.
func TestThroughputCountsOnlySuccesses(t *testing.T) {
	corpus := int64(len(Corpus()))
	r := runFake(t, func(plugin.Options) *fake {
		return &fake{answer: func(_ *fake, n, _ int64) (*protocol.ProcessResponse, error) {
			if n < corpus || n%2 == 0 {
				return honesty(), nil
			}
			return nil, crash("process died")
		}}
	})
	c, _ := r.Check("throughput")
	if c.Status != Pass || !strings.Contains(strings.Join(c.Details, "\n"), "not counted:") {
		t.Fatalf("throughput %s: %s %q, want a measure that says which calls it did not count", c.Status, c.Reason, c.Details)
	}
	var done, failed, calls int
	for _, d := range c.Details {
		fmt.Sscanf(d, "%d conversations in", &done)
		fmt.Sscanf(d, "not counted: %d of %d calls failed", &failed, &calls)
	}
	if done == 0 || failed == 0 || done+failed != calls {
		t.Errorf("counted %d, not counted %d of %d calls: %q", done, failed, calls, c.Details)
	}
}

// The concurrency check says what went wrong when calls in parallel fail:
// a crash or a deadline is not shared state, which is all it used to say.
func TestConcurrencySaysWhatFailed(t *testing.T) {
	for _, c := range []struct {
		kind plugin.CallErrorKind
		want string
	}{
		{plugin.Crashed, "a crash"},
		{plugin.Timeout, "a deadline overrun"},
		{plugin.Trap, "a trap"},
		{plugin.Malformed, "a malformed reply"},
	} {
		t.Run(c.kind.String(), func(t *testing.T) {
			r := runFake(t, func(plugin.Options) *fake {
				return &fake{delay: 2 * time.Millisecond, answer: func(_ *fake, _, inflight int64) (*protocol.ProcessResponse, error) {
					if inflight > 1 {
						return nil, &plugin.CallError{Plugin: "fake", Kind: c.kind, Err: errors.New("it failed")}
					}
					return honesty(), nil
				}}
			})
			ch, _ := r.Check("concurrency")
			if ch.Status != Fail || !strings.Contains(ch.Reason, c.want) || strings.Contains(ch.Reason, "shared") {
				t.Errorf("concurrency %s: %s\nwant a failure naming %q, not blaming shared state", ch.Status, ch.Reason, c.want)
			}
		})
	}
	// Different answers are still shared state.
	r := runFake(t, func(plugin.Options) *fake {
		return &fake{delay: 2 * time.Millisecond, answer: func(_ *fake, _, inflight int64) (*protocol.ProcessResponse, error) {
			if inflight > 1 {
				return &protocol.ProcessResponse{Annotations: []protocol.Annotation{{Items: []protocol.Item{{Name: "haste"}}}}}, nil
			}
			return honesty(), nil
		}}
	})
	if ch, _ := r.Check("concurrency"); ch.Status != Fail || !strings.Contains(ch.Reason, "keep no state shared") {
		t.Errorf("concurrency %s: %s\nwant a failure blaming shared state", ch.Status, ch.Reason)
	}
}

// Nothing a plugin says reaches the terminal raw: not its manifest, not its
// stderr, not its errors. A version of "\x1b[2J" used to clear the screen of
// whoever ran the kit.
func TestReportEscapesWhatPluginsSay(t *testing.T) {
	hostile := "\x1b[2J\x1b]0;owned\x07\u202egnp.exe\x9b"
	r := runFake(t, func(opts plugin.Options) *fake {
		return &fake{m: protocol.Manifest{Name: "fake" + hostile, Version: hostile, ABI: protocol.ABI, Kind: protocol.Extractor, Field: "ai_values"},
			answer: func(f *fake, n, _ int64) (*protocol.ProcessResponse, error) {
				f.opts.Log.Info("panic: " + hostile + strings.Repeat("x", 10000))
				return nil, &plugin.CallError{Plugin: "fake", Kind: plugin.Trap, Err: errors.New("wasm error: unreachable " + hostile)}
			}}
	})
	out := text(r)
	for _, b := range []byte(out) {
		if b == '\n' {
			continue
		}
		if b < 0x20 || b == 0x7f {
			t.Fatalf("the report holds the control byte %#x:\n%q", b, out)
		}
	}
	for _, r := range out {
		if r != '\n' && (unicode.IsControl(r) || unicode.Is(unicode.Cf, r)) {
			t.Fatalf("the report holds %U:\n%q", r, out)
		}
	}
	if !strings.Contains(out, `\x1b[2J`) || !strings.Contains(out, `\u202e`) {
		t.Errorf("the report does not show the escapes as text:\n%s", out)
	}
	for _, line := range strings.Split(out, "\n") {
		if len(line) > 3*maxLine {
			t.Errorf("a line of %d bytes: %.200s...", len(line), line)
		}
	}
	if strings.Contains(string(r.JSON()), strings.Repeat("x", 1000)) {
		t.Error("the JSON report quotes the plugin's 10,000-byte stderr line whole")
	}
}

// A reply with an error and annotations is a protocol violation, not an
// error (sdk/ABI.md); an empty reply is valid: nothing found.
func TestReplyShapes(t *testing.T) {
	r := runFake(t, func(plugin.Options) *fake {
		return &fake{answer: func(*fake, int64, int64) (*protocol.ProcessResponse, error) {
			resp := honesty()
			resp.Error = "and also an error"
			return resp, nil
		}}
	})
	if c, _ := r.Check("outputs"); c.Status != Fail || !strings.Contains(c.Reason, "protocol violation") {
		t.Errorf("outputs %s: %s\nwant a protocol violation for an error sent with annotations", c.Status, c.Reason)
	}
	r = runFake(t, func(plugin.Options) *fake {
		return &fake{answer: func(*fake, int64, int64) (*protocol.ProcessResponse, error) { return &protocol.ProcessResponse{}, nil }}
	})
	if !r.OK() {
		t.Errorf("an empty reply failed %v:\n%s", r.FailedChecks(), text(r))
	}
}

// A reply over a limit fails limits, saying which, and skips what needs the
// plugin to finish within its limits.
func TestReplyOverLimits(t *testing.T) {
	for name, resp := range map[string]*protocol.ProcessResponse{
		"error":     {Error: strings.Repeat("e", protocol.MaxErrorBytes+1)},
		"items":     {Annotations: []protocol.Annotation{{Items: make([]protocol.Item, protocol.MaxItems+1)}}},
		"attribute": {Annotations: []protocol.Annotation{{Items: []protocol.Item{{Name: "honesty", Attrs: map[string]string{"quote": strings.Repeat("q", protocol.MaxAttrValueBytes+1)}}}}}},
	} {
		t.Run(name, func(t *testing.T) {
			r := runFake(t, func(plugin.Options) *fake {
				return &fake{answer: func(*fake, int64, int64) (*protocol.ProcessResponse, error) { return resp, nil }}
			})
			c, _ := r.Check("limits")
			if c.Status != Fail || !strings.Contains(c.Reason, "over the protocol's limits") || !strings.Contains(c.Reason, "limit of") && !strings.Contains(c.Reason, "-byte limit") {
				t.Errorf("limits %s: %s", c.Status, c.Reason)
			}
			if failed := r.FailedChecks(); len(failed) != 1 {
				t.Errorf("failed %v, want only limits:\n%s", failed, text(r))
			}
		})
	}
}
