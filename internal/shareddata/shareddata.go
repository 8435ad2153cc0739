// Package shareddata locates the real reference data that tests and
// benchmarks read: ../shared/data beside the project root (see its README),
// or the folder named by VALUESCOPE_SHARED_DATA.
package shareddata

import (
	"os"
	"path/filepath"
	"testing"
)

// Path returns the path of a file or folder under the shared data folder. When
// the data is absent the test is skipped — except under CI (CI=true), where
// the data is always laid out and its absence is a failure, so that a test on
// real data can never pass by not running.
func Path(tb testing.TB, rel string) string {
	tb.Helper()
	dir, err := dataDir()
	if err == nil {
		p := filepath.Join(dir, rel)
		if _, err = os.Stat(p); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		tb.Fatalf("shared data %s: %v", rel, err)
	}
	tb.Skipf("shared data %s not found (%v); set VALUESCOPE_SHARED_DATA", rel, err)
	return ""
}

func dataDir() (string, error) {
	if d := os.Getenv("VALUESCOPE_SHARED_DATA"); d != "" {
		return d, nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "..", "shared", "data"), nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", os.ErrNotExist
		}
		dir = parent
	}
}
