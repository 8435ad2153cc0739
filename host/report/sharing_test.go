package report_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/valuescope/valuescope/host/report"
	"github.com/valuescope/valuescope/host/run"
	"github.com/valuescope/valuescope/internal/testruns"
)

// A report comparing a run with a subset of its own conversations says, as
// compare does, that the runs are not independent samples.
func TestCompareSharingWarned(t *testing.T) {
	dir := quickstart(t)
	sub := testruns.RunFile(t, "../../configs/quickstart.toml", run.Options{Out: t.TempDir(), Limit: 30, NoReport: true})
	d, err := report.Build(context.Background(), dir, report.Options{Compare: []string{sub}})
	if err != nil {
		t.Fatal(err)
	}
	if err := report.Write(dir, d); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, report.HTMLFile))
	if !strings.Contains(string(b), `<p class="warn">`) || !strings.Contains(string(b), "not independent samples") {
		t.Fatal("the report does not warn that the compared runs share conversations")
	}
}
