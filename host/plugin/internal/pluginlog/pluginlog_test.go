package pluginlog

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

func TestWriter(t *testing.T) {
	var logged bytes.Buffer
	w := New(slog.New(slog.NewTextHandler(&logged, nil)), "p")
	w.Write([]byte("starting\npanic: boom\n"))
	for i := range 10 {
		w.Write([]byte("\tframe " + strings.Repeat("x", i) + "\n"))
	}
	w.Write([]byte("partial line"))
	note := w.TailNote()
	if !strings.HasPrefix(note, "; its stderr said: panic: boom; the last lines on its stderr: ") || !strings.HasSuffix(note, "partial line") {
		t.Fatalf("note %q", note)
	}
	if n := strings.Count(note, "frame"); n != tailLines {
		t.Fatalf("%d frames in the tail, want %d", n, tailLines)
	}
	if !strings.Contains(logged.String(), `msg="panic: boom" plugin=p`) {
		t.Fatalf("logged %s", logged.String())
	}
	w.SetName("q")
	w.Write([]byte("\nx\n"))
	if !strings.Contains(logged.String(), "msg=x plugin=q") {
		t.Fatalf("rename: %s", logged.String())
	}
	if New(slog.Default(), "e").TailNote() != "" {
		t.Fatal("a silent plugin has a note")
	}
}
