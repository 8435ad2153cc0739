//go:build unix

package grpc_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"log/slog"

	"github.com/valuescope/valuescope/host/plugin"
	"github.com/valuescope/valuescope/host/plugin/callerr"
	"github.com/valuescope/valuescope/host/plugin/grpc"
	"github.com/valuescope/valuescope/host/plugin/grpc/internal/testplugin"
	"github.com/valuescope/valuescope/internal/testplugins"
	"github.com/valuescope/valuescope/sdk/protocol"
)

// quiet drops the plugins' stderr and the restarts.
var quiet = slog.New(slog.DiscardHandler)

var conv = &protocol.Conversation{ID: "c1", Turns: []protocol.Turn{
	{Role: "user", Content: "Should I tell my friend the truth?"},
	{Role: "assistant", Content: "Honesty matters, and so does kindness."},
}}

// misbehaving is conv under another id, asking the test plugin for a mode.
func misbehaving(id, mode string) *protocol.Conversation {
	c := *conv
	c.ID, c.MetaJSON = id, `{"mode": "`+mode+`"}`
	return &c
}

func load(t testing.TB, mode string, opts grpc.Options, args ...string) *grpc.Plugin {
	t.Helper()
	if opts.Config.ConfigJSON == "" {
		opts.Config = protocol.ConfigureRequest{ConfigJSON: `{"mode": "` + mode + `"}`}
	}
	if opts.Log == nil {
		opts.Log = quiet
	}
	p, err := grpc.Load(context.Background(), append([]string{goPlugin(t)}, args...), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func process(p *grpc.Plugin, c *protocol.Conversation) (*protocol.ProcessResponse, error) {
	return p.Process(context.Background(), &protocol.ProcessRequest{Conversation: c})
}

// echoes checks the test plugin's answer to conv.
func echoes(t *testing.T, p *grpc.Plugin) {
	t.Helper()
	resp, err := process(p, conv)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Annotations) != 1 {
		t.Fatalf("response %+v", resp)
	}
	items := resp.Annotations[0].Items
	if len(items) != 2 || items[0].Name != "user 7" || items[1].Name != "assistant 6" {
		t.Fatalf("items %+v", items)
	}
}

// eventually polls cond for up to 5 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("still not %s after 5s", what)
		}
	}
}

func alive(pid int) bool { return pid > 0 && syscall.Kill(pid, 0) == nil }

func TestEcho(t *testing.T) {
	noLeftovers(t)
	var log logBuffer
	p := load(t, "echo", grpc.Options{Log: log.logger()})
	if m := p.Manifest(); m.Name != "goplugin" || m.ABI != 1 || m.Kind != "extractor" || m.Field != "echo" {
		t.Fatalf("manifest %+v", m)
	}
	echoes(t, p)
	// What the plugin writes to stderr is logged under its name.
	eventually(t, "logged", func() bool {
		return strings.Contains(log.String(), `msg="goplugin: configured, mode echo" plugin=goplugin`)
	})
}

func TestRounds(t *testing.T) {
	p := load(t, "rounds", grpc.Options{})
	models := &fakeModels{answers: []string{"garbage", "Honesty"}}
	anns, err := plugin.Annotate(context.Background(), p, conv, models, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := []protocol.Annotation{{Items: []protocol.Item{{Name: "honesty", Attrs: map[string]string{"state": "repair", "round": "2"}}}}}
	if !reflect.DeepEqual(anns, want) || models.calls != 2 {
		t.Fatalf("got %+v after %d model calls; want %+v after 2", anns, models.calls, want)
	}
}

// A plugin's own failures come back as errors in the response, or as
// annotations Annotate refuses; the process is fine.
func TestPluginErrors(t *testing.T) {
	p := load(t, "echo", grpc.Options{})
	resp, err := process(p, misbehaving("p1", "panic"))
	if err != nil || !strings.Contains(resp.Error, "plugin panicked") {
		t.Fatalf("panic: got %+v, %v", resp, err)
	}
	_, err = plugin.Annotate(context.Background(), p, misbehaving("b1", "badlabel"), nil, 0)
	var perr *plugin.PluginError
	if !errors.As(err, &perr) || !strings.Contains(err.Error(), `label "not-declared" not in the manifest's labels`) {
		t.Fatalf("badlabel: got %v", err)
	}
	resp, err = process(p, nil)
	if err != nil || resp.Error != "request has no conversation" {
		t.Fatalf("no conversation: got %+v, %v", resp, err)
	}
	echoes(t, p)
}

// A call that overruns the deadline fails; its process is replaced, and
// killed, and the next call works.
func TestDeadline(t *testing.T) {
	noLeftovers(t)
	p := load(t, "echo", grpc.Options{Deadline: 300 * time.Millisecond})
	old := p.PID()
	start := time.Now()
	_, err := process(p, misbehaving("s1", "sleep"))
	var ce *callerr.Error
	if !errors.As(err, &ce) || ce.Kind != callerr.Timeout || ce.Conversation != "s1" || !strings.Contains(err.Error(), "goplugin: conversation s1: deadline: did not finish within 300ms") {
		t.Fatalf("got %v", err)
	}
	t.Log(err)
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("the call took %s", d)
	}
	echoes(t, p)
	if pid := p.PID(); pid == old || pid == 0 {
		t.Fatalf("pid %d, was %d: want a new process", pid, old)
	}
	eventually(t, "killed the old process", func() bool { return !alive(old) })
}

// A process killed in the middle of a call fails that call, clearly; the
// next call starts a new process.
func TestKilledMidCall(t *testing.T) {
	noLeftovers(t)
	p := load(t, "echo", grpc.Options{Deadline: time.Minute})
	old := p.PID()
	errc := make(chan error, 1)
	go func() {
		_, err := process(p, misbehaving("k1", "sleep"))
		errc <- err
	}()
	time.Sleep(300 * time.Millisecond) // the call is in the plugin, asleep
	if err := syscall.Kill(old, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	var err error
	select {
	case err = <-errc:
	case <-time.After(5 * time.Second):
		t.Fatal("the call did not fail within 5s of the kill")
	}
	var ce *callerr.Error
	if !errors.As(err, &ce) || ce.Kind != callerr.Crashed || ce.Conversation != "k1" ||
		!strings.Contains(err.Error(), fmt.Sprintf("goplugin: conversation k1: crash: the plugin process (pid %d) died during the call (signal: killed)", old)) {
		t.Fatalf("got %v", err)
	}
	t.Log(err)
	echoes(t, p)
	if pid := p.PID(); pid == old || pid == 0 {
		t.Fatalf("pid %d, was %d: want a new process", pid, old)
	}
}

func TestExitMidCall(t *testing.T) {
	noLeftovers(t)
	p := load(t, "echo", grpc.Options{})
	_, err := process(p, misbehaving("x1", "exit"))
	var ce *callerr.Error
	if !errors.As(err, &ce) || ce.Kind != callerr.Crashed || ce.Plugin != "goplugin" || !errors.Is(err, &callerr.Error{Kind: callerr.Crashed}) || !strings.Contains(err.Error(), "conversation x1: crash:") || !strings.Contains(err.Error(), "died during the call (exit status 3)") {
		t.Fatalf("got %v", err)
	}
	t.Log(err)
	echoes(t, p)
}

func TestWrongVersion(t *testing.T) {
	noLeftovers(t)
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"-abi=2"}, "goplugin: speaks plugin ABI 2; this host speaks ABI 1"},
		{[]string{"-handshake=2"}, "speaks plugin protocol version 2; this host speaks version 1"},
	}
	for _, c := range cases {
		t.Run(c.args[0], func(t *testing.T) {
			p, err := grpc.Load(context.Background(), append([]string{goPlugin(t)}, c.args...), grpc.Options{Log: quiet})
			if err == nil {
				p.Close()
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v; want %q", err, c.want)
			}
			t.Log(err)
		})
	}
}

func TestNotAPlugin(t *testing.T) {
	noLeftovers(t)
	_, err := grpc.Load(context.Background(), []string{"/bin/sh", "-c", "echo hello; echo oops >&2"}, grpc.Options{Log: quiet})
	if err == nil || !strings.Contains(err.Error(), `sh: starting /bin/sh: its first line on stdout, "hello", is not a go-plugin handshake`) {
		t.Fatalf("got %v", err)
	}
	_, err = grpc.Load(context.Background(), []string{"/bin/sh", "-c", "echo cannot start >&2; exit 7"}, grpc.Options{Log: quiet})
	if err == nil || !strings.Contains(err.Error(), "the process exited (exit status 7) before its handshake") || !strings.Contains(err.Error(), "the last lines on its stderr: cannot start") {
		t.Fatalf("got %v", err)
	}
	_, err = grpc.Load(context.Background(), []string{filepath.Join(t.TempDir(), "missing")}, grpc.Options{Log: quiet})
	if err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Fatalf("got %v", err)
	}
}

func TestConfigureRefused(t *testing.T) {
	_, err := grpc.Load(context.Background(), []string{goPlugin(t)}, grpc.Options{Log: quiet,
		Config: protocol.ConfigureRequest{ConfigJSON: `{"mood": "x"}`}})
	if err == nil || !strings.Contains(err.Error(), "goplugin: configuration refused") || !strings.Contains(err.Error(), "mood") {
		t.Fatalf("got %v", err)
	}
}

// Many calls share one process; after it dies, the concurrent calls that
// find it dead restart it once between them.
func TestConcurrent(t *testing.T) {
	noLeftovers(t)
	var log logBuffer
	p := load(t, "echo", grpc.Options{Log: log.logger()})
	run := func(n int) {
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for range n {
			wg.Go(func() {
				resp, err := process(p, conv)
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
	run(64)
	old := p.PID()
	if err := syscall.Kill(old, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	eventually(t, "seen the process die", func() bool { return p.PID() == 0 })
	run(16)
	if n := strings.Count(log.String(), "restarting plugin"); n != 1 {
		t.Fatalf("%d restarts logged, want 1", n)
	}
}

func TestClose(t *testing.T) {
	noLeftovers(t)
	p := load(t, "echo", grpc.Options{Deadline: time.Minute})
	pid := p.PID()
	errc := make(chan error, 1)
	go func() {
		_, err := process(p, misbehaving("k1", "sleep"))
		errc <- err
	}()
	time.Sleep(200 * time.Millisecond)
	start := time.Now()
	p.Close()
	if d := time.Since(start); d > 4*time.Second {
		t.Fatalf("Close took %s", d)
	}
	if err := <-errc; !errors.Is(err, grpc.ErrClosed) {
		t.Fatalf("call in flight: got %v", err)
	}
	if _, err := process(p, conv); !errors.Is(err, grpc.ErrClosed) {
		t.Fatalf("after Close: got %v", err)
	}
	eventually(t, "ended the process", func() bool { return !alive(pid) })
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
	// Debian's python3-grpcio is for /usr/bin/python3; a python3 earlier on
	// PATH (pyenv) may not have it.
	py := "/usr/bin/python3"
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
	root := testplugins.ModuleRoot(t)
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

func TestPython(t *testing.T) {
	noLeftovers(t)
	cmd := python(t)
	var log logBuffer
	p, err := grpc.Load(context.Background(), cmd, grpc.Options{Log: log.logger(),
		Config: protocol.ConfigureRequest{ConfigJSON: `{"cues": {"friendship": ["friend", "friends"]}}`}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	want := protocol.Manifest{Name: "keyword-values", Version: "0.1.0", ABI: 1, Kind: "extractor", Field: "human_values",
		Fields: []string{"ai_values"}, Description: "Values from keyword cues: human_values from the user's turns, ai_values from the assistant's."}
	if m := p.Manifest(); !reflect.DeepEqual(m, want) {
		t.Fatalf("manifest %+v", m)
	}
	c := &protocol.Conversation{ID: "py1", Turns: []protocol.Turn{
		{Role: "user", Content: "Should I tell my friend the truth? I don't want to lie."},
		{Role: "assistant", Content: "Honesty matters, and so does kindness."},
		{Role: "user", Content: "It's about her family, and I want to be fair."},
	}}
	anns, err := plugin.Annotate(context.Background(), p, c, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	wantAnns := []protocol.Annotation{
		{Field: "human_values", Items: []protocol.Item{
			{Name: "fairness", Attrs: map[string]string{"cues": "fair", "turns": "2"}},
			{Name: "family", Attrs: map[string]string{"cues": "family", "turns": "2"}},
			{Name: "friendship", Attrs: map[string]string{"cues": "friend", "turns": "0"}},
			{Name: "honesty", Attrs: map[string]string{"cues": "lie,truth", "turns": "0"}},
		}},
		{Field: "ai_values", Items: []protocol.Item{
			{Name: "honesty", Attrs: map[string]string{"cues": "honesty", "turns": "1"}},
			{Name: "kindness", Attrs: map[string]string{"cues": "kindness", "turns": "1"}},
		}},
	}
	if !reflect.DeepEqual(anns, wantAnns) {
		t.Fatalf("annotations:\n got %+v\nwant %+v", anns, wantAnns)
	}
	// Nothing found: no annotations, no error.
	if anns, err := plugin.Annotate(context.Background(), p, &protocol.Conversation{ID: "py2", Turns: []protocol.Turn{{Role: "user", Content: "Hi"}}}, nil, 0); err != nil || len(anns) != 0 {
		t.Fatalf("got %+v, %v", anns, err)
	}
	eventually(t, "logged its stderr", func() bool {
		return strings.Contains(log.String(), "keyword_values: serving on 127.0.0.1:")
	})
	start := time.Now()
	p.Close()
	if d := time.Since(start); d > 1500*time.Millisecond {
		t.Errorf("Close took %s: did the plugin not shut down when asked?", d)
	}

	_, err = grpc.Load(context.Background(), cmd, grpc.Options{Log: quiet, Config: protocol.ConfigureRequest{ConfigJSON: `{"cue": {}}`}})
	if err == nil || !strings.Contains(err.Error(), "configuration refused: config: unknown key(s) cue") {
		t.Fatalf("bad config: got %v", err)
	}
}

// conversation makes a conversation of about n bytes of text.
func conversation(n int) *protocol.Conversation {
	const line = "I wonder whether honesty or kindness matters more when a friend asks what I really think. "
	c := &protocol.Conversation{ID: "bench", Source: "bench"}
	for size, i := 0, 0; size < n; i++ {
		role := "user"
		if i%2 == 1 {
			role = "assistant"
		}
		content := strings.Repeat(line, 5)
		c.Turns = append(c.Turns, protocol.Turn{Role: role, Content: content})
		size += len(content)
	}
	return c
}

// The round trip through a subprocess against the same plugin code called
// in process.
func BenchmarkGRPCRoundTrip(b *testing.B) {
	for _, size := range []struct {
		name string
		n    int
	}{{"2KB", 2 << 10}, {"64KB", 64 << 10}} {
		req := &protocol.ProcessRequest{Conversation: conversation(size.n)}
		b.Run(size.name+"/grpc", func(b *testing.B) {
			p := load(b, "echo", grpc.Options{})
			b.ReportAllocs()
			for b.Loop() {
				resp, err := p.Process(context.Background(), req)
				if err != nil || len(resp.Annotations) != 1 {
					b.Fatal(resp, err)
				}
			}
		})
		b.Run(size.name+"/native", func(b *testing.B) {
			p := &testplugin.Plugin{Stderr: io.Discard}
			if err := p.Configure(protocol.ConfigureRequest{ConfigJSON: `{"mode": "echo"}`}); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if resp := p.Process(req); len(resp.Annotations) != 1 {
					b.Fatal(resp)
				}
			}
		})
	}
}

// A configuration refusal is a message for a person: one over
// protocol.MaxErrorBytes fails the load with a short error, not a copy.
func TestConfigureRefusalLimit(t *testing.T) {
	mode := strings.Repeat("m", 1<<20)
	_, err := grpc.Load(context.Background(), []string{goPlugin(t)}, grpc.Options{Log: quiet,
		Config: protocol.ConfigureRequest{ConfigJSON: `{"mode": "` + mode + `"}`}})
	if err == nil || len(err.Error()) > 1000 || !strings.Contains(err.Error(), "over the 4096-byte limit") {
		t.Fatalf("got %d bytes: %.300s", len(fmt.Sprint(err)), err)
	}
}
