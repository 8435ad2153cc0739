package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// export --shareable on the demo quickstart: the report and analysis tables
// are written, the store and annotations are not, with a README.
func TestExportShareable(t *testing.T) {
	run := quickstartRun(t, "")
	if code, out, errs := valuescope(t, "analyze", run); code != 0 {
		t.Fatalf("analyze: exit %d\n%s%s", code, out, errs)
	}
	dir := filepath.Join(t.TempDir(), "share")
	code, out, errs := valuescope(t, "export", run, "--shareable", dir)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	for _, f := range []string{"report.json", "report.html", "README.md"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("%s not exported: %v\n%s", f, err, out)
		}
	}
	for _, f := range []string{"store.sqlite", "annotations.csv", "conversations.csv", "manifest.json"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			t.Errorf("private %s exported", f)
		}
	}
	if !strings.Contains(out, "analysis/") {
		t.Errorf("no analysis tables exported:\n%s", out)
	}
	if code, _, _ := valuescope(t, "export", run); code != 2 {
		t.Errorf("export without --shareable: exit %d, want usage error", code)
	}
}
