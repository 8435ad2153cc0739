package grpc

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Bounds on what Fingerprint reads of the folders a command names: past the
// first two, further files count by path, size and modification time only;
// past the third, they are not looked at.
const (
	fingerprintMaxFiles  = 1000
	fingerprintMaxBytes  = 64 << 20
	fingerprintMaxListed = 10000
)

// Fingerprint is the SHA-256 of the code a plugin command runs, so that a
// stage run by it is redone when that code changes: of the program
// (command[0], looked up in PATH as Load does), and of every later argument
// that names an existing regular file (`python3 plugin.py`, `node x.js`,
// `sh run.sh`) or folder (its regular files, recursively, in name order;
// symbolic links to folders are not followed; hidden files and folders and
// run folders left out), relative paths taken from
// the working folder. Each file counts by the argument that named it, its
// path within a folder, and its content; the folders' files past the first
// 1,000 or 64 MiB of content count by path, size and modification time
// instead, and past the first 10,000 files a folder's further files are
// left out. What a script loads without naming it on the command line (a
// Python module it imports, say) is not covered, nor is the interpreter's
// own library.
func Fingerprint(command []string) (string, error) {
	if len(command) == 0 || command[0] == "" {
		return "", fmt.Errorf("fingerprint: empty command")
	}
	prog, err := exec.LookPath(command[0])
	if err != nil {
		return "", fmt.Errorf("fingerprint: %w", err)
	}
	h := sha256.New()
	b := &budget{files: fingerprintMaxFiles, bytes: fingerprintMaxBytes}
	if err := hashFile(h, "program", prog, nil); err != nil {
		return "", err
	}
	for i, arg := range command[1:] {
		fi, err := os.Stat(arg)
		if err != nil {
			continue // not a path (a flag, a module name)
		}
		what := "arg " + strconv.Itoa(i+1) + " " + arg
		switch {
		case fi.Mode().IsRegular():
			err = hashFile(h, what, arg, nil)
		case fi.IsDir():
			err = hashDir(h, what, arg, b)
		}
		if err != nil {
			return "", err
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// budget is what Fingerprint may still read in full.
type budget struct {
	files int
	bytes int64
}

// hashFile adds a file's label and content to h (or, past the budget b, its
// size and modification time; nil: no budget).
func hashFile(h hash.Hash, label, path string, b *budget) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("fingerprint: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("fingerprint: %w", err)
	}
	if b != nil {
		if b.files <= 0 || fi.Size() > b.bytes {
			fmt.Fprintf(h, "%s\x00stat %d %d\x00", label, fi.Size(), fi.ModTime().UnixNano())
			return nil
		}
		b.files--
		b.bytes -= fi.Size()
	}
	fmt.Fprintf(h, "%s\x00%d\x00", label, fi.Size())
	if _, err := io.Copy(h, io.LimitReader(f, fi.Size())); err != nil {
		return fmt.Errorf("fingerprint: reading %s: %w", path, err)
	}
	return nil
}

// runMarker is the file that marks a valuescope run folder
// (runfolder.MarkerFile; this package cannot import runfolder).
const runMarker = ".valuescope-run"

// hashDir adds a folder's regular files to h, in path order, leaving out
// hidden files and folders (.git, .venv: not the plugin's code, and .git
// changes at every commit) and run folders below it (a run's store and log
// change as it runs: `grpc:sh .` from a project whose runs/ is inside would
// otherwise be a changed plugin at every invocation).
func hashDir(h hash.Hash, label, dir string, b *budget) error {
	var files []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if path != dir && strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			if _, err := os.Stat(filepath.Join(path, runMarker)); err == nil {
				return fs.SkipDir
			}
		}
		if d.Type().IsRegular() {
			if len(files) == fingerprintMaxListed {
				return fs.SkipAll
			}
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("fingerprint: %w", err)
	}
	sort.Strings(files)
	for _, path := range files {
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return fmt.Errorf("fingerprint: %w", err)
		}
		if err := hashFile(h, label+"\x00"+filepath.ToSlash(rel), path, b); err != nil {
			return err
		}
	}
	return nil
}
