package report_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/valuescope/valuescope/host/config"
	"github.com/valuescope/valuescope/host/report"
	"github.com/valuescope/valuescope/host/run"
)

// A report comparing a run with a subset of its own conversations says, as
// compare does, that the runs are not independent samples.
func TestCompareSharingWarned(t *testing.T) {
	dir := quickstart(t)
	cfg, err := config.Load("../../configs/quickstart.toml", config.Options{})
	if err != nil {
		t.Fatal(err)
	}
	sub := t.TempDir()
	if _, err := run.Execute(context.Background(), cfg, run.Options{Out: sub, Limit: 30, NoReport: true}); err != nil {
		t.Fatal(err)
	}
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
