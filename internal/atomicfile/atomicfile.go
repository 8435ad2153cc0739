// Package atomicfile writes a file whole or not at all: into a temporary
// file beside it, synced, then renamed over it. valuescope's outputs (run
// manifests, analysis tables, reports, trees) are read back by later
// commands, which must never find half of one after a crash or a kill.
package atomicfile

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Write writes path with write, through a buffer. On any error the old file
// (if any) is left as it was and no temporary file remains. The file's mode
// is 0644.
func Write(path string, write func(io.Writer) error) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	defer os.Remove(f.Name()) // after the rename there is nothing left to remove
	bw := bufio.NewWriterSize(f, 1<<16)
	err = f.Chmod(0o644) // CreateTemp's 0600 would hide outputs from their readers
	if err == nil {
		err = write(bw)
	}
	if err == nil {
		err = bw.Flush()
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// WriteBytes writes b to path as Write does.
func WriteBytes(path string, b []byte) error {
	return Write(path, func(w io.Writer) error {
		_, err := w.Write(b)
		return err
	})
}
