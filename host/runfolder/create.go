package runfolder

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/valuescope/valuescope/internal/atomicfile"
)

// NotRunError refuses a folder that holds files but not a valuescope run:
// a run there would overwrite the user's files (annotations.csv,
// report.html...) and --fresh would delete a store.sqlite of theirs.
type NotRunError struct {
	Dir   string
	Files []string // a few of the files found
}

func (e *NotRunError) Error() string {
	return fmt.Sprintf("%s is not empty and is not a valuescope run folder (no %s; it holds %q...): choose another --out, or an empty or new folder",
		e.Dir, MarkerFile, e.Files)
}

func (e *NotRunError) Unwrap() error { return ErrNotRun }

// Claimed is a run folder a run may write: locked, marked as valuescope's,
// with the temporary files of an interrupted write removed.
type Claimed struct {
	Folder
	Lock *Lock
	// New is set when this call made the folder (it did not exist, or was
	// empty): a run that fails to start removes it again (Abandon), so that
	// nothing is left to block the corrected command.
	New bool
	// made is the folder's path when this call created the directory itself.
	made bool
}

// Claim prepares dir for a run: it creates it if needed, refuses a non-empty
// folder valuescope did not make (NotRunError) and a folder another run holds
// (BusyError, at once), takes the lock, marks a new folder, and removes
// temporary files a killed write left. command names the holder in the lock.
//
// A folder made by a valuescope from before the marker (a store.sqlite and a
// manifest.json, the store's own schema row) is recognised and marked.
func Claim(dir, command string) (*Claimed, error) {
	f := Folder(dir)
	c := &Claimed{Folder: f}
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("run folder: %w", err)
		}
		c.New, c.made = true, true
	case err != nil:
		return nil, fmt.Errorf("run folder: %w", err)
	case onlyLeftovers(entries):
		// Empty, or all that is left of a claim killed before it wrote the
		// marker (its lock file, temporaries): new. Lock decides whether
		// somebody still holds it.
		c.New = true
	default:
		if !f.marked() {
			legacy, err := f.legacy()
			if err != nil {
				return nil, err
			}
			if !legacy {
				var names []string
				for _, e := range entries[:min(3, len(entries))] {
					names = append(names, e.Name())
				}
				return nil, &NotRunError{Dir: dir, Files: names}
			}
		}
	}
	if c.Lock, err = f.Lock(command); err != nil {
		// Not abandoned: the folder may be the holder's.
		return nil, err
	}
	if !f.marked() {
		if err := atomicfile.WriteBytes(f.Path(MarkerFile), []byte("valuescope run folder, made "+time.Now().UTC().Format(time.RFC3339)+"\n")); err != nil {
			c.Abandon()
			return nil, err
		}
	}
	for _, d := range []string{string(f), f.Path(TreeDir), f.Analysis()} {
		if _, err := atomicfile.RemoveTemps(d); err != nil && !errors.Is(err, fs.ErrNotExist) {
			c.Abandon()
			return nil, fmt.Errorf("run folder: %w", err)
		}
	}
	return c, nil
}

// Release unlocks the folder.
func (c *Claimed) Release() error { return c.Lock.Unlock() }

// Abandon undoes a claim whose run failed before it did anything: a folder
// this claim made is removed with everything in it (only valuescope's files
// can be there), an empty folder the user gave is emptied, then the lock is
// released. The removal happens while the lock is held, so that no other
// run can have claimed the folder in between (Lock checks that the file it
// locked is still the folder's).
func (c *Claimed) Abandon() {
	c.abandon()
	c.Lock.Unlock()
}

func (c *Claimed) abandon() {
	if !c.New {
		return
	}
	if c.made {
		os.RemoveAll(string(c.Folder))
		return
	}
	// An empty folder the user gave: empty it again, keep the folder.
	entries, _ := os.ReadDir(string(c.Folder))
	for _, e := range entries {
		os.RemoveAll(c.Path(e.Name()))
	}
}

// Marked reports whether valuescope made the folder (or took it over from
// an earlier valuescope) as a run folder: it holds the marker.
func (f Folder) Marked() bool { return f.marked() }

// onlyLeftovers reports whether a folder's entries are none, or only what a
// claim killed before its marker leaves: the lock file and temporaries.
func onlyLeftovers(entries []os.DirEntry) bool {
	for _, e := range entries {
		if e.Name() != LockFile && !atomicfile.IsTemp(e.Name()) {
			return false
		}
	}
	return true
}

func (f Folder) marked() bool {
	_, err := os.Stat(f.Path(MarkerFile))
	return err == nil
}

// legacy reports whether f is a run folder made before the marker existed:
// it has a manifest and a store whose first bytes are SQLite's. The store's
// tables are not read here: opening a database that is not ours would add
// ours to it.
func (f Folder) legacy() (bool, error) {
	if _, err := os.Stat(f.Manifest()); err != nil {
		return false, nil
	}
	b, err := os.ReadFile(f.Manifest())
	if err != nil {
		return false, err
	}
	var m Manifest
	if err := decodeManifest(b, &m); err != nil || m.Valuescope.Version == "" {
		return false, nil
	}
	if _, err := os.Stat(f.Store()); err != nil {
		return false, nil
	}
	return true, nil
}
