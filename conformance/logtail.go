package conformance

import (
	"context"
	"log/slog"
	"strings"
	"sync"

	"github.com/valuescope/valuescope/host/plugin"
)

// logTail is the slog handler the kit gives the host for the plugin's
// stderr: it keeps the last lines, to quote them when a call fails, and
// passes every record on to Options.Log when set.
type logTail struct {
	next slog.Handler
	buf  *tailBuf
}

type tailBuf struct {
	mu    sync.Mutex
	lines []string // the last maxTail lines
	n     int      // lines ever seen
}

const maxTail = 400

func (t *logTail) b() *tailBuf {
	if t.buf == nil {
		t.buf = &tailBuf{}
	}
	return t.buf
}

func (t *logTail) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelInfo }

func (t *logTail) Handle(ctx context.Context, r slog.Record) error {
	if strings.HasPrefix(r.Message, "go-plugin") { // the host's own chatter about the process
		return t.forward(ctx, r)
	}
	b := t.b()
	b.mu.Lock()
	b.lines = append(b.lines, r.Message)
	if len(b.lines) > maxTail {
		b.lines = b.lines[len(b.lines)-maxTail:]
	}
	b.n++
	b.mu.Unlock()
	return t.forward(ctx, r)
}

func (t *logTail) forward(ctx context.Context, r slog.Record) error {
	if t.next != nil && t.next.Enabled(ctx, r.Level) {
		return t.next.Handle(ctx, r)
	}
	return nil
}

func (t *logTail) WithAttrs(attrs []slog.Attr) slog.Handler {
	out := &logTail{buf: t.b()}
	if t.next != nil {
		out.next = t.next.WithAttrs(attrs)
	}
	return out
}

func (t *logTail) WithGroup(name string) slog.Handler {
	out := &logTail{buf: t.b()}
	if t.next != nil {
		out.next = t.next.WithGroup(name)
	}
	return out
}

// count is a mark: the number of lines seen so far.
func (t *logTail) count() int {
	b := t.b()
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.n
}

// since returns the lines logged after mark (those still kept).
func (t *logTail) since(mark int) []string {
	b := t.b()
	b.mu.Lock()
	defer b.mu.Unlock()
	newer := b.n - mark
	if newer <= 0 {
		return nil
	}
	if newer > len(b.lines) {
		newer = len(b.lines)
	}
	return append([]string(nil), b.lines[len(b.lines)-newer:]...)
}

func (t *logTail) outOfMemorySince(mark int) bool {
	for _, l := range t.since(mark) {
		if strings.Contains(l, "out of memory") || strings.Contains(l, "MemoryError") {
			return true
		}
	}
	return false
}

// matching returns the lines logged after mark that contain s.
func (t *logTail) matching(mark int, s string) []string {
	var out []string
	for _, l := range t.since(mark) {
		if strings.Contains(l, s) {
			out = append(out, l)
		}
	}
	return clip(out)
}

// excerpt picks the lines that explain a failure among those logged after
// mark: from the first panic, fatal error or traceback, a few lines; else
// the last few.
func (t *logTail) excerpt(mark int) []string {
	lines := t.since(mark)
	for i, l := range lines {
		l = strings.TrimSpace(l)
		if strings.HasPrefix(l, "panic:") || strings.HasPrefix(l, "fatal error:") || strings.HasPrefix(l, "Traceback") ||
			strings.HasPrefix(l, "runtime:") || strings.Contains(l, "Exception") {
			var out []string
			for _, l := range lines[i:] {
				t := strings.TrimSpace(l)
				if strings.HasPrefix(t, "goroutine ") || strings.HasPrefix(t, "[signal") || t == "" {
					continue
				}
				if out = append(out, l); len(out) == 5 {
					break
				}
			}
			return clip(out)
		}
	}
	return clip(lines[max(0, len(lines)-4):])
}

func clip(lines []string) []string {
	var out []string
	for _, l := range lines {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, plugin.Printable(l, 200))
		}
	}
	return out
}
