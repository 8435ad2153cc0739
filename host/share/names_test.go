package share_test

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"html"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/valuescope/valuescope/host/analysis"
	"github.com/valuescope/valuescope/host/runfolder"
	"github.com/valuescope/valuescope/host/share"
	"github.com/valuescope/valuescope/host/taxonomy"
)

// No exported file names a value under the floor: every string of the
// JSON files, every field of the CSV files and every text of the HTML
// page, and each phrase of them between punctuation (a description lists
// values: "12 values, the most frequent: a, b."), is checked against the
// values of the run's own tree (which lists every value) that the floor
// withholds.
func TestExportNamesNoValueUnderFloor(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the quickstart over hh-rlhf")
	}
	dir := hhRun(t)
	out := filepath.Join(t.TempDir(), "share")
	s, err := share.Export(context.Background(), dir, out)
	if err != nil {
		t.Fatal(err)
	}
	set, err := analysis.ReadRunSettings(dir)
	if err != nil {
		t.Fatal(err)
	}
	run, err := analysis.LoadRun(context.Background(), dir, analysis.LoadOptions{UserKeys: set.UserKeys})
	if err != nil {
		t.Fatal(err)
	}
	pass, err := taxonomy.NamePass(t.Context(), run, "ai_values", set.Floor())
	if err != nil {
		t.Fatal(err)
	}
	tree, err := taxonomy.ReadFile(filepath.Join(dir, "taxonomy", "ai_values.tree.csv"))
	if err != nil {
		t.Fatal(err)
	}
	under := map[string]bool{}
	for _, n := range tree.Level(0) {
		if k := taxonomy.Key(n.ID); !pass(k) {
			under[k] = true
		}
	}
	if len(under) == 0 {
		t.Fatal("no value under the floor: the test checks nothing")
	}
	found := map[string]string{}
	check := func(file, s string) {
		for _, phrase := range append([]string{s}, strings.FieldsFunc(s, func(r rune) bool { return strings.ContainsRune(",:;.()", r) })...) {
			if k := taxonomy.Key(phrase); under[k] {
				found[k] = file
			}
		}
	}
	var walk func(file string, v any)
	walk = func(file string, v any) {
		switch x := v.(type) {
		case string:
			check(file, x)
		case []any:
			for _, e := range x {
				walk(file, e)
			}
		case map[string]any:
			for k, e := range x {
				check(file, k)
				walk(file, e)
			}
		}
	}
	tag := regexp.MustCompile(`<[^>]*>`)
	scan := func(root, rel string) {
		b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(rel)))
		if err != nil {
			t.Fatal(err)
		}
		switch filepath.Ext(rel) {
		case ".json":
			var v any
			if err := json.Unmarshal(b, &v); err != nil {
				t.Fatalf("%s: %v", rel, err)
			}
			walk(rel, v)
		case ".csv":
			r := csv.NewReader(strings.NewReader(string(b)))
			r.FieldsPerRecord = -1
			recs, err := r.ReadAll()
			if err != nil {
				t.Fatalf("%s: %v", rel, err)
			}
			for _, rec := range recs {
				for _, f := range rec {
					check(rel, f)
				}
			}
		case ".html":
			// The page's texts, and the JSON it embeds (a script's text).
			for _, text := range tag.Split(string(b), -1) {
				text = html.UnescapeString(strings.TrimSpace(text))
				var v any
				if json.Unmarshal([]byte(text), &v) == nil {
					walk(rel, v)
					continue
				}
				check(rel, text)
			}
		}
	}
	// The control: the run's own tree, private, names them all.
	scan(dir, "taxonomy/ai_values.tree.csv")
	if len(found) != len(under) {
		t.Fatalf("the scan finds %d of the %d values under the floor in the run's own tree", len(found), len(under))
	}
	clear(found)
	for _, rel := range s.Files {
		scan(out, rel)
	}
	for k, file := range found {
		t.Errorf("%s names %q, a value under the floor", file, k)
	}
	t.Logf("%d files checked for %d values under the floor", len(s.Files), len(under))
}

// No exported file holds what the run folder keeps private in its
// manifest: the run folder's and the dataset files' paths, and the stages'
// configurations.
func TestExportHoldsNoPrivatePath(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the quickstart over hh-rlhf")
	}
	dir := hhRun(t)
	out := filepath.Join(t.TempDir(), "share")
	s, err := share.Export(context.Background(), dir, out)
	if err != nil {
		t.Fatal(err)
	}
	m, err := runfolder.Folder(dir).ReadManifest()
	if err != nil || m == nil {
		t.Fatalf("manifest: %v", err)
	}
	abs, _ := filepath.Abs(dir)
	private := []string{abs}
	for _, f := range m.Dataset.Files {
		private = append(private, filepath.Dir(f.Path))
	}
	for _, st := range m.Stages {
		if len(st.ConfigJSON) > 2 {
			private = append(private, st.ConfigJSON)
		}
	}
	for _, rel := range s.Files {
		b, err := os.ReadFile(filepath.Join(out, filepath.FromSlash(rel)))
		if err != nil {
			t.Fatal(err)
		}
		text := html.UnescapeString(string(b))
		for _, p := range private {
			// JSON escapes some characters; compare both spellings.
			js, _ := json.Marshal(p)
			if strings.Contains(text, p) || strings.Contains(text, strings.Trim(string(js), `"`)) {
				t.Errorf("%s holds %q", rel, p)
			}
		}
	}
	if len(private) < 2 {
		t.Fatalf("nothing private to look for: %v", private)
	}
}
