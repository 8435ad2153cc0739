package run

import (
	"bytes"
	"log/slog"
	"os"
	"strings"
	"testing"

	"github.com/valuescope/valuescope/host/runfolder"
)

// A chatty plugin cannot fill the disk: an invocation writes at most the
// bound, then one line saying so and, at the end, how many were dropped; the
// next invocation moves the full file aside and starts a new one.
func TestPluginLogBounded(t *testing.T) {
	f := runfolder.Folder(t.TempDir())
	const limit = 4 << 10
	l, err := openPluginLog(f, limit, "first")
	if err != nil {
		t.Fatal(err)
	}
	log := l.logger(slog.New(slog.DiscardHandler)).With("plugin", "chatty")
	for range 1000 {
		log.Info(strings.Repeat("x", 100))
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(f.PluginLog())
	if len(b) > limit+300 {
		t.Fatalf("%d bytes written with a bound of %d", len(b), limit)
	}
	for _, want := range []string{"==== ", " first ====\n", " chatty: xxxx", "later plugin output is dropped", "lines dropped"} {
		if !bytes.Contains(b, []byte(want)) {
			t.Errorf("no %q in\n%s", want, b)
		}
	}
	l, err = openPluginLog(f, limit, "second")
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	old, _ := os.ReadFile(f.OldPluginLog())
	now, _ := os.ReadFile(f.PluginLog())
	if !bytes.Equal(old, b) || !bytes.Contains(now, []byte("second")) || bytes.Contains(now, []byte("first")) {
		t.Fatalf("after a full log: old %d bytes, new:\n%s", len(old), now)
	}

	// A file not full but past half the bound is moved aside too: appended
	// to, it would grow to nearly twice the bound.
	for size, moved := range map[int]bool{limit * 3 / 4: true, limit / 4: false} {
		f := runfolder.Folder(t.TempDir())
		if err := os.WriteFile(f.PluginLog(), bytes.Repeat([]byte("x"), size), 0o644); err != nil {
			t.Fatal(err)
		}
		l, err := openPluginLog(f, limit, "next")
		if err != nil {
			t.Fatal(err)
		}
		l.Close()
		if _, err := os.Stat(f.OldPluginLog()); (err == nil) != moved {
			t.Errorf("a log of %d bytes (bound %d): moved aside %v, want %v", size, limit, err == nil, moved)
		}
	}
}

// Lines are appended across invocations, each with its plugin and time,
// what a plugin prints escaped (no terminal codes reach a terminal showing
// the file); the terminal's logger gets only what it is enabled for.
func TestPluginLogLines(t *testing.T) {
	f := runfolder.Folder(t.TempDir())
	var term bytes.Buffer
	for _, header := range []string{"one", "two"} {
		l, err := openPluginLog(f, PluginLogLimit, header)
		if err != nil {
			t.Fatal(err)
		}
		log := l.logger(slog.New(slog.NewTextHandler(&term, &slog.HandlerOptions{Level: slog.LevelWarn})))
		log.Info("red \x1b[31malert\u202e", "plugin", "p"+header)
		log.Debug("go-plugin chatter", "plugin", "p")
		log.WithGroup("g").With("k", "v w").Warn("restarting", "plugin", "q")
		l.Close()
	}
	b, _ := os.ReadFile(f.PluginLog())
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(lines) != 6 {
		t.Fatalf("%d lines:\n%s", len(lines), b)
	}
	if !strings.HasSuffix(lines[1], `Z pone: red \x1b[31malert\u202e`) || !strings.HasSuffix(lines[2], `Z WARN restarting g.k="v w" g.plugin=q`) ||
		!strings.Contains(lines[3], " two ====") || !strings.HasSuffix(lines[4], "ptwo: red \\x1b[31malert\\u202e") {
		t.Fatalf("lines:\n%s", b)
	}
	if strings.Contains(term.String(), "red") || strings.Count(term.String(), "restarting") != 2 {
		t.Fatalf("the terminal at Warn got:\n%s", term.String())
	}
}
