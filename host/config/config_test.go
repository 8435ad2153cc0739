package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
)

// project lays out a small project in a temporary folder: a config folder
// with a prompt and a Wasm file, and a data folder beside it. It returns the
// project root; configs go in root/configs.
func project(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	for name, body := range map[string]string{
		"data/demo.jsonl":             "{}\n",
		"data/more/a.jsonl":           "{}\n",
		"data/more/b.jsonl":           "{}\n",
		"configs/prompts/values.md":   "Find the values.\n",
		"configs/plugins/tagger.wasm": "\x00asm",
		"configs/bin/plugin":          "#!/bin/sh\n",
	} {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// writeConfig writes text as root/configs/name and returns its path.
func writeConfig(t *testing.T, root, name, text string) string {
	t.Helper()
	p := filepath.Join(root, "configs", name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

var formats = Options{Formats: []string{"jsonl", "sharegpt", "wildchat"}}

func TestLoadFullConfig(t *testing.T) {
	root := project(t)
	text := `# A full run.
[run]
name = "quickstart"
out = "../runs/quickstart"
workers = 3

[dataset]
paths = ["../data/demo.jsonl", "../data/more", "../data/more/*.jsonl"]
format = "wildchat"
strict = true
limit = 100

[models.claude]
provider = "anthropic"
model = "claude-sonnet-4-5"
api_key_env = "ANTHROPIC_API_KEY"
max_concurrency = 8
timeout = "60s"

[models.local]
provider = "openai"
model = "qwen"
base_url = "http://localhost:8000/v1"

[[stages]]
name = "filter"
plugin = "builtin:subjectivity"
model = "local"
keep = ["3", "4"]

[[stages]]
name = "values"
plugin = "plugins/tagger.wasm"
model = "claude"
prompt = "prompts/values.md"
[stages.config]
max_values = 10

[[stages]]
name = "remote"
plugin = "grpc:bin/plugin --fast"
`
	path := writeConfig(t, root, "full.toml", text)
	var checked []string
	opts := formats
	opts.CheckPlugin = func(ref string) error { checked = append(checked, ref); return nil }

	cfg, err := Load(path, opts)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	abs := func(rel string) string { return filepath.Join(root, filepath.FromSlash(rel)) }
	want := &Config{
		Run: Run{Name: "quickstart", Out: abs("runs/quickstart"), Workers: 3, MaxFailureShare: DefaultMaxFailureShare},
		Dataset: Dataset{
			Paths:  []string{abs("data/demo.jsonl"), abs("data/more"), abs("data/more/*.jsonl")},
			Format: "wildchat",
			Strict: true,
			Limit:  100,
		},
		Models: map[string]Model{
			"claude": {Provider: "anthropic", Model: "claude-sonnet-4-5", APIKeyEnv: "ANTHROPIC_API_KEY",
				MaxConcurrency: 8, Timeout: Duration{60 * time.Second}},
			"local": {Provider: "openai", Model: "qwen", BaseURL: "http://localhost:8000/v1"},
		},
		Stages: []Stage{
			{Name: "filter", Plugin: "builtin:subjectivity", Model: "local", Keep: []string{"3", "4"}},
			{Name: "values", Plugin: abs("configs/plugins/tagger.wasm"), Model: "claude",
				Prompt: abs("configs/prompts/values.md"), Config: map[string]any{"max_values": int64(10)}},
			{Name: "remote", Plugin: "grpc:" + abs("configs/bin/plugin") + " --fast"},
		},
		Path:   path,
		Source: []byte(text),
	}
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("Load =\n%+v\nwant\n%+v", cfg, want)
	}
	if wantChecked := []string{"builtin:subjectivity", abs("configs/plugins/tagger.wasm"), "grpc:" + abs("configs/bin/plugin") + " --fast"}; !reflect.DeepEqual(checked, wantChecked) {
		t.Errorf("CheckPlugin called with %q, want %q", checked, wantChecked)
	}
}

func TestLoadDefaults(t *testing.T) {
	root := project(t)
	path := writeConfig(t, root, "minimal.toml", `[dataset]
paths = ["../data/demo.jsonl"]
`)
	cfg, err := Load(path, Options{})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if cfg.Run.Name != "minimal" {
		t.Errorf("Run.Name = %q, want the file's name %q", cfg.Run.Name, "minimal")
	}
	if want := filepath.Join(root, "configs", "runs", "minimal"); cfg.Run.Out != want {
		t.Errorf("Run.Out = %q, want %q", cfg.Run.Out, want)
	}
	if want := runtime.GOMAXPROCS(0); cfg.Run.Workers != want {
		t.Errorf("Run.Workers = %d, want %d", cfg.Run.Workers, want)
	}
	if cfg.Dataset.Format != "auto" {
		t.Errorf("Dataset.Format = %q, want auto", cfg.Dataset.Format)
	}
	if cfg.Run.MaxFailureShare != DefaultMaxFailureShare {
		t.Errorf("Run.MaxFailureShare = %g, want %g", cfg.Run.MaxFailureShare, DefaultMaxFailureShare)
	}
}

// max_failure_share is kept as written within (0, 1] and refused outside,
// 0 included: written, it is not the default.
func TestMaxFailureShare(t *testing.T) {
	root := project(t)
	for text, want := range map[string]float64{"1": 1, "0.25": 0.25, "0": -1, "1.5": -1, "-0.1": -1, "nan": -1} {
		path := writeConfig(t, root, "share.toml", "[run]\nmax_failure_share = "+text+"\n[dataset]\npaths = [\"../data/demo.jsonl\"]\n")
		cfg, err := Load(path, Options{})
		if want < 0 {
			if err == nil || !strings.Contains(err.Error(), "share.toml:2: run.max_failure_share: must be greater than 0 and at most 1") {
				t.Errorf("%s: %v, want refused", text, err)
			}
			continue
		}
		if err != nil || cfg.Run.MaxFailureShare != want {
			t.Errorf("%s: %v, %v", text, cfg, err)
		}
	}
}

// TestLoadReportsEveryProblem checks that one Load finds every problem of
// every kind, each at its own line and key, in file order.
func TestLoadReportsEveryProblem(t *testing.T) {
	root := project(t)
	text := `[run]
workers = "four"
colour = "blue"

[dataset]
pahts = ["../data/demo.jsonl"]
format = "jsnol"

[models.claude]
provider = "anthropic"
model = "claude-sonnet-4-5"
timeout = "a minute"

[models.local]
provider = "llama"

[[stages]]
name = "values"
plugin = "builtin:cue-values"
model = "gpt5"
prompt = "prompts/missing.md"

[[stages]]
name = "values"
plugin = "tagger.so"
keep = ["3", 4]
`
	path := writeConfig(t, root, "bad.toml", text)
	_, err := Load(path, formats)
	var errs Errors
	if !errors.As(err, &errs) {
		t.Fatalf("Load error = %v (%T), want Errors", err, err)
	}
	want := []struct {
		line int
		key  string
		msg  string
	}{
		{2, "run.workers", `expected an integer, got string "four"`},
		{3, "run.colour", "unknown key (valid: name, out, workers, max_failure_share)"},
		{5, "dataset.paths", "required"}, // reported at its table's header
		{6, "dataset.pahts", `unknown key, did you mean "paths"?`},
		{7, "dataset.format", `unknown format "jsnol" (known: auto, jsonl, sharegpt, wildchat)`},
		{12, "models.claude.timeout", `invalid duration "a minute"`},
		{14, "models.local.model", "required"}, // reported at its table's header
		{15, "models.local.provider", `unknown provider "llama"`},
		{20, "stages[0].model", `unknown model "gpt5" (defined: claude, local)`},
		{21, "stages[0].prompt", `"prompts/missing.md": no such file or folder`},
		{24, "stages[1].name", `duplicate stage name "values" (first used by stages[0], line 18)`},
		{25, "stages[1].plugin", `invalid plugin "tagger.so"`},
		{26, "stages[1].keep[1]", "expected a string, got integer 4"},
	}
	if len(errs) != len(want) {
		t.Errorf("got %d errors, want %d:\n%v", len(errs), len(want), errs)
	}
	for i := range min(len(errs), len(want)) {
		g, w := errs[i], want[i]
		if g.File != path || g.Line != w.line || g.Key != w.key || !strings.Contains(g.Msg, w.msg) {
			t.Errorf("error %d = %s:%d: %s: %s\nwant       %s:%d: %s: ...%s...", i, g.File, g.Line, g.Key, g.Msg, path, w.line, w.key, w.msg)
		}
	}
}

// TestLoadErrors checks each kind of problem on its own, with the exact
// line and key it must be reported at.
func TestLoadErrors(t *testing.T) {
	const dataset = "[dataset]\npaths = [\"../data/demo.jsonl\"]\n"
	tests := []struct {
		name string
		opts Options
		text string
		line int
		key  string
		msg  string
	}{{
		name: "syntax error",
		text: dataset + "[run]\nname = \"x\"\nworkers = = 3\n",
		line: 5,
		msg:  "syntax error: ",
	}, {
		name: "duplicate key is a syntax error",
		text: dataset + "[run]\nname = \"x\"\nname = \"y\"\n",
		line: 5,
		msg:  "syntax error: ",
	}, {
		name: "unknown model",
		text: dataset + "[models.claude]\nprovider = \"anthropic\"\nmodel = \"m\"\n[[stages]]\nname = \"v\"\nplugin = \"builtin:v\"\nmodel = \"gpt5\"\n",
		line: 9,
		key:  "stages[0].model",
		msg:  `unknown model "gpt5" (defined: claude)`,
	}, {
		name: "model reference with no models",
		text: dataset + "[[stages]]\nname = \"v\"\nplugin = \"builtin:v\"\nmodel = \"claude\"\n",
		line: 6,
		key:  "stages[0].model",
		msg:  `unknown model "claude" (none defined)`,
	}, {
		name: "missing prompt file",
		text: dataset + "[[stages]]\nname = \"v\"\nplugin = \"builtin:v\"\nprompt = \"prompts/nope.md\"\n",
		line: 6,
		key:  "stages[0].prompt",
		msg:  `"prompts/nope.md": no such file or folder`,
	}, {
		name: "prompt is a folder",
		text: dataset + "[[stages]]\nname = \"v\"\nplugin = \"builtin:v\"\nprompt = \"prompts\"\n",
		line: 6,
		key:  "stages[0].prompt",
		msg:  `"prompts" is a folder, not a file`,
	}, {
		name: "glob that matches nothing",
		text: "[dataset]\npaths = [\n  \"../data/demo.jsonl\",\n  \"../data/*.parquet\",\n]\n",
		line: 4,
		key:  "dataset.paths[1]",
		msg:  `"../data/*.parquet" matches no file`,
	}, {
		name: "glob that matches only folders",
		text: "[dataset]\npaths = [\"../dat*\"]\n",
		line: 2,
		key:  "dataset.paths[0]",
		msg:  `"../dat*" matches no file`,
	}, {
		name: "missing data file",
		text: "[dataset]\npaths = [\"../data/nope.jsonl\"]\n",
		line: 2,
		key:  "dataset.paths[0]",
		msg:  `"../data/nope.jsonl": no such file or folder`,
	}, {
		name: "empty paths",
		text: "[dataset]\npaths = []\n",
		line: 2,
		key:  "dataset.paths",
		msg:  "must not be empty",
	}, {
		name: "missing dataset section",
		text: "[run]\nname = \"x\"\n",
		line: 0,
		key:  "dataset.paths",
		msg:  "required (want at least one file, folder or glob)",
	}, {
		name: "models of the wrong type",
		text: "models = 5\n" + dataset + "[[stages]]\nname = \"v\"\nplugin = \"builtin:v\"\nmodel = \"m\"\n",
		line: 1,
		key:  "models",
		msg:  "expected a table, got integer 5",
	}, {
		name: "wrong type",
		text: dataset + "[run]\nworkers = \"four\"\n",
		line: 4,
		key:  "run.workers",
		msg:  `expected an integer, got string "four"`,
	}, {
		name: "string instead of array",
		text: "[dataset]\npaths = \"../data/demo.jsonl\"\n",
		line: 2,
		key:  "dataset.paths",
		msg:  `expected an array of strings, got string "../data/demo.jsonl"`,
	}, {
		name: "table instead of array of tables",
		text: dataset + "[stages]\nname = \"v\"\n",
		line: 3,
		key:  "stages",
		msg:  "expected an array of tables ([[stages]]), got a table",
	}, {
		name: "negative workers",
		text: dataset + "[run]\nworkers = -1\n",
		line: 4,
		key:  "run.workers",
		msg:  "must be >= 0",
	}, {
		name: "duplicate stage names",
		text: dataset + "[[stages]]\nname = \"v\"\nplugin = \"builtin:a\"\n\n[[stages]]\nname = \"v\"\nplugin = \"builtin:b\"\n",
		line: 8,
		key:  "stages[1].name",
		msg:  `duplicate stage name "v" (first used by stages[0], line 4)`,
	}, {
		name: "missing stage name",
		text: dataset + "[[stages]]\nplugin = \"builtin:a\"\n",
		line: 3,
		key:  "stages[0].name",
		msg:  "required",
	}, {
		name: "invalid plugin ref",
		text: dataset + "[[stages]]\nname = \"v\"\nplugin = \"wasm:tagger\"\n",
		line: 5,
		key:  "stages[0].plugin",
		msg:  `invalid plugin "wasm:tagger": want "builtin:NAME"`,
	}, {
		name: "missing wasm file",
		text: dataset + "[[stages]]\nname = \"v\"\nplugin = \"plugins/nope.wasm\"\n",
		line: 5,
		key:  "stages[0].plugin",
		msg:  `"plugins/nope.wasm": no such file or folder`,
	}, {
		name: "grpc command not found",
		text: dataset + "[[stages]]\nname = \"v\"\nplugin = \"grpc:./bin/nope --fast\"\n",
		line: 5,
		key:  "stages[0].plugin",
		msg:  `command "./bin/nope": no such file or folder`,
	}, {
		name: "plugin rejected by caller",
		opts: Options{CheckPlugin: func(ref string) error {
			if ref == "builtin:nope" {
				return errors.New("no builtin plugin named nope (have: cue-values)")
			}
			return nil
		}},
		text: dataset + "[[stages]]\nname = \"v\"\nplugin = \"builtin:nope\"\n",
		line: 5,
		key:  "stages[0].plugin",
		msg:  `plugin "builtin:nope": no builtin plugin named nope (have: cue-values)`,
	}, {
		name: "invalid format",
		opts: formats,
		text: dataset + "format = \"csv\"\n",
		line: 3,
		key:  "dataset.format",
		msg:  `unknown format "csv" (known: auto, jsonl, sharegpt, wildchat)`,
	}, {
		name: "invalid duration",
		text: dataset + "[models.m]\nprovider = \"openai\"\nmodel = \"x\"\ntimeout = \"60\"\n",
		line: 6,
		key:  "models.m.timeout",
		msg:  `invalid duration "60"`,
	}, {
		name: "duration of the wrong type",
		text: dataset + "[models.m]\nprovider = \"openai\"\nmodel = \"x\"\ntimeout = 60\n",
		line: 6,
		key:  "models.m.timeout",
		msg:  `expected a duration string such as "60s", got integer 60`,
	}, {
		name: "missing model id",
		text: dataset + "\n[models.m]\nprovider = \"openai\"\n",
		line: 4,
		key:  "models.m.model",
		msg:  "required",
	}, {
		name: "api key instead of its variable",
		text: dataset + "[models.m]\nprovider = \"anthropic\"\nmodel = \"x\"\napi_key_env = \"sk-ant-api03-abc\"\n",
		line: 6,
		key:  "models.m.api_key_env",
		msg:  "must be the name of an environment variable",
	}, {
		name: "base url without scheme",
		text: dataset + "[models.m]\nprovider = \"openai\"\nmodel = \"x\"\nbase_url = \"localhost:8000\"\n",
		line: 6,
		key:  "models.m.base_url",
		msg:  `"localhost:8000" is not an http(s) URL`,
	}, {
		name: "batch larger than the provider takes",
		text: dataset + "[models.m]\nprovider = \"anthropic\"\nmodel = \"x\"\nbatch = true\nbatch_size = 200000\n",
		line: 7,
		key:  "models.m.batch_size",
		msg:  "must be at most 100000 (Anthropic's limit per batch), got 200000",
	}, {
		name: "negative batch poll",
		text: dataset + "[models.m]\nprovider = \"anthropic\"\nmodel = \"x\"\nbatch = true\nbatch_poll = \"-5s\"\n",
		line: 7,
		key:  "models.m.batch_poll",
		msg:  "must not be negative, got -5s",
	}, {
		name: "unknown section",
		text: dataset + "\n[reprot]\ntitle = \"x\"\n",
		line: 4,
		key:  "reprot",
		msg:  "unknown key (valid: run, dataset, models, stages, analysis)",
	}, {
		name: "unknown key in a stage",
		text: dataset + "[[stages]]\nname = \"v\"\nplugin = \"builtin:v\"\n[[stages]]\nname = \"w\"\nplugin = \"builtin:w\"\nmodle = \"m\"\n",
		line: 9,
		key:  "stages[1].modle",
		msg:  `unknown key, did you mean "model"?`,
	}, {
		name: "unknown key in an inline table",
		text: dataset + "[models]\nm = { provider = \"openai\", model = \"x\",\n      timeuot = \"1s\" }\n",
		line: 5,
		key:  "models.m.timeuot",
		msg:  `did you mean "timeout"?`,
	}, {
		name: "free-form config must be a table",
		text: dataset + "[[stages]]\nname = \"v\"\nplugin = \"builtin:v\"\nconfig = 3\n",
		line: 6,
		key:  "stages[0].config",
		msg:  "expected a table, got integer 3",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := project(t)
			path := writeConfig(t, root, "x.toml", tt.text)
			cfg, err := Load(path, tt.opts)
			if cfg != nil {
				t.Errorf("Load returned a config along with error %v", err)
			}
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("Load error = %v (%T), want Errors", err, err)
			}
			if len(errs) != 1 {
				t.Fatalf("got %d errors, want 1:\n%v", len(errs), errs)
			}
			e := errs[0]
			if e.File != path || e.Line != tt.line || e.Key != tt.key || !strings.Contains(e.Msg, tt.msg) {
				t.Errorf("got  %s:%d: %s: %s\nwant %s:%d: %s: ...%s...", e.File, e.Line, e.Key, e.Msg, path, tt.line, tt.key, tt.msg)
			}
		})
	}
}

func TestStageConfigIsFreeForm(t *testing.T) {
	root := project(t)
	path := writeConfig(t, root, "x.toml", `[dataset]
paths = ["../data/demo.jsonl"]

[[stages]]
name = "values"
plugin = "builtin:cue-values"
[stages.config]
anything = "goes"
Weird-Key = [1, "two", 3.0]
temperature = 0.2
[stages.config.nested]
deeper = { list = [{ a = 1 }], flag = true }
`)
	cfg, err := Load(path, Options{})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	want := map[string]any{
		"anything":    "goes",
		"Weird-Key":   []any{int64(1), "two", 3.0},
		"temperature": 0.2,
		"nested": map[string]any{
			"deeper": map[string]any{"list": []any{map[string]any{"a": int64(1)}}, "flag": true},
		},
	}
	if got := cfg.Stages[0].Config; !reflect.DeepEqual(got, want) {
		t.Errorf("Stages[0].Config = %#v\nwant %#v", got, want)
	}
}

func TestLoadUnreadableFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.toml"), Options{})
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Load error = %v, want one wrapping os.ErrNotExist", err)
	}
	var errs Errors
	if errors.As(err, &errs) {
		t.Errorf("an unreadable file is not a config problem, got Errors %v", errs)
	}
}

func TestErrorsFormat(t *testing.T) {
	errs := Errors{
		{File: "configs/x.toml", Key: "dataset.paths", Msg: "required (want at least one file)"},
		{File: "configs/x.toml", Line: 12, Key: "stages[1].model", Msg: `unknown model "gpt5" (defined: claude, local)`},
		{File: "configs/x.toml", Line: 3, Msg: "syntax error: expected value"},
	}
	want := `configs/x.toml: dataset.paths: required (want at least one file)
configs/x.toml:12: stages[1].model: unknown model "gpt5" (defined: claude, local)
configs/x.toml:3: syntax error: expected value`
	if got := errs.Error(); got != want {
		t.Errorf("Errors.Error() =\n%s\nwant\n%s", got, want)
	}
	var e *Error
	if !errors.As(fmt.Errorf("load: %w", errs), &e) || e != errs[0] {
		t.Errorf("errors.As did not find the first *Error through Errors")
	}
}

func TestIndexLines(t *testing.T) {
	src := "\xef\xbb\xbf" + `# [not.a.table] = 1
title = """
[fake]
key = "no"
"""
literal = '''
x = [ ''' # a comment with [brackets] and "quotes
arr = [
  "a, ]", # ]
  'b',

  { k = 1 },
]
"quoted key".'lit key' . bare = 1
when = 1979-05-27 07:32:00
[ models . "my model" ]
x.y = { a = 1,
  b = [2,
       3] }
[[stages]]
name = "s0"
[[stages]]
[stages.config]
deep = "x\"y"
[[stages.sub]]
n = 1
[[stages.sub]]
n = 2
esc = "a\tb"
"caf\u00e9" = 1
`
	got, _ := indexLines([]byte(src))
	want := map[string]int{
		"title":                       2,
		"literal":                     6,
		"arr":                         8,
		"arr[0]":                      9,
		"arr[1]":                      10,
		"arr[2]":                      12,
		"arr[2].k":                    12,
		`"quoted key"`:                14,
		`"quoted key"."lit key".bare`: 14,
		"when":                        15,
		"models":                      16,
		`models."my model"`:           16,
		`models."my model".x.y`:       17,
		`models."my model".x.y.b[1]`:  19,
		"stages":                      20,
		"stages[0].name":              21,
		"stages[1]":                   22,
		"stages[1].config":            23,
		"stages[1].config.deep":       24,
		"stages[1].sub":               25,
		"stages[1].sub[0].n":          26,
		"stages[1].sub[1]":            27,
		"stages[1].sub[1].n":          28,
		"stages[1].sub[1].esc":        29,
		`stages[1].sub[1]."café"`:     30,
	}
	for k, w := range want {
		if g, ok := got[k]; !ok || g != w {
			t.Errorf("line of %s = %d (found %v), want %d", k, g, ok, w)
		}
	}
	for _, k := range []string{"fake", "key", "x", "k", "n"} {
		if l, ok := got[k]; ok {
			t.Errorf("indexLines found key %q at line %d; it is inside a string or nested", k, l)
		}
	}
}

func TestEditDistance(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		want int
	}{
		{"paths", "paths", 0},
		{"pahts", "paths", 1},
		{"modle", "model", 1},
		{"prompts", "prompt", 1},
		{"workers", "", 7},
		{"colour", "out", 4},
	} {
		if got := editDistance(tt.a, tt.b); got != tt.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}

// FuzzDecode checks that no input, valid TOML or not, makes the decoder or
// the line scanner panic or hang, and that every reported line exists.
func FuzzDecode(f *testing.F) {
	f.Add("[run]\nworkers = \"four\"\n[[stages]]\nname = \"v\"\n[stages.config]\nx = [1, {a = 2}]\n")
	f.Add("a = '''\n[x]\n'''\nb = \"\"\"\\\"\"\"\"\n[ \"q\" . 'r' ]\n[[s.t]]\n")
	f.Add("[models.m]\ntimeout = \"1s\"\nmax_concurrency = 9999999999999999999\n")
	f.Fuzz(func(t *testing.T, src string) {
		lines := strings.Count(src, "\n") + 1
		got, _ := indexLines([]byte(src))
		for k, l := range got {
			if l < 1 || l > lines {
				t.Errorf("indexLines: key %s at line %d of %d", k, l, lines)
			}
		}
		cfg := &Config{Path: "/nonexistent/x.toml"}
		for _, e := range decode("x.toml", []byte(src), cfg, &checker{cfg: cfg, dir: "/nonexistent"}) {
			if e.Line < 0 || e.Line > lines {
				t.Errorf("error at line %d of %d: %v", e.Line, lines, e)
			}
		}
	})
}

// Deep nesting is refused with the key and line before the TOML library
// sees it: 100,000 nested arrays in 200 KB once took over 24 GB (the
// checker built each key's path at every level), and the library itself
// takes gigabytes on deep inline tables and dotted keys.
func TestLoadDeepNesting(t *testing.T) {
	root := project(t)
	const n = 100_000
	head := "[dataset]\npaths = [\"../data/demo.jsonl\"]\n"
	for name, tc := range map[string]struct{ text, key string }{
		"arrays":  {head + "[stages.config]\nname = " + strings.Repeat("[", n) + strings.Repeat("]", n) + "\n", "stages.config.name[0][0][0][0][0]..."},
		"inline":  {head + "[stages.config]\na = " + strings.Repeat("{b = ", n) + "1" + strings.Repeat("}", n) + "\n", "stages.config.a.b.b.b.b.b..."},
		"headers": {head + "[" + strings.TrimSuffix(strings.Repeat("a.", n), ".") + "]\nx = 1\n", "a.a.a.a.a.a.a.a..."},
		"dotted":  {head + strings.TrimSuffix(strings.Repeat("a.", n), ".") + " = 1\n", "dataset.a.a.a.a.a.a.a..."},
	} {
		t.Run(name, func(t *testing.T) {
			p := writeConfig(t, root, name+".toml", tc.text)
			_, err := Load(p, formats)
			var es Errors
			if !errors.As(err, &es) || len(es) != 1 {
				t.Fatalf("want one error, got %v", err)
			}
			e := es[0]
			line := 4
			if name == "headers" || name == "dotted" {
				line = 3
			}
			if e.File != p || e.Line != line || e.Key != tc.key || !strings.Contains(e.Msg, "more than 64 levels") {
				t.Errorf("got %s:%d: %s: %s", e.File, e.Line, e.Key, e.Msg)
			}
		})
	}
	// At the bound it still loads: with d brackets the deepest key is
	// stages[0].config.name and d-1 indices, 64 steps for d = 61.
	d := MaxDepth - 3
	text := head + "[[stages]]\nname = \"s\"\nplugin = \"builtin:x\"\n[stages.config]\nname = " + strings.Repeat("[", d) + strings.Repeat("]", d) + "\n"
	cfg, err := Load(writeConfig(t, root, "under.toml", text), formats)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := cfg.Stages[0].Config["name"].([]any); !ok {
		t.Errorf("config.name = %#v", cfg.Stages[0].Config["name"])
	}
	text = head + "[[stages]]\nname = \"s\"\nplugin = \"builtin:x\"\n[stages.config]\nname = " + strings.Repeat("[", d+1) + strings.Repeat("]", d+1) + "\n"
	if _, err := Load(writeConfig(t, root, "over.toml", text), formats); err == nil || !strings.Contains(err.Error(), "more than 64 levels") {
		t.Errorf("one level more: %v", err)
	}
}

// [analysis] records which floor keys were set, also when they are set to
// their default or to zero, and a resolved config encoded again keeps them.
func TestAnalysisSetKeysRoundTrip(t *testing.T) {
	root := project(t)
	text := `[dataset]
paths = ["../data/demo.jsonl"]

[analysis]
correction = "holm"
tests = 3307
min_conversations = 5
method = "normal"
monte_carlo = 2000

[[analysis.table]]
name = "by topic"
rows = "ai_values"
cols = "topic"
min_users = 0

[[analysis.table]]
rows = "ai_values"
cols = "meta.model"
family = "table"
`
	cfg, err := Load(writeConfig(t, root, "a.toml", text), formats)
	if err != nil {
		t.Fatal(err)
	}
	check := func(what string, a *Analysis) {
		t.Helper()
		if a == nil || a.Correction != "holm" || a.Tests != 3307 || a.Method != "normal" || a.MonteCarlo != 2000 || a.MinConversations == nil || *a.MinConversations != 5 || a.MinUsers != nil ||
			len(a.Tables) != 2 || a.Tables[0].MinUsers == nil || *a.Tables[0].MinUsers != 0 || a.Tables[0].MinConversations != nil ||
			a.Tables[1].MinUsers != nil || a.Tables[1].Family != "table" {
			t.Fatalf("%s: %+v", what, a)
		}
	}
	check("Load", &cfg.Analysis)
	var buf strings.Builder
	if err := toml.NewEncoder(&buf).Encode(cfg); err != nil {
		t.Fatal(err)
	}
	for _, unset := range []string{"alpha =", "top =", "min_users = 5", "user_keys ="} {
		if strings.Contains(buf.String(), unset) {
			t.Errorf("resolved config writes %q, which was not set:\n%s", unset, buf.String())
		}
	}
	resolved := writeConfig(t, root, "resolved.toml", buf.String())
	a, err := LoadAnalysis(resolved)
	if err != nil {
		t.Fatal(err)
	}
	check("LoadAnalysis of the resolved config", a)
	if again, err := Load(resolved, formats); err != nil {
		t.Fatal(err)
	} else {
		check("Load of the resolved config", &again.Analysis)
	}
}

func TestLoadAnalysis(t *testing.T) {
	root := project(t)
	// Only [analysis] is read: the dataset named here does not exist.
	p := writeConfig(t, root, "run.toml", "[dataset]\npaths = [\"gone.jsonl\"]\n[analysis]\nmin_users = 2\n")
	if a, err := LoadAnalysis(p); err != nil || a == nil || a.MinUsers == nil || *a.MinUsers != 2 || a.MinConversations != nil {
		t.Fatalf("%+v %v", a, err)
	}
	p = writeConfig(t, root, "none.toml", "[run]\nname = \"x\"\n[[stages]]\nname = \"s\"\n")
	if a, err := LoadAnalysis(p); err != nil || a != nil {
		t.Fatalf("no section: %+v %v", a, err)
	}
	for body, want := range map[string]string{
		"[analysis]\ncorection = \"holm\"\n":                        `:2: analysis.corection: unknown key, did you mean "correction"?`,
		"[[analysis.table]]\nrows = \"a\"\ncolz = \"b\"\n":          ":3: analysis.table[0].colz: unknown key",
		"[[analysis.table]]\nrows = \"a\"\n":                        ":1: analysis.table[0].cols: required",
		"[analysis]\ncorrection = \"sidak\"\n":                      `:2: analysis.correction: unknown correction "sidak"`,
		"[analysis]\nmethod = \"z-test\"\n":                         `:2: analysis.method: unknown method "z-test"`,
		"[analysis]\nmonte_carlo = -1\n":                            `:2: analysis.monte_carlo: must be >= 0, got -1`,
		"[analysis]\nalpha = \"x\"\n":                               `:2: analysis.alpha: expected a number, got string "x"`,
		"[analysis]\nmin_users = \"x\"\n":                           `:2: analysis.min_users: expected an integer, got string "x"`,
		"[analysis\n":                                               ":2: syntax error",
		"[run]\nname = \"x\"\n[analysis]\nfamily = \"row\"\n":       `:4: analysis.family: unknown family "row"`,
		"[[analysis.table]]\nrows = \"a\"\ncols = \"b\"\nalpha = 2": ":4: analysis.table[0].alpha: must be between 0 and 1, got 2",
	} {
		p := writeConfig(t, root, "bad.toml", body)
		if _, err := LoadAnalysis(p); err == nil || !strings.Contains(err.Error(), p+want) {
			t.Errorf("%q: %v, want %q", body, err, want)
		}
	}
}
