// Package oracle runs the outside programs tests check valuescope's
// statistics against (R's chisq.test, fisher.test, mcnemar.test...).
package oracle

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// R runs an R script with /usr/bin/Rscript --vanilla and returns its
// standard output. It skips the test when R is absent, except under CI
// (CI=true), where .ci/run installs R and its absence is a failure: an
// oracle test must never pass by not running.
func R(tb testing.TB, script string) string {
	tb.Helper()
	const r = "/usr/bin/Rscript"
	if _, err := os.Stat(r); err != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("R is required under CI (Debian r-base-core): %v", err)
		}
		tb.Skipf("R not installed (%v); apt-get install r-base-core", err)
	}
	f := filepath.Join(tb.TempDir(), "oracle.R")
	if err := os.WriteFile(f, []byte(script), 0o644); err != nil {
		tb.Fatal(err)
	}
	cmd := exec.Command(r, "--vanilla", f)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		tb.Fatalf("Rscript: %v\n%s", err, errb.String())
	}
	return out.String()
}
