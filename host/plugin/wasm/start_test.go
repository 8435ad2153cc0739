package wasm_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/valuescope/valuescope/host/plugin/callerr"
	"github.com/valuescope/valuescope/host/plugin/wasm"
)

// hostile reads one of the hand-written modules in testdata (built from its
// .wat by wat2wasm; TestHostileModulesBuilt checks they match).
func hostile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name+".wasm"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// loadWithin loads mod and fails the test if Load has not returned within
// limit: before the start-up deadline, these modules hung Load for ever.
func loadWithin(t *testing.T, mod []byte, opts wasm.Options, limit time.Duration) (*wasm.Plugin, error, time.Duration) {
	t.Helper()
	opts.CacheDir = "off"
	opts.Log = quiet
	type result struct {
		p   *wasm.Plugin
		err error
	}
	done := make(chan result, 1)
	start := time.Now()
	go func() {
		p, err := wasm.Load(context.Background(), mod, opts)
		done <- result{p, err}
	}()
	select {
	case r := <-done:
		return r.p, r.err, time.Since(start)
	case <-time.After(limit):
		t.Fatalf("Load has not returned after %s", limit)
		return nil, nil, 0
	}
}

// A module that loops in its start section, in _initialize or in
// vs_describe fails Load at the start-up deadline, with an error that names
// the plugin and says it did not start in time. describeloop's calls have a
// deadline of a minute: the start-up deadline bounds loading as a whole.
func TestStartTimeout(t *testing.T) {
	for _, name := range []string{"startloop", "initloop", "describeloop"} {
		t.Run(name, func(t *testing.T) {
			opts := wasm.Options{Name: name + ".wasm", StartTimeout: 500 * time.Millisecond, Deadline: time.Minute}
			p, err, took := loadWithin(t, hostile(t, name), opts, 20*time.Second)
			if err == nil {
				p.Close()
				t.Fatal("loaded")
			}
			if !strings.HasPrefix(err.Error(), name+".wasm: ") || !strings.Contains(err.Error(), "did not start within 500ms") {
				t.Errorf("error %q: want it to name the plugin and say it did not start within 500ms", err)
			}
			if !errors.Is(err, &callerr.Error{Kind: callerr.Timeout}) {
				t.Errorf("error %q: want a call error of kind Timeout", err)
			}
			if took > 10*time.Second {
				t.Errorf("took %s with a start-up deadline of 500ms", took)
			}
		})
	}
}

// A plugin without deadlines (a built-in) is trusted: it gets no start-up
// deadline either, so even one far shorter than its start-up does not cut
// it off.
func TestStartTimeoutOnlyWithDeadlines(t *testing.T) {
	p := load(t, "echo", wasm.Options{StartTimeout: time.Nanosecond, Deadline: -1})
	if p.Manifest().Name != "echo" {
		t.Fatalf("manifest %+v", p.Manifest())
	}
}

// The committed .wasm files are what wat2wasm makes of their .wat sources
// (checked where wabt is installed, as in CI), so that what the tests run is
// what the sources say.
func TestHostileModulesBuilt(t *testing.T) {
	wat2wasm, err := exec.LookPath("wat2wasm")
	if err != nil {
		t.Skip("wat2wasm (wabt) is not installed")
	}
	sources, _ := filepath.Glob(filepath.Join("testdata", "*.wat"))
	if len(sources) == 0 {
		t.Fatal("no .wat sources in testdata")
	}
	for _, src := range sources {
		out := filepath.Join(t.TempDir(), "out.wasm")
		if msg, err := exec.Command(wat2wasm, src, "-o", out).CombinedOutput(); err != nil {
			t.Fatalf("wat2wasm %s: %v\n%s", src, err, msg)
		}
		built, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		committed, err := os.ReadFile(strings.TrimSuffix(src, ".wat") + ".wasm")
		if err != nil {
			t.Fatalf("%s has no .wasm beside it: run wat2wasm %s -o %s.wasm", src, src, strings.TrimSuffix(src, ".wat"))
		}
		if !bytes.Equal(built, committed) {
			t.Errorf("%s.wasm is not what wat2wasm makes of %s: rebuild it (wat2wasm %s -o %s.wasm)", strings.TrimSuffix(src, ".wat"), src, src, strings.TrimSuffix(src, ".wat"))
		}
	}
}

// A configuration refusal over the protocol's error limit fails Load with a
// short error; before, the whole message was quoted.
func TestConfigureErrorLimit(t *testing.T) {
	p, err, _ := loadWithin(t, hostile(t, "configerror"), wasm.Options{Name: "configerror.wasm"}, 20*time.Second)
	if err == nil {
		p.Close()
		t.Fatal("loaded")
	}
	if !strings.Contains(err.Error(), "an error message of 5000 bytes, over the 4096-byte limit") || len(err.Error()) > 300 {
		t.Errorf("error %.300q (%d bytes): want a short one saying the message is over the limit", err, len(err.Error()))
	}
}
