// Package config reads the TOML file that declares one valuescope run.
//
// A run file has these sections:
//
//	[run]            name, output folder, worker count, the failure share that stops a run
//	[dataset]        the files to read (files, folders or globs) and how
//	[models.NAME]    any number of named models: provider, model id, endpoint, limits
//	[[stages]]       the plugins to run, in order, each with its model, prompt and
//	                 a free-form [stages.config] table handed to the plugin as-is
//
// Relative paths are resolved against the folder of the config file, not the
// working directory, so a config and the files it names can be moved together.
//
// [Load] reports every problem in one go, each with the file, line and dotted
// key (see [Errors]): a researcher with a 60-line config should not have to
// rerun ten times to find ten typos. To do that, the file is first parsed into
// a generic tree, and that tree is then decoded into [Config] by this
// package's own reflection walk, which keeps going after a bad key where
// toml.Decode would stop.
//
// # Adding a section
//
// Add a field with a toml tag to [Config] (or to any section type). Keys
// that are not fields are reported as unknown and values of the wrong type as
// type errors, with no further work. Rules beyond types (ranges, required
// keys, files that must exist, defaults, cross-references) go in a method
//
//	func (s *Section) validate(v scope)
//
// which is called after the section is decoded, may fill in defaults and
// resolve paths, and reports through v (v.field("key").errorf(...)) so that
// each problem gets its line and key. The existing sections' methods, in
// this file, are the examples.
//
// Field types the decoder knows: string, bool, integers, floats, slices,
// maps with string keys, structs, pointers to any of these (nil when the
// key is absent, for settings whose zero value is meaningful), and types with an UnmarshalText method
// (written as strings, like [Duration]). A map[string]any field is
// free-form: anything goes below it, unchecked (like [Stage.Config]).
package config

import (
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/valuescope/valuescope/host/hub"
)

// Config is one run, as declared in its TOML file. After [Load], every path
// in it is absolute and every default is applied.
type Config struct {
	Run     Run              `toml:"run"`
	Dataset Dataset          `toml:"dataset"`
	Models  map[string]Model `toml:"models,omitempty"`
	Stages  []Stage          `toml:"stages,omitempty"`
	// Analysis configures `valuescope analyze` (see analysis.go).
	Analysis Analysis `toml:"analysis,omitempty"`

	// Path is the absolute path of the file the config was loaded from.
	Path string `toml:"-"`
	// Source is the file's text exactly as read, so that a run folder can
	// keep (and hash) what the researcher wrote, relative paths and comments
	// included, next to the resolved form.
	Source []byte `toml:"-"`
}

// Run names the run and says where its folder is.
type Run struct {
	// Name defaults to the config file's name without its extension.
	Name string `toml:"name"`
	// Out is the run folder. It defaults to runs/NAME beside the config file.
	Out string `toml:"out"`
	// Workers is the number of conversations processed at once; 0 in the
	// file means one per usable CPU (runtime.GOMAXPROCS), which Load fills in.
	Workers int `toml:"workers"`
	// MaxFailureShare stops the run early (exit status 4) once a stage has
	// failed for more than this share of the conversations it processed in
	// the invocation, counted from its 20th conversation on; what was done
	// is kept, with the manifest and the exports. Greater than 0, at most 1
	// (1: never stop); default 0.5. A stage failing for most conversations is
	// broken (a plugin bug, a wrong config, a model that is down or refuses
	// the key), and going on spends hours and model calls on errors; one
	// failing for fewer is data with gaps, which the run finishes and reports
	// (exit status 3).
	MaxFailureShare float64 `toml:"max_failure_share"`
}

// DefaultMaxFailureShare is Run.MaxFailureShare when the file sets none.
const DefaultMaxFailureShare = 0.5

// Dataset says which conversations to read.
type Dataset struct {
	// Paths are files, folders or globs. Load checks that each exists (a glob
	// must match at least one file) and makes it absolute; expanding folders
	// and globs into files is left to the dataset reader. A path
	// hf://OWNER/NAME[@REVISION][/GLOB] names a Hugging Face dataset, which
	// Load only parses: the run fetches it (package hub).
	Paths []string `toml:"paths"`
	// Format is "auto" (detect per file, the default) or a format name.
	Format string `toml:"format"`
	// Strict makes the first bad record fatal instead of setting it aside.
	Strict bool `toml:"strict"`
	// Limit stops after that many conversations; 0 means no limit.
	Limit int `toml:"limit"`
}

// Model is one named model endpoint. Stages refer to it by its name in
// [models].
type Model struct {
	// Provider is "anthropic" or "openai" (any OpenAI-compatible server).
	Provider string `toml:"provider"`
	// Model is the provider's model id.
	Model string `toml:"model"`
	// BaseURL overrides the provider's default endpoint (vLLM, Ollama...).
	BaseURL string `toml:"base_url,omitempty"`
	// APIKeyEnv names the environment variable holding the key. The key
	// itself never appears in a config, because configs are copied into run
	// folders and published.
	APIKeyEnv string `toml:"api_key_env,omitempty"`
	// MaxConcurrency bounds calls in flight; 0 leaves it to the model client.
	MaxConcurrency int `toml:"max_concurrency,omitempty"`
	// Timeout bounds one call; 0 leaves it to the model client.
	Timeout Duration `toml:"timeout,omitempty"`
	// RPM and TPM bound requests and (input+output) tokens per minute; 0: none.
	RPM int `toml:"rpm,omitempty"`
	TPM int `toml:"tpm,omitempty"`
	// MaxRetries bounds retries after the first attempt (0: the default, 8).
	MaxRetries int `toml:"max_retries,omitempty"`
	// MaxTokens is the max_tokens of calls that set none.
	MaxTokens int `toml:"max_tokens,omitempty"`
	// InputPrice and OutputPrice, in US dollars per million tokens, make the
	// run count its cost; BatchDiscount is the fraction a batched call pays.
	InputPrice    float64 `toml:"input_price,omitempty"`
	OutputPrice   float64 `toml:"output_price,omitempty"`
	BatchDiscount float64 `toml:"batch_discount,omitempty"`
	// Batch sends calls through the provider's batch API (anthropic only):
	// half the price, answers within minutes to hours.
	Batch bool `toml:"batch,omitempty"`
	// BatchSize sends a batch once that many calls wait (0: 10,000; at
	// most 100,000, Anthropic's limit). A run whose stage sends batches
	// keeps that many conversations in flight, more than [run] workers.
	BatchSize int `toml:"batch_size,omitempty"`
	// BatchWait sends a batch at the latest that long after its first
	// call (0: one minute).
	BatchWait Duration `toml:"batch_wait,omitempty"`
	// BatchPoll is how often a batch is asked whether it ended (0: 30 s).
	BatchPoll Duration `toml:"batch_poll,omitempty"`
	// SchemaMode is how anthropic is sent a JSON schema: "tool" (default),
	// "output_config" or "none".
	SchemaMode string `toml:"schema_mode,omitempty"`
	// Strict asks an OpenAI-compatible server to enforce schemas strictly.
	Strict bool `toml:"strict,omitempty"`
}

// MaxBatchSize is the most requests a Message Batch takes (Anthropic's
// limit; its other limit, 256 MB a batch, the model client keeps).
const MaxBatchSize = 100_000

// providers are the valid values of Model.Provider.
var providers = []string{"anthropic", "openai"}

// Stage is one plugin run over every conversation, in config order.
type Stage struct {
	// Name identifies the stage's annotations; unique within a run.
	Name string `toml:"name"`
	// Plugin is "builtin:NAME", a path to a .wasm file, or
	// "grpc:COMMAND ARGS..." (split on white space, no quoting). Load makes a
	// .wasm path, and a grpc command given as a relative path, absolute.
	Plugin string `toml:"plugin"`
	// Model is a key of Config.Models, or empty for plugins that need none.
	Model string `toml:"model,omitempty"`
	// Prompt is the path of the prompt file, if the plugin takes one.
	Prompt string `toml:"prompt,omitempty"`
	// Keep, for a classifier stage, lists the labels whose conversations go
	// on to the next stages.
	Keep []string `toml:"keep,omitempty"`
	// Deadline bounds one call into the plugin ("30s"); "-1s" disables it.
	// Unset: 10 s for plugins from a file or command, none for built-in
	// plugins (see sdk/ABI.md on what enforcing a deadline costs).
	Deadline Duration `toml:"deadline,omitempty"`
	// Config is handed to the plugin as-is; its keys are the plugin's business.
	Config map[string]any `toml:"config,omitempty"`
}

// Duration is a time.Duration written in TOML as a Go duration string
// ("60s", "1m30s"), since TOML has no duration type and a bare number would
// leave the unit to guesswork.
type Duration struct{ time.Duration }

// UnmarshalText parses a Go duration string.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("invalid duration %q (want a Go duration such as \"60s\" or \"1m30s\")", b)
	}
	d.Duration = v
	return nil
}

// MarshalText writes the duration the way UnmarshalText reads it.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// Options carries the checks that belong to other packages, so that this one
// need not import them.
type Options struct {
	// Formats are the dataset format names the reader knows ("auto" is always
	// valid). Nil accepts any name.
	Formats []string
	// CheckPlugin, if set, is called with every plugin reference that passed
	// this package's own checks, after resolution (a .wasm path is absolute
	// and exists by then). Its error is reported against the stage's plugin
	// key. Nil accepts any builtin name.
	CheckPlugin func(ref string) error
}

// Load reads, checks and resolves the config file at path.
//
// If the file cannot be read, the error wraps the file system's.
// Otherwise every problem found is returned at once as [Errors], and the
// *Config is nil. A syntax error stops the check at that line, since nothing
// after it can be trusted.
func Load(path string, opts Options) (*Config, error) {
	src, abs, err := readSource(path)
	if err != nil {
		return nil, err
	}
	cfg := &Config{Path: abs, Source: src}
	if errs := decode(path, src, cfg, &checker{cfg: cfg, dir: filepath.Dir(abs), opts: opts}); len(errs) > 0 {
		return nil, errs
	}
	return cfg, nil
}

// The validate methods below run after their section is decoded. Keys that
// failed to decode are skipped by the scope, so a type error is not also
// reported as, say, a missing value.

func (r *Run) validate(v scope) {
	if r.Name == "" {
		r.Name = strings.TrimSuffix(filepath.Base(v.c.cfg.Path), filepath.Ext(v.c.cfg.Path))
	}
	if r.Out == "" {
		r.Out = filepath.Join("runs", r.Name)
	}
	r.Out = v.c.resolve(r.Out)
	if r.Workers < 0 {
		v.field("workers").errorf("must be >= 0 (0 means one per CPU), got %d", r.Workers)
	}
	if r.Workers == 0 {
		r.Workers = runtime.GOMAXPROCS(0)
	}
	share := v.field("max_failure_share")
	switch {
	case !v.c.defined[share.p.String()]:
		r.MaxFailureShare = DefaultMaxFailureShare
	case !(r.MaxFailureShare > 0 && r.MaxFailureShare <= 1): // NaN too
		share.errorf("must be greater than 0 and at most 1 (1: never stop the run), got %g", r.MaxFailureShare)
	}
}

func (d *Dataset) validate(v scope) {
	paths := v.field("paths")
	if len(d.Paths) == 0 {
		paths.missing("at least one file, folder or glob")
	}
	for i, p := range d.Paths {
		e := paths.elem(i)
		if p == "" {
			e.errorf("must not be empty")
			continue
		}
		if hub.IsURL(p) { // a Hugging Face dataset: fetched when the run starts
			if _, err := hub.Parse(p); err != nil {
				e.errorf("%v", err)
			}
			continue
		}
		d.Paths[i] = v.c.resolve(p)
		e.checkMatches(p, d.Paths[i])
	}
	if d.Format == "" {
		d.Format = "auto"
	}
	if known := v.c.opts.Formats; known != nil && d.Format != "auto" && !slices.Contains(known, d.Format) {
		if !slices.Contains(known, "auto") {
			known = append([]string{"auto"}, known...)
		}
		v.field("format").errorf("unknown format %q (known: %s)", d.Format, list(known))
	}
	if d.Limit < 0 {
		v.field("limit").errorf("must be >= 0 (0 means no limit), got %d", d.Limit)
	}
}

// envName is what a shell accepts as a variable name. An API key pasted in
// by mistake ("sk-...") fails it.
var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func (m *Model) validate(v scope) {
	switch {
	case m.Provider == "":
		v.field("provider").missing(strings.Join(quoteAll(providers), " or "))
	case !slices.Contains(providers, m.Provider):
		v.field("provider").errorf("unknown provider %q (known: %s)", m.Provider, list(providers))
	}
	if m.Model == "" {
		v.field("model").missing("the provider's model id")
	}
	if m.BaseURL != "" {
		u, err := url.Parse(m.BaseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			v.field("base_url").errorf("%q is not an http(s) URL", m.BaseURL)
		}
	}
	if m.APIKeyEnv != "" && !envName.MatchString(m.APIKeyEnv) {
		v.field("api_key_env").errorf("must be the name of an environment variable (like ANTHROPIC_API_KEY), not the key itself")
	}
	if m.MaxConcurrency < 0 {
		v.field("max_concurrency").errorf("must be >= 0, got %d", m.MaxConcurrency)
	}
	if m.Timeout.Duration < 0 {
		v.field("timeout").errorf("must not be negative, got %s", m.Timeout)
	}
	for _, f := range []struct {
		name string
		n    float64
	}{{"rpm", float64(m.RPM)}, {"tpm", float64(m.TPM)}, {"max_retries", float64(m.MaxRetries)}, {"max_tokens", float64(m.MaxTokens)},
		{"input_price", m.InputPrice}, {"output_price", m.OutputPrice}, {"batch_discount", m.BatchDiscount}, {"batch_size", float64(m.BatchSize)}} {
		if f.n < 0 {
			v.field(f.name).errorf("must be >= 0, got %g", f.n)
		}
	}
	if m.BatchSize > MaxBatchSize {
		v.field("batch_size").errorf("must be at most %d (Anthropic's limit per batch), got %d", MaxBatchSize, m.BatchSize)
	}
	for _, d := range []struct {
		name string
		d    Duration
	}{{"batch_wait", m.BatchWait}, {"batch_poll", m.BatchPoll}} {
		if d.d.Duration < 0 {
			v.field(d.name).errorf("must not be negative, got %s", d.d)
		}
	}
	if m.Batch && m.Provider != "anthropic" {
		v.field("batch").errorf("batches are for provider anthropic only")
	}
	if m.SchemaMode != "" && !slices.Contains([]string{"tool", "output_config", "none"}, m.SchemaMode) {
		v.field("schema_mode").errorf(`unknown schema mode %q (known: "tool", "output_config", "none")`, m.SchemaMode)
	}
}

func (s *Stage) validate(v scope) {
	if s.Name == "" {
		v.field("name").missing("a name unique among stages")
	}
	if s.Plugin == "" {
		v.field("plugin").missing(`"builtin:NAME", a path to a .wasm file, or "grpc:COMMAND ARGS..."`)
	} else {
		s.Plugin = v.field("plugin").checkPlugin(s.Plugin)
	}
	if s.Prompt != "" {
		orig := s.Prompt
		s.Prompt = v.c.resolve(orig)
		v.field("prompt").checkFile(orig, s.Prompt)
	}
	for i, l := range s.Keep {
		if l == "" {
			v.field("keep").elem(i).errorf("must not be empty")
		}
	}
}

// validate checks what spans sections: stage names and model references.
func (c *Config) validate(v scope) {
	stages := v.field("stages")
	first := map[string]int{}
	for i, s := range c.Stages {
		st := stages.elem(i)
		if s.Name != "" {
			if j, dup := first[s.Name]; dup {
				st.field("name").errorf("duplicate stage name %q (first used by stages[%d], line %d)", s.Name, j, stages.elem(j).field("name").line())
			} else {
				first[s.Name] = i
			}
		}
		// After a type error in [models], every reference would look unknown.
		if _, ok := c.Models[s.Model]; s.Model != "" && !ok && !v.field("models").failed() {
			defined := "none defined"
			if len(c.Models) > 0 {
				names := make([]string, 0, len(c.Models))
				for n := range c.Models {
					names = append(names, n)
				}
				slices.Sort(names)
				defined = "defined: " + strings.Join(names, ", ")
			}
			st.field("model").errorf("unknown model %q (%s)", s.Model, defined)
		}
	}
}

// checkMatches reports a dataset path that names nothing. Globs are held to
// what the dataset reader will accept: at least one regular file.
func (v scope) checkMatches(orig, abs string) {
	if !strings.ContainsAny(abs, "*?[") {
		if _, err := os.Stat(abs); err != nil {
			v.errorf("%q: %s", orig, statMsg(err, abs))
		}
		return
	}
	matches, err := filepath.Glob(abs)
	if err != nil {
		v.errorf("%q: invalid glob: %v", orig, err)
		return
	}
	for _, m := range matches {
		if st, err := os.Stat(m); err == nil && st.Mode().IsRegular() {
			return
		}
	}
	v.errorf("%q matches no file (looked for %s)", orig, abs)
}

// checkFile reports a path that is not an existing regular file.
func (v scope) checkFile(orig, abs string) bool {
	st, err := os.Stat(abs)
	switch {
	case err != nil:
		v.errorf("%q: %s", orig, statMsg(err, abs))
		return false
	case st.IsDir():
		v.errorf("%q is a folder, not a file", orig)
		return false
	}
	return true
}

// checkPlugin checks a plugin reference and returns it resolved.
func (v scope) checkPlugin(ref string) string {
	const want = `want "builtin:NAME", a path to a .wasm file, or "grpc:COMMAND ARGS..."`
	switch {
	case strings.HasPrefix(ref, "builtin:"):
		if strings.TrimSpace(strings.TrimPrefix(ref, "builtin:")) == "" {
			v.errorf("%q names no builtin plugin", ref)
			return ref
		}
	case strings.HasPrefix(ref, "grpc:"):
		args := strings.Fields(strings.TrimPrefix(ref, "grpc:"))
		if len(args) == 0 {
			v.errorf("%q names no command", ref)
			return ref
		}
		// A command with a separator is a path, relative to the config like
		// every other path; a bare name is looked up in PATH.
		if strings.ContainsRune(args[0], '/') || strings.ContainsRune(args[0], filepath.Separator) {
			orig := args[0]
			args[0] = v.c.resolve(orig)
			st, err := os.Stat(args[0])
			if err != nil {
				v.errorf("command %q: %s", orig, statMsg(err, args[0]))
				return ref
			}
			if st.IsDir() {
				v.errorf("command %q is a folder", orig)
				return ref
			}
		} else if _, err := exec.LookPath(args[0]); err != nil {
			v.errorf("command %q not found in PATH", args[0])
			return ref
		}
		ref = "grpc:" + strings.Join(args, " ")
	case strings.EqualFold(filepath.Ext(ref), ".wasm"):
		orig := ref
		ref = v.c.resolve(ref)
		if !v.checkFile(orig, ref) {
			return ref
		}
	default:
		v.errorf("invalid plugin %q: %s", ref, want)
		return ref
	}
	if v.c.opts.CheckPlugin != nil {
		if err := v.c.opts.CheckPlugin(ref); err != nil {
			v.errorf("plugin %q: %v", ref, err)
		}
	}
	return ref
}

// resolve makes p absolute, taking a relative p as relative to the config's
// folder.
func (c *checker) resolve(p string) string {
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(c.dir, p)
}

func statMsg(err error, abs string) string {
	if os.IsNotExist(err) {
		return "no such file or folder (looked for " + abs + ")"
	}
	return err.Error()
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = fmt.Sprintf("%q", s)
	}
	return out
}

func list(ss []string) string { return strings.Join(ss, ", ") }
