package run

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/valuescope/valuescope/host/plugin"
	"github.com/valuescope/valuescope/host/runfolder"
)

// PluginLogLimit bounds what one invocation writes to RUN/plugins.log: a
// plugin printing megabytes per conversation must not fill the disk. Past
// it, one last line says so and later lines are dropped. A file already
// past half of it when an invocation starts is moved to plugins.log.old
// (replacing the one there), so that each file holds at most 1.5 times the
// bound, and the folder 3 times (192 MiB), however many invocations.
const PluginLogLimit = 64 << 20

// pluginLog is the run folder's plugin log: every line a plugin writes
// (package plugin's backends log them at Info under the attribute "plugin"),
// with its time and plugin, whatever the terminal's log level is.
type pluginLog struct {
	mu      sync.Mutex
	w       io.WriteCloser
	limit   int64
	written int64
	full    bool
	dropped int64
}

// openPluginLog opens f's plugin log for appending and writes the
// invocation's header line.
func openPluginLog(f runfolder.Folder, limit int64, header string) (*pluginLog, error) {
	if st, err := os.Stat(f.PluginLog()); err == nil && st.Size() >= limit/2 {
		if err := os.Rename(f.PluginLog(), f.OldPluginLog()); err != nil {
			return nil, fmt.Errorf("plugin log: %w", err)
		}
	}
	w, err := os.OpenFile(f.PluginLog(), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("plugin log: %w", err)
	}
	l := &pluginLog{w: w, limit: limit}
	l.write(fmt.Sprintf("==== %s %s ====\n", time.Now().UTC().Format(time.RFC3339), header))
	return l, nil
}

// write appends one line, or counts it as dropped once the bound is reached.
func (l *pluginLog) write(line string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.full {
		l.dropped++
		return
	}
	if l.written+int64(len(line)) > l.limit {
		l.full, l.dropped = true, 1
		fmt.Fprintf(l.w, "%s plugins.log: %d MiB written by this invocation, its bound; later plugin output is dropped\n",
			time.Now().UTC().Format(time.RFC3339), l.limit>>20)
		return
	}
	n, _ := io.WriteString(l.w, line)
	l.written += int64(n)
}

// Close ends the invocation's part of the log, saying how many lines were
// dropped, if any.
func (l *pluginLog) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.dropped > 0 {
		fmt.Fprintf(l.w, "%s plugins.log: %d lines dropped\n", time.Now().UTC().Format(time.RFC3339), l.dropped)
	}
	return l.w.Close()
}

// handler returns the logger the plugins are given: every record at Info
// and above goes to the file; term, the run's own logger, also gets those
// it is enabled for (a warning at its usual level, the plugins' lines too
// when the user asked for them with --verbose).
func (l *pluginLog) logger(term *slog.Logger) *slog.Logger {
	return slog.New(&pluginHandler{log: l, term: term.Handler()})
}

type pluginHandler struct {
	log    *pluginLog
	term   slog.Handler
	attrs  []prefixed // from WithAttrs
	prefix string     // the open groups' names, dotted, for the file's keys
}

// prefixed is an attribute with the groups open when it was added.
type prefixed struct {
	prefix string
	a      slog.Attr
}

func (h *pluginHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return level >= slog.LevelInfo || h.term.Enabled(ctx, level)
}

func (h *pluginHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelInfo {
		h.log.write(h.format(r))
	}
	if h.term.Enabled(ctx, r.Level) {
		return h.term.Handle(ctx, r)
	}
	return nil
}

// format is one line of the file: "TIME PLUGIN: MESSAGE key=value...",
// the level when it is not Info, and control characters escaped so that
// what a plugin prints cannot rewrite a terminal showing the file.
func (h *pluginHandler) format(r slog.Record) string {
	var b strings.Builder
	b.WriteString(r.Time.UTC().Format("2006-01-02T15:04:05.000Z"))
	if r.Level != slog.LevelInfo {
		b.WriteString(" " + r.Level.String())
	}
	var rest []prefixed
	name := ""
	each := func(a prefixed) {
		if a.a.Key == "plugin" && a.prefix == "" && name == "" {
			name = a.a.Value.String()
		} else {
			rest = append(rest, a)
		}
	}
	for _, a := range h.attrs {
		each(a)
	}
	r.Attrs(func(a slog.Attr) bool { each(prefixed{h.prefix, a}); return true })
	if name != "" {
		b.WriteString(" " + plugin.Printable(name, 0) + ":")
	}
	b.WriteString(" " + plugin.Printable(r.Message, 0))
	for _, a := range rest {
		writeAttr(&b, a.prefix, a.a)
	}
	b.WriteByte('\n')
	return b.String()
}

func writeAttr(b *strings.Builder, prefix string, a slog.Attr) {
	a.Value = a.Value.Resolve()
	if a.Value.Kind() == slog.KindGroup {
		for _, g := range a.Value.Group() {
			writeAttr(b, prefix+a.Key+".", g)
		}
		return
	}
	// Quoted (which escapes it) where a space or '=' would make it ambiguous,
	// else escaped as what plugins say is.
	v := a.Value.String()
	if v == "" || strings.ContainsAny(v, " =\"") {
		v = strconv.Quote(v)
	} else {
		v = plugin.Printable(v, 0)
	}
	b.WriteString(" " + plugin.Printable(prefix+a.Key, 0) + "=" + v)
}

func (h *pluginHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	c := *h
	c.attrs = append([]prefixed(nil), h.attrs...)
	for _, a := range attrs {
		c.attrs = append(c.attrs, prefixed{h.prefix, a})
	}
	c.term = h.term.WithAttrs(attrs)
	return &c
}

func (h *pluginHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	c := *h
	c.prefix = h.prefix + name + "."
	c.term = h.term.WithGroup(name)
	return &c
}
