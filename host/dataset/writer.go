package dataset

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/go-json-experiment/json"
	"github.com/valuescope/valuescope/host/conversation"
)

// Writer writes normalised conversations to a file, as JSONL (the
// "valuescope" format, readable back with Open) or Parquet. It writes to a
// temporary file beside the target and renames it on Close, so an interrupted
// conversion never leaves a truncated file that looks complete.
type Writer struct {
	path string
	tmp  *os.File
	enc  encoder
}

// encoder is one output layout.
type encoder interface {
	write(c *conversation.Conversation) error
	close() error
}

// NewWriter creates a writer of the given kind: "jsonl" or "parquet".
func NewWriter(path, kind string) (*Writer, error) {
	if kind != "jsonl" && kind != "parquet" {
		return nil, fmt.Errorf("output format %q: want jsonl or parquet", kind)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return nil, fmt.Errorf("creating %s: %w", path, err)
	}
	w := &Writer{path: path, tmp: tmp}
	if kind == "jsonl" {
		w.enc = &jsonlEncoder{w: bufio.NewWriterSize(tmp, 1<<20)}
	} else {
		w.enc = newParquetEncoder(tmp)
	}
	return w, nil
}

// Write appends one conversation.
func (w *Writer) Write(c *conversation.Conversation) error {
	if err := w.enc.write(c); err != nil {
		return fmt.Errorf("writing %s: conversation %s: %w", w.path, c.ID, err)
	}
	return nil
}

// Close finishes the file and moves it into place.
func (w *Writer) Close() error {
	// CreateTemp makes the file private (0600); the result is an ordinary file.
	err := errors.Join(w.enc.close(), w.tmp.Chmod(0o644), w.tmp.Sync(), w.tmp.Close())
	if err == nil {
		err = os.Rename(w.tmp.Name(), w.path)
	}
	if err != nil {
		os.Remove(w.tmp.Name())
		return fmt.Errorf("writing %s: %w", w.path, err)
	}
	return nil
}

// Abort discards what was written.
func (w *Writer) Abort() error {
	w.tmp.Close()
	return os.Remove(w.tmp.Name())
}

type jsonlEncoder struct{ w *bufio.Writer }

func (e *jsonlEncoder) write(c *conversation.Conversation) error {
	if err := json.MarshalWrite(e.w, c, json.Deterministic(true)); err != nil {
		return err
	}
	return e.w.WriteByte('\n')
}

func (e *jsonlEncoder) close() error { return e.w.Flush() }
