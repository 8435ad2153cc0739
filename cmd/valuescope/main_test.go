package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/valuescope/valuescope/internal/shareddata"
)

// valuescope runs a command line in-process and returns its exit status and output.
func valuescope(t *testing.T, argv ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := execute(argv, &out, &errb)
	return code, out.String(), errb.String()
}

// The counts the issue fixes for the real files, through the CLI's --json.
func TestInspectJSONRealData(t *testing.T) {
	cases := []struct {
		path   string
		format string
		convs  int
		roles  map[string]int // roles that must be present (count > 0)
	}{
		{"hh-rlhf", "hh-rlhf", 4624, map[string]int{"user": 0, "assistant": 0}},
		{"chatbot-arena/chatbot_arena_messages.jsonl", "openai", 2129, map[string]int{"user": 0, "assistant": 0}},
		{"sharegpt/sharegpt_zh_1K_format.jsonl", "sharegpt", 1000, map[string]int{"user": 0, "assistant": 0}},
		{"sharegpt/sg_90k_part1_html_cleaned_lang_first_sampled_sorted.json", "sharegpt", 2978, map[string]int{"user": 0, "system": 0}},
	}
	for _, c := range cases {
		t.Run(c.format, func(t *testing.T) {
			code, out, errs := valuescope(t, "datasets", "inspect", "--json", shareddata.Path(t, c.path))
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errs)
			}
			var got struct {
				Format        string         `json:"format"`
				Conversations int            `json:"conversations"`
				Turns         int            `json:"turns"`
				Roles         map[string]int `json:"roles"`
				BadRecords    *int           `json:"bad_records"`
			}
			if err := json.Unmarshal([]byte(out), &got); err != nil {
				t.Fatalf("%v in %s", err, out)
			}
			if got.Format != c.format || got.Conversations != c.convs || got.BadRecords == nil || *got.BadRecords != 0 || got.Turns == 0 {
				t.Fatalf("got %+v", got)
			}
			for role := range c.roles {
				if got.Roles[role] == 0 {
					t.Errorf("no %s turns counted: %v", role, got.Roles)
				}
			}
		})
	}
}

func TestExitCodes(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope.jsonl")
	bad := filepath.Join(t.TempDir(), "bad.jsonl")
	os.WriteFile(bad, []byte(`{"prompt": 1}`+"\n"), 0o644)
	cases := []struct {
		argv []string
		code int
		msg  string
	}{
		{[]string{"datasets", "inspect"}, 2, "requires at least 1 arg"},
		{[]string{"datasets", "inspect", "--bogus", "x"}, 2, "unknown flag"},
		{[]string{"nosuchcommand"}, 2, "unknown command"},
		{[]string{"datasets", "inspect", "--format", "nope", missing}, 2, `unknown format "nope"`},
		{[]string{"datasets", "inspect", missing}, 1, "no such file"},
		{[]string{"datasets", "inspect", bad}, 1, "not a known dataset format"},
		{[]string{"datasets", "convert", bad}, 2, "--out is required"},
		{[]string{"--help"}, 0, ""},
	}
	for _, c := range cases {
		code, _, errs := valuescope(t, c.argv...)
		if code != c.code || !strings.Contains(errs, c.msg) {
			t.Errorf("%q: exit %d, stderr %q; want %d and %q", c.argv, code, errs, c.code, c.msg)
		}
	}
}

func TestConvertAndReadBack(t *testing.T) {
	src := shareddata.Path(t, "sharegpt/sharegpt_zh_1K_format.jsonl")
	out := filepath.Join(t.TempDir(), "zh.jsonl")
	if code, _, errs := valuescope(t, "datasets", "convert", src, "--out", out); code != 0 || !strings.Contains(errs, "wrote 1000 conversations") {
		t.Fatalf("convert: exit %d: %s", code, errs)
	}
	code, stdout, errs := valuescope(t, "datasets", "inspect", "--json", out)
	if code != 0 || !strings.Contains(stdout, `"format": "valuescope"`) || !strings.Contains(stdout, `"conversations": 1000`) {
		t.Fatalf("inspect converted: exit %d %s %s", code, stdout, errs)
	}
}

func TestValidate(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "data.jsonl"), []byte(`{"messages":[{"role":"user","content":"x"}]}`+"\n"), 0o644)
	good := filepath.Join(dir, "good.toml")
	os.WriteFile(good, []byte("[run]\nname = \"t\"\n[dataset]\npaths = [\"data.jsonl\"]\n"), 0o644)
	bad := filepath.Join(dir, "bad.toml")
	os.WriteFile(bad, []byte(strings.Join([]string{
		"[run]",
		"workers = \"four\"",
		"[dataset]",
		"pahts = [\"data.jsonl\"]",
		"format = \"csv\"",
		"[[stages]]",
		"name = \"values\"",
		"plugin = \"builtin:nope\"",
		"model = \"ghost\"",
	}, "\n")), 0o644)

	if code, out, errs := valuescope(t, "validate", good); code != 0 || !strings.Contains(out, "ok") {
		t.Fatalf("good config: exit %d %s %s", code, out, errs)
	}
	code, _, errs := valuescope(t, "validate", bad)
	if code != 1 {
		t.Fatalf("bad config: exit %d", code)
	}
	for _, want := range []string{
		"bad.toml:2: run.workers:",
		"bad.toml:4: dataset.pahts: unknown key",
		"bad.toml:5: dataset.format: unknown format \"csv\"",
		"bad.toml:8: stages[0].plugin: plugin \"builtin:nope\": unknown built-in plugin \"nope\"",
		"bad.toml:9: stages[0].model: unknown model \"ghost\"",
	} {
		if !strings.Contains(errs, want) {
			t.Errorf("missing %q in:\n%s", want, errs)
		}
	}
}

// The README's validate example is what configs/examples/bad.toml gives.
func TestValidateREADMEExample(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(readme), "$ go run ./cmd/valuescope validate configs/examples/bad.toml\n")
	if !ok {
		t.Fatal("README has no validate example")
	}
	want, _, _ := strings.Cut(after, "```")
	t.Chdir("../..")
	code, _, errs := valuescope(t, "validate", "configs/examples/bad.toml")
	if code != 1 || errs != want {
		t.Errorf("exit %d, stderr:\n%s\nREADME shows:\n%s", code, errs, want)
	}
}
