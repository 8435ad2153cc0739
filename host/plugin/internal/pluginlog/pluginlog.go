// Package pluginlog turns a plugin's output (a Wasm module's stdout and
// stderr, a subprocess's stderr) into log lines under the plugin's name, and
// keeps the last few for error messages: the panic that preceded a crash, the
// reason a plugin would not start.
package pluginlog

import (
	"bytes"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"

	"github.com/valuescope/valuescope/host/plugin/internal/printable"
)

// Writer sends a plugin's output to the log, a line at a time, under the
// plugin's name, and keeps the last lines for error messages.
type Writer struct {
	log  *slog.Logger
	mu   sync.Mutex
	name string
	buf  []byte
	tail []string
	// cause is the last line that says why a program died ("panic: ...",
	// "fatal error: ..."): the lines after it are a stack trace that pushes
	// it out of the tail.
	cause string
}

const (
	tailLines   = 5
	tailLineLen = 300
)

// New returns a Writer logging to log under name.
func New(log *slog.Logger, name string) *Writer {
	return &Writer{log: log, name: name}
}

// SetName changes the name lines are logged under (once a plugin's
// manifest has told it).
func (w *Writer) SetName(name string) {
	w.mu.Lock()
	w.name = name
	w.mu.Unlock()
}

func (w *Writer) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, b...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		w.line(string(w.buf[:i]))
		w.buf = w.buf[i+1:]
	}
	if len(w.buf) > 64<<10 { // a plugin that never writes a newline
		w.line(string(w.buf))
		w.buf = w.buf[:0]
	}
	return len(b), nil
}

func (w *Writer) line(s string) {
	s = strings.TrimRight(s, "\r")
	w.log.Info(s, "plugin", w.name)
	if strings.TrimSpace(s) == "" {
		return
	}
	// The tail goes into error messages, stored and printed: escaped and
	// cut, like everything a plugin says.
	s = printable.String(s, tailLineLen)
	if strings.HasPrefix(s, "panic: ") || strings.HasPrefix(s, "fatal error: ") || strings.HasPrefix(s, "runtime: ") {
		w.cause = s
	}
	w.tail = append(w.tail, s)
	if len(w.tail) > tailLines {
		w.tail = slices.Delete(w.tail, 0, len(w.tail)-tailLines)
	}
}

// TailNote is "; the last lines on its stderr: ..." with the last lines it wrote, or "".
func (w *Writer) TailNote() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	lines := w.tail
	if rest := strings.TrimSpace(string(w.buf)); rest != "" {
		lines = append(slices.Clone(lines), printable.String(rest, tailLineLen))
	}
	if len(lines) == 0 {
		return ""
	}
	note := "; the last lines on its stderr: " + strings.Join(lines, " | ")
	if w.cause != "" && !slices.Contains(lines, w.cause) {
		note = "; its stderr said: " + w.cause + note
	}
	return note
}

var _ io.Writer = (*Writer)(nil)
