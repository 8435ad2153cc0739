package conformance_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valuescope/valuescope/conformance"
	"github.com/valuescope/valuescope/host/plugin"
	"github.com/valuescope/valuescope/internal/testplugins"
	"github.com/valuescope/valuescope/plugins"
)

// quick keeps the throughput measurement short in tests.
var quick = conformance.Options{ThroughputTime: 200 * time.Millisecond}

// Every built-in plugin passes; and there is one of every kind in the host's
// table (plugin.Kinds), so that the kit is driven through each kind's inputs
// and output checks.
func TestBuiltins(t *testing.T) {
	kinds, ran := map[string][]string{}, 0
	for _, b := range plugins.All {
		t.Run(b.Name, func(t *testing.T) {
			r := conformance.Test(t, "builtin:"+b.Name, quick)
			if testing.Verbose() {
				r.WriteText(os.Stderr, true)
			}
			ran++
			if r.Manifest != nil {
				kinds[r.Manifest.Kind] = append(kinds[r.Manifest.Kind], b.Name)
			}
		})
	}
	if ran < len(plugins.All) {
		return // -run picked some
	}
	for _, k := range plugin.Kinds() {
		if len(kinds[k.Kind]) == 0 {
			t.Errorf("no built-in plugin is a %s: the conformance kit's handling of that kind is not exercised", k.Kind)
		}
	}
}

// The Python example plugin passes.
func TestPython(t *testing.T) {
	r := conformance.Test(t, "grpc:"+strings.Join(python(t), " "), quick)
	if testing.Verbose() {
		r.WriteText(os.Stderr, true)
	}
}

// galleryCase is a broken plugin of testdata, with the one check it was
// made to break.
type galleryCase struct {
	name, check string
	// src is what the plugin is made of: "go" a Wasm module built from Go,
	// "grpc" a gRPC plugin built from Go, "wat" a Wasm module in WebAssembly
	// text (testdata/NAME/NAME.wat, built to the committed NAME.wasm), "sh"
	// a shell script wrapping the Python example plugin.
	src string
	// want is a phrase the check's reason must hold ("" when any will do).
	want string
}

var gallery = []galleryCase{
	{name: "badmanifest", check: "manifest", src: "go"},
	{name: "wrongabi", check: "manifest", src: "go"},
	{name: "initloop", check: "manifest", src: "wat", want: "start-up deadline"},
	{name: "startloop", check: "manifest", src: "wat", want: "start-up deadline"},
	{name: "trapconfig", check: "configure", src: "go"},
	{name: "lenientconfig", check: "configure", src: "go"},
	{name: "badlabel", check: "outputs", src: "go"},
	{name: "badnames", check: "outputs", src: "go"},
	{name: "badnamer", check: "outputs", src: "go"},
	{name: "nondeterministic", check: "determinism", src: "go"},
	{name: "trapmodel", check: "models", src: "go"},
	{name: "traphostile", check: "hostile", src: "go"},
	{name: "slow", check: "limits", src: "go"},
	{name: "memhog", check: "limits", src: "go"},
	{name: "hugeattr", check: "limits", src: "wat", want: "over the protocol's limits"},
	{name: "hugeerror", check: "limits", src: "wat", want: "over the protocol's limits"},
	{name: "manyitems", check: "limits", src: "wat", want: "100000 items"},
	{name: "envimport", check: "capabilities", src: "go"},
	{name: "racy", check: "concurrency", src: "grpc"},
	{name: "orphanpipe", check: "shutdown", src: "sh", want: "process group of its own"},
}

// galleryOptions are the kit's options for a broken plugin: short deadlines
// where the plugin waits for one.
func galleryOptions(name string) conformance.Options {
	opts := quick
	switch name {
	case "slow":
		opts.Deadline = time.Second // it waits for the deadline once
	case "initloop", "startloop":
		opts.StartTimeout = time.Second
	}
	return opts
}

// Each broken plugin fails exactly the check it was made to break, with a
// reason, and promptly: none makes the kit hang (a start-up loop, a child
// holding a gRPC plugin's pipes used to).
func TestGallery(t *testing.T) {
	// Build the Go ones two at a time (cached across runs).
	refs := make([]string, len(gallery))
	sem := make(chan struct{}, 2)
	var wg sync.WaitGroup
	for i, g := range gallery {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			dir := "conformance/testdata/" + g.name
			switch g.src {
			case "grpc":
				refs[i] = "grpc:" + testplugins.Binary(t, dir)
			case "go":
				refs[i] = testplugins.WasmPackage(t, dir, "")
			case "wat":
				refs[i] = filepath.Join("testdata", g.name, g.name+".wasm")
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	for i, g := range gallery {
		t.Run(g.name, func(t *testing.T) {
			t.Parallel()
			ref := refs[i]
			if g.src == "sh" {
				ref = "grpc:/bin/sh " + filepath.Join("testdata", g.name, g.name+".sh") + " " + strings.Join(python(t), " ")
			}
			// A generous bound: the kit must end, whatever the plugin does.
			const bound = 40 * time.Second
			ctx, cancel := context.WithTimeout(t.Context(), bound)
			defer cancel()
			start := time.Now()
			r := conformance.Run(ctx, ref, galleryOptions(g.name))
			var text strings.Builder
			r.WriteText(&text, false)
			if ctx.Err() != nil {
				t.Fatalf("the kit did not finish within %s (it stopped only when its context ended):\n%s", bound, text.String())
			}
			if failed := r.FailedChecks(); !slices.Equal(failed, []string{g.check}) {
				t.Fatalf("failed checks %v, want [%s]\n%s", failed, g.check, text.String())
			}
			c, _ := r.Check(g.check)
			if c.Reason == "" || !strings.Contains(c.Reason, g.want) {
				t.Fatalf("check %s failed with the reason %q, want one saying %q", g.check, c.Reason, g.want)
			}
			t.Logf("%s in %s\n%s", ref, time.Since(start).Round(time.Millisecond), text.String())
		})
	}
}

// The gallery's WebAssembly text and the committed modules agree: when
// wat2wasm is on PATH (CI installs wabt), each .wat is built again and must
// give the committed .wasm byte for byte.
func TestGallerySources(t *testing.T) {
	wat2wasm, err := exec.LookPath("wat2wasm")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("no wat2wasm on PATH (apt-get install wabt)")
		}
		t.Skip("no wat2wasm on PATH (apt-get install wabt)")
	}
	for _, g := range gallery {
		if g.src != "wat" {
			continue
		}
		src := filepath.Join("testdata", g.name, g.name+".wat")
		out := filepath.Join(t.TempDir(), g.name+".wasm")
		if b, err := exec.Command(wat2wasm, src, "-o", out).CombinedOutput(); err != nil {
			t.Errorf("wat2wasm %s: %v\n%s", src, err, b)
			continue
		}
		built, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		committed, err := os.ReadFile(filepath.Join("testdata", g.name, g.name+".wasm"))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(built, committed) {
			t.Errorf("%s builds to %d bytes that differ from the committed %s.wasm (%d bytes): rebuild it with wat2wasm %s.wat -o %s.wasm",
				src, len(built), g.name, len(committed), g.name, g.name)
		}
	}
}

// Every check that can fail has a broken plugin in the gallery that fails it,
// so that none can silently pass.
func TestGalleryCoversEveryCheck(t *testing.T) {
	for _, c := range conformance.Checks {
		if c.Informational {
			continue
		}
		if !slices.ContainsFunc(gallery, func(g galleryCase) bool { return g.check == c.Name }) {
			t.Errorf("no broken plugin in the gallery fails the %s check", c.Name)
		}
	}
}

// python returns the command running the example Python plugin, with its
// message classes generated by protoc into a temp folder; it skips the test
// when Python's grpc or protoc is missing (and fails under CI=true).
func python(t *testing.T) []string {
	t.Helper()
	skip := func(format string, args ...any) {
		t.Helper()
		if os.Getenv("CI") == "true" {
			t.Fatalf(format, args...)
		}
		t.Skipf(format, args...)
	}
	py := "/usr/bin/python3" // Debian's python3-grpcio is for this one
	if _, err := os.Stat(py); err != nil {
		if py, err = exec.LookPath("python3"); err != nil {
			skip("no python3")
		}
	}
	if out, err := exec.Command(py, "-c", "import grpc, google.protobuf").CombinedOutput(); err != nil {
		skip("%s has no grpc or protobuf (apt-get install python3-grpcio python3-protobuf): %s", py, out)
	}
	protoc, err := exec.LookPath("protoc")
	if err != nil {
		skip("no protoc (apt-get install protobuf-compiler)")
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	gen := exec.Command(protoc, "-I", filepath.Join(root, "sdk", "proto", "valuescope", "plugin", "v1"), "--python_out="+dir, "plugin.proto")
	if out, err := gen.CombinedOutput(); err != nil {
		t.Fatalf("protoc: %v\n%s", err, out)
	}
	src, err := os.ReadFile(filepath.Join(root, "sdk", "examples", "python", "keyword_values.py"))
	if err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(dir, "keyword_values.py")
	if err := os.WriteFile(script, src, 0o644); err != nil {
		t.Fatal(err)
	}
	return []string{py, script}
}

// The C example (sdk/examples/c), a second-language Wasm plugin written
// from sdk/ABI.md alone, passes the kit; and the committed module is what
// its source builds to, when clang is on PATH (CI installs clang and lld).
func TestCExample(t *testing.T) {
	dir := filepath.Join("..", "sdk", "examples", "c")
	committed := filepath.Join(dir, "keyword_values.wasm")
	if _, err := exec.LookPath("clang"); err == nil {
		out := filepath.Join(t.TempDir(), "keyword_values.wasm")
		if b, err := exec.Command("/bin/sh", filepath.Join(dir, "build.sh"), out).CombinedOutput(); err != nil {
			t.Fatalf("build.sh: %v\n%s", err, b)
		}
		built, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		want, err := os.ReadFile(committed)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(built, want) {
			t.Errorf("keyword_values.c builds to %d bytes that differ from the committed keyword_values.wasm (%d bytes): run sdk/examples/c/build.sh", len(built), len(want))
		}
	} else if os.Getenv("CI") == "true" {
		t.Fatal("no clang on PATH (apt-get install clang lld)")
	}
	r := conformance.Test(t, committed, quick)
	if testing.Verbose() {
		r.WriteText(os.Stderr, true)
	}
	if r.Manifest == nil || r.Manifest.Name != "keyword-values-c" {
		t.Errorf("manifest %+v", r.Manifest)
	}
}
