package runfolder

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"
)

// Holder says who holds a run folder's lock; it is written into the lock
// file so that a refused command can name it.
type Holder struct {
	PID     int       `json:"pid"`
	Host    string    `json:"host"`
	Command string    `json:"command"`
	Since   time.Time `json:"since"`
}

func (h Holder) String() string {
	return fmt.Sprintf("%s (pid %d on %s, since %s)", h.Command, h.PID, h.Host, h.Since.Format(time.RFC3339))
}

// BusyError is returned by Lock when another process holds the folder.
type BusyError struct {
	Dir    string
	Holder Holder // zero when the lock file could not be read
}

func (e *BusyError) Error() string {
	who := "another valuescope process"
	if e.Holder.PID != 0 {
		who = e.Holder.String()
	}
	return fmt.Sprintf("run folder %s is in use by %s; wait for it to finish, or use another --out", e.Dir, who)
}

// Lock is an exclusive lock on a run folder, held by one process for the
// life of a run: two runs writing one store would interleave their results
// and one's --fresh would delete the other's work.
//
// On Unix it is an advisory flock(2) on RUN/.lock, which the kernel releases
// when the process dies however it dies: a lock file left by a killed run is
// stale by construction and the next run takes it at once.
type Lock struct {
	f *os.File
}

// Lock takes the folder's lock without waiting. command describes the holder
// for the message another process gets (e.g. "valuescope run quickstart.toml").
func (f Folder) Lock(command string) (*Lock, error) {
	file, err := os.OpenFile(f.Path(LockFile), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("locking run folder: %w", err)
	}
	err = tryLock(file)
	if err == nil && !samePath(file, f.Path(LockFile)) {
		// The folder was abandoned (removed) between our open and our lock:
		// the file we hold is not the folder's any more.
		unlock(file)
		err = fmt.Errorf("the folder was removed while locking it; run the command again")
	}
	if err != nil {
		file.Close()
		if errors.Is(err, errLocked) {
			be := &BusyError{Dir: string(f)}
			if b, rerr := os.ReadFile(f.Path(LockFile)); rerr == nil {
				json.Unmarshal(b, &be.Holder) // best effort: a holder mid-write is just unnamed
			}
			return nil, be
		}
		return nil, fmt.Errorf("locking run folder %s: %w", f, err)
	}
	host, _ := os.Hostname()
	h := Holder{PID: os.Getpid(), Host: host, Command: command, Since: time.Now().UTC().Truncate(time.Second)}
	b, _ := json.Marshal(h)
	if err := file.Truncate(0); err == nil {
		file.WriteAt(append(b, '\n'), 0)
	}
	return &Lock{f: file}, nil
}

// Unlock releases the lock. The file stays: removing it would let a third
// process lock a new file while a second still waits on the old one.
func (l *Lock) Unlock() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := unlock(l.f)
	if cerr := l.f.Close(); err == nil {
		err = cerr
	}
	l.f = nil
	return err
}

var errLocked = errors.New("locked")

// samePath reports whether the open file is still the file at path.
func samePath(f *os.File, path string) bool {
	a, err := f.Stat()
	if err != nil {
		return false
	}
	b, err := os.Stat(path)
	return err == nil && os.SameFile(a, b)
}
