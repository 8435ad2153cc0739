//go:build !unix

package runfolder

import "os"

// Without flock(2) the lock is not taken: runs on one folder are not guarded
// on this system (valuescope is built and tested on Linux and macOS). Say so
// rather than pretend.
func tryLock(f *os.File) error { return nil }

func unlock(f *os.File) error { return nil }
