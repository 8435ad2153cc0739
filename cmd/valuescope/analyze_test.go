package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// quickstartRun runs the quickstart's stages over the demo data into a new
// run folder; valuesConfig is the values stage's config table (TOML inline
// table body, "" for none).
func quickstartRun(t *testing.T, valuesConfig string) string {
	t.Helper()
	dir := t.TempDir()
	data, err := filepath.Abs(filepath.Join("..", "..", "data", "demo", "conversations.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf("[dataset]\npaths = [%q]\n[[stages]]\nname = \"response-type\"\nplugin = \"builtin:response-type\"\n[[stages]]\nname = \"values\"\nplugin = \"builtin:cue-values\"\n", data)
	if valuesConfig != "" {
		cfg += "config = { " + valuesConfig + " }\n"
	}
	path := filepath.Join(dir, "run.toml")
	os.WriteFile(path, []byte(cfg), 0o644)
	out := filepath.Join(dir, "run")
	if code, stdout, errs := valuescope(t, "run", "--quiet", "--out", out, path); code != 0 {
		t.Fatalf("run: exit %d\n%s%s", code, stdout, errs)
	}
	return out
}

func TestAnalyzeQuickstart(t *testing.T) {
	run := quickstartRun(t, "")
	code, out, errs := valuescope(t, "analyze", run, "--table", "ai_values:topic", "--table", "rt=response_type:model", "--min-conversations", "2", "--json")
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	var reps []struct {
		Name      string  `json:"name"`
		Rows      int     `json:"rows"`
		Cols      int     `json:"cols"`
		N         float64 `json:"n"`
		DF        int     `json:"df"`
		Threshold *float64
		Files     []string `json:"files"`
		Contexts  []struct {
			Context  string `json:"context"`
			Positive []struct {
				Value    string  `json:"value"`
				Residual float64 `json:"residual"`
				Count    float64 `json:"count"`
			} `json:"positive"`
		} `json:"contexts"`
		Suppressed struct {
			Rows  int `json:"rows"`
			Cells int `json:"cells"`
		} `json:"suppressed"`
	}
	if err := json.Unmarshal([]byte(out), &reps); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if len(reps) != 2 || reps[0].Name != "ai_values_by_topic" || reps[1].Name != "rt" || reps[0].Cols < 5 || reps[0].Suppressed.Cells == 0 {
		t.Fatalf("%+v", reps)
	}
	// Coding conversations express technical excellence more than expected.
	found := false
	for _, c := range reps[0].Contexts {
		for _, a := range c.Positive {
			if a.Count < 2 {
				t.Errorf("reported under the floor: %+v", a)
			}
			if c.Context == "coding" && a.Value == "technical excellence" && a.Residual > 4 {
				found = true
			}
		}
	}
	if !found {
		t.Errorf("no technical excellence in coding: %+v", reps[0].Contexts)
	}
	for _, f := range append(reps[0].Files, reps[1].Files...) {
		if _, err := os.Stat(filepath.Join(run, f)); err != nil {
			t.Error(err)
		}
	}
	// Text output, default tables, a config file, errors.
	code, out, _ = valuescope(t, "analyze", run, "--min-conversations", "3", "--tests", "3307")
	if code != 0 || !strings.Contains(out, "== ai_values_by_response_type") || !strings.Contains(out, "|r| >= 4.33") || !strings.Contains(out, "privacy floor (3 conversations") {
		t.Fatalf("exit %d\n%s", code, out)
	}
	cfg := filepath.Join(t.TempDir(), "analysis.toml")
	os.WriteFile(cfg, []byte("[analysis]\ncorrection = \"bh\"\nmin_conversations = 1\n[[analysis.table]]\nname = \"lang\"\nrows = \"ai_values\"\ncols = \"meta.language\"\n"), 0o644)
	code, out, errs = valuescope(t, "analyze", run, "--config", cfg)
	if code != 0 || !strings.Contains(out, "== lang") || !strings.Contains(out, "correction BH") || !strings.Contains(out, "privacy floor: none") {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	// The run config's own [analysis] section (as the resolved config.toml
	// keeps it).
	resolved := filepath.Join(run, "config.toml")
	body, err := os.ReadFile(resolved)
	if err != nil {
		t.Fatal(err)
	}
	body = bytes.Replace(body, []byte("\n[analysis]\n"), []byte("\n[analysis]\nmin_conversations = 0\n[[analysis.table]]\nname = \"from_run\"\nrows = \"response_type\"\ncols = \"topic\"\n"), 1)
	os.WriteFile(resolved, body, 0o644)
	code, out, errs = valuescope(t, "analyze", run)
	if code != 0 || !strings.Contains(out, "== from_run") || strings.Contains(out, "== ai_values") || !strings.Contains(out, "privacy floor: none") {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	os.WriteFile(cfg, []byte("[analysis]\ncorection = \"bh\"\n"), 0o644)
	for _, c := range []struct {
		argv []string
		code int
		want string
	}{
		{[]string{"analyze", run, "--config", cfg}, 1, `analysis.toml:2: analysis.corection: unknown key, did you mean "correction"?`},
		{[]string{"analyze", run, "--table", "nope:topic"}, 1, `no field "nope"`},
		{[]string{"analyze", run, "--table", "ai_values"}, 2, "expected ROWS:CONTEXT"},
		{[]string{"analyze", run, "--rows", "ai_values"}, 2, "--rows and --cols go together"},
		{[]string{"analyze", run, "--table", "ai_values:topic", "--tests", "3"}, 1, "3 tests stated, but a family has"},
		{[]string{"analyze", t.TempDir()}, 1, "not a run folder"},
	} {
		code, _, errs := valuescope(t, c.argv...)
		if code != c.code || !strings.Contains(errs, c.want) {
			t.Errorf("%v: exit %d: %s", c.argv[2:], code, errs)
		}
	}
}
