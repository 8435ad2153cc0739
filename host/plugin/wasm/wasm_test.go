package wasm_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valuescope/valuescope/host/plugin/callerr"
	"github.com/valuescope/valuescope/host/plugin/wasm"
	"github.com/valuescope/valuescope/internal/testplugins"
	"github.com/valuescope/valuescope/sdk/protocol"
)

// quiet drops the plugins' stderr (the Go runtime's traces of the deliberate crashes).
var quiet = slog.New(slog.DiscardHandler)

var conv = &protocol.Conversation{ID: "c1", Turns: []protocol.Turn{
	{Role: "user", Content: "Should I tell my friend the truth?"},
	{Role: "assistant", Content: "Honesty matters, and so does kindness."},
}}

func load(t *testing.T, mode string, opts wasm.Options) *wasm.Plugin {
	t.Helper()
	opts.Config = protocol.ConfigureRequest{ConfigJSON: `{"mode": "` + mode + `"}`}
	opts.CacheDir = filepath.Join(os.TempDir(), "valuescope-test-wazero")
	opts.Log = quiet
	p, err := wasm.Load(context.Background(), testplugins.Wasm(t, "echo", ""), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func process(t *testing.T, p *wasm.Plugin) (*protocol.ProcessResponse, error) {
	t.Helper()
	return p.Process(context.Background(), &protocol.ProcessRequest{Conversation: conv})
}

func TestEcho(t *testing.T) {
	p := load(t, "echo", wasm.Options{})
	if m := p.Manifest(); m.Name != "echo" || m.ABI != 1 || m.Kind != "extractor" {
		t.Fatalf("manifest %+v", m)
	}
	resp, err := process(t, p)
	if err != nil {
		t.Fatal(err)
	}
	items := resp.Annotations[0].Items
	if len(items) != 2 || items[0].Name != "user 7" || items[1].Name != "assistant 6" {
		t.Fatalf("items %+v", items)
	}
}

// Every failure fails that one call with a clear error; the next call works.
func TestMisbehaviour(t *testing.T) {
	cases := []struct {
		mode string
		opts wasm.Options
		want string
		kind callerr.Kind
	}{
		{"panic", wasm.Options{}, "", 0}, // the SDK recovers: a response error, not a failure
		{"trap", wasm.Options{}, "trap: wasm error: unreachable (a Go plugin ends here on a fatal runtime error", callerr.Trap},
		{"loop", wasm.Options{Deadline: 300 * time.Millisecond}, "deadline: did not finish within 300ms", callerr.Timeout},
		{"oom", wasm.Options{MemoryLimit: 64 << 20}, "trap: wasm error: unreachable", callerr.Trap},
	}
	for _, c := range cases {
		t.Run(c.mode, func(t *testing.T) {
			p := load(t, c.mode, c.opts)
			resp, err := process(t, p)
			if c.want == "" {
				if err != nil || !strings.Contains(resp.Error, "plugin panicked") {
					t.Fatalf("got %+v, %v", resp, err)
				}
				return
			}
			var trap *callerr.Error
			if !errors.As(err, &trap) || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "conversation c1") {
				t.Fatalf("got %v; want a call error with %q naming the conversation", err, c.want)
			}
			if trap.Kind != c.kind || trap.Conversation != "c1" || trap.Plugin == "" || !errors.Is(err, &callerr.Error{Kind: c.kind}) {
				t.Fatalf("call error %+v: want kind %v for conversation c1, naming the plugin", trap, c.kind)
			}
			if c.mode == "trap" && !strings.Contains(err.Error(), "unrecoverable: a goroutine panicked") {
				t.Fatalf("the error does not quote the plugin's stderr: %v", err)
			}
			// The instance was replaced, and the replacement misbehaves the
			// same way (its config was replayed), but the host is fine.
			if _, err := process(t, p); !errors.As(err, &trap) {
				t.Fatalf("second call: %v", err)
			}
		})
	}
}

func TestRawModules(t *testing.T) {
	cases := []struct {
		ldflags string
		loadErr string
		procErr string
	}{
		{"-X main.abi=2", "speaks plugin ABI 2; this host speaks ABI 1", ""},
		{"-X main.reply=garbage", "", "malformed reply"},
		{"-X main.reply=oob", "", "outside the module's memory"},
		{"-X main.reply=huge", "", "over the 8388608-byte limit"},
		{"", "", ""},
	}
	for _, c := range cases {
		t.Run(c.ldflags, func(t *testing.T) {
			p, err := wasm.Load(context.Background(), testplugins.Wasm(t, "raw", c.ldflags), wasm.Options{CacheDir: filepath.Join(os.TempDir(), "valuescope-test-wazero"), Log: quiet})
			if c.loadErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.loadErr) {
					t.Fatalf("load: %v; want %q", err, c.loadErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			resp, err := process(t, p)
			if c.procErr == "" {
				if err != nil || len(resp.Annotations) != 1 {
					t.Fatalf("got %+v, %v", resp, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.procErr) {
				t.Fatalf("got %v; want %q", err, c.procErr)
			}
		})
	}
}

func TestNotAPlugin(t *testing.T) {
	// The smallest valid module: magic and version, nothing else.
	_, err := wasm.Load(context.Background(), []byte("\x00asm\x01\x00\x00\x00"), wasm.Options{CacheDir: filepath.Join(os.TempDir(), "valuescope-test-wazero"), Log: quiet})
	if err == nil || !strings.Contains(err.Error(), "not a valuescope plugin: missing export(s) vs_abi") {
		t.Fatalf("got %v", err)
	}
	if _, err := wasm.Load(context.Background(), []byte("not wasm"), wasm.Options{CacheDir: filepath.Join(os.TempDir(), "valuescope-test-wazero"), Log: quiet}); err == nil || !strings.Contains(err.Error(), "not a valid WebAssembly module") {
		t.Fatalf("got %v", err)
	}
}

func TestConfigureRefused(t *testing.T) {
	_, err := wasm.Load(context.Background(), testplugins.Wasm(t, "echo", ""), wasm.Options{CacheDir: filepath.Join(os.TempDir(), "valuescope-test-wazero"), Log: quiet,
		Config: protocol.ConfigureRequest{ConfigJSON: `{"mood": "x"}`}})
	if err == nil || !strings.Contains(err.Error(), "configuration refused") || !strings.Contains(err.Error(), "mood") {
		t.Fatalf("got %v", err)
	}
}

// Many goroutines share a pool of two instances; every answer is right.
func TestConcurrent(t *testing.T) {
	p := load(t, "echo", wasm.Options{Instances: 2})
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for range 64 {
		wg.Go(func() {
			resp, err := process(t, p)
			if err == nil && (len(resp.Annotations) != 1 || resp.Annotations[0].Items[1].Name != "assistant 6") {
				err = errors.New("wrong answer")
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}
