// Package atomicfile writes a file whole or not at all: into a temporary
// file beside it, synced, then renamed over it. valuescope's outputs (run
// manifests, analysis tables, reports, trees) are read back by later
// commands, which must never find half of one after a crash or a kill.
package atomicfile

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// tempPattern is the name of Write's temporary file for a target named
// base; os.CreateTemp puts a random decimal number in place of the star.
func tempPattern(base string) string { return "." + base + ".*.tmp" }

// IsTemp reports whether name is one of Write's temporary files.
func IsTemp(name string) bool {
	if !strings.HasPrefix(name, ".") || !strings.HasSuffix(name, ".tmp") {
		return false
	}
	rest := strings.TrimSuffix(name[1:], ".tmp")
	i := strings.LastIndexByte(rest, '.')
	if i <= 0 || i == len(rest)-1 {
		return false
	}
	for _, r := range rest[i+1:] {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// RemoveTemps removes the temporary files that writes into dir interrupted
// by a kill left behind (a write's own error path removes its file; a
// SIGKILL cannot), and returns how many. Call it only while no other process
// writes into dir (under the run folder's lock).
func RemoveTemps(dir string) (int, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, e := range entries {
		if e.Type().IsRegular() && IsTemp(e.Name()) {
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return n, err
			}
			n++
		}
	}
	return n, nil
}

// Write writes path with write, through a buffer. On any error the old file
// (if any) is left as it was and no temporary file remains. The file's mode
// is 0644.
func Write(path string, write func(io.Writer) error) error {
	f, err := os.CreateTemp(filepath.Dir(path), tempPattern(filepath.Base(path)))
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
