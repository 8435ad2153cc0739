package compare

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/valuescope/valuescope/host/analysis"
)

// Folders checks the options as given, compares, and writes the files.
func TestFolders(t *testing.T) {
	a, b, _ := testRuns(t)
	ctx := context.Background()
	good := FolderOptions{Options: Options{Alpha: 0.05, Level: 0.95, TopN: 20, List: 10, Floor: analysis.DefaultFloor}}
	for name, change := range map[string]func(*FolderOptions){
		"alpha":      func(o *FolderOptions) { o.Alpha = 1 },
		"level":      func(o *FolderOptions) { o.Level = 0 },
		"tests":      func(o *FolderOptions) { o.Tests = -1 },
		"floor":      func(o *FolderOptions) { o.Floor.MinUsers = -1 },
		"top-n":      func(o *FolderOptions) { o.TopN = 0 },
		"correction": func(o *FolderOptions) { o.Correction = "sidak" },
	} {
		o := good
		change(&o)
		if _, err := Folders(ctx, []string{a, b}, o); !analysis.IsOptionsError(err) {
			t.Errorf("%s: %v, want an OptionsError", name, err)
		}
	}
	if _, err := Folders(ctx, []string{a, t.TempDir()}, good); err == nil || analysis.IsOptionsError(err) {
		t.Errorf("not a run: %v", err)
	}
	o := good
	o.Out = filepath.Join(t.TempDir(), "cmp")
	rep, err := Folders(ctx, []string{a, b}, o)
	if err != nil {
		t.Fatal(err)
	}
	var back Report
	if b, err := os.ReadFile(filepath.Join(o.Out, "compare.json")); err != nil || json.Unmarshal(b, &back) != nil || len(back.Pairs) != len(rep.Pairs) {
		t.Fatalf("compare.json: %v", err)
	}
	for _, f := range []string{"differences.csv", "disagreements.csv"} {
		if _, err := os.Stat(filepath.Join(o.Out, f)); err != nil {
			t.Error(err)
		}
	}
}
