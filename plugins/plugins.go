// Package plugins holds the plugins built into valuescope: their sources
// (extractors/, classifiers/, namers/) and one WebAssembly module that serves
// them all (wasm/builtins.wasm, built from builtins/), which is committed and
// embedded so that `go install` and `go run` users get it without a build
// step. One module has one Go runtime for all the built-ins (~5 MB, where a
// module each took ~4 MB); an instance picks its plugin from the
// environment variable EnvVar, which the host sets (see builtins/main.go for
// why). `valuescope plugins build` regenerates the module and
// wasm/builtins.sources.json, each built-in's source digest; builds are
// reproducible, and `valuescope plugins build --check` (run by CI) fails when
// either committed file does not match the source.
package plugins

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
)

// Module is the path of the built-in plugins' module, relative to the
// module root; Main is the main package that builds it; SourcesFile holds
// their source digests.
const (
	Module      = "plugins/wasm/builtins.wasm"
	Main        = "./plugins/builtins"
	SourcesFile = "plugins/wasm/builtins.sources.json"
)

// EnvVar is the environment variable that tells an instance of the module
// which built-in to serve.
const EnvVar = "VALUESCOPE_BUILTIN"

//go:embed wasm/builtins.wasm
var module []byte

//go:embed wasm/builtins.sources.json
var sourcesJSON []byte

// Builtin is one built-in plugin.
type Builtin struct {
	// Name is what a config writes after "builtin:".
	Name string
	// Package is the package that implements the plugin, relative to the
	// module root; its source digest covers it and the packages of this
	// repository it imports.
	Package string
	// Heuristic says the plugin is an offline heuristic (cue phrases and
	// fixed rules), not a model: its results are a demonstration, and a
	// report says so beside them.
	Heuristic bool
	// Languages are the languages (ISO 639-1) the plugin reads; nil: any
	// its model reads. A report counts the conversations in other ones.
	Languages []string
}

// All lists the built-in plugins.
var All = []Builtin{
	// Offline heuristics: English cue phrases.
	{Name: "cue-values", Package: "./plugins/extractors/cuevalues", Heuristic: true, Languages: []string{"en"}},
	{Name: "response-type", Package: "./plugins/classifiers/responsetype", Heuristic: true, Languages: []string{"en"}},
	// Model-backed: the paper's method, each driven by a prompt file.
	{Name: "subjectivity", Package: "./plugins/classifiers/subjectivity"},
	{Name: "values", Package: "./plugins/extractors/values"},
	{Name: "response-type-model", Package: "./plugins/classifiers/modelresponsetype"},
	{Name: "task", Package: "./plugins/classifiers/task"},
	{Name: "task-description", Package: "./plugins/classifiers/task"},
	// A namer: names taxonomy clusters (valuescope taxonomy build --name-model).
	{Name: "contrastive-namer", Package: "./plugins/namers/contrastive"},
}

// Wasm returns the embedded module, which serves every built-in (select
// one with Env).
func Wasm() []byte { return module }

// Env is the environment an instance of the module needs to serve b.
func (b Builtin) Env() map[string]string { return map[string]string{EnvVar: b.Name} }

// Sources is what wasm/builtins.sources.json records: the Go version that
// built the module and, per built-in, the SHA-256 of its source.
type Sources struct {
	Go      string            `json:"go"`
	Digests map[string]string `json:"digests"`
}

var (
	sourcesOnce sync.Once
	sources     Sources
	sourcesErr  error
)

// SourceSHA256 is the digest of b's source as `plugins build` computed it:
// the Go files (and embedded files) of its package, of the packages of this
// repository it imports, and of the guest SDK that serves it, with the Go
// version that compiled them. Unlike the module's bytes, which change when
// any built-in changes, it changes only when b's behaviour can have, so a
// run's stage fingerprint uses it.
func (b Builtin) SourceSHA256() (string, error) {
	sourcesOnce.Do(func() {
		sourcesErr = json.Unmarshal(sourcesJSON, &sources)
	})
	if sourcesErr != nil {
		return "", fmt.Errorf("%s: %w", SourcesFile, sourcesErr)
	}
	d, ok := sources.Digests[b.Name]
	if !ok {
		return "", fmt.Errorf("%s has no digest for %s: run valuescope plugins build", SourcesFile, b.Name)
	}
	return d, nil
}

// Lookup finds a built-in plugin by name.
func Lookup(name string) (Builtin, bool) {
	i := slices.IndexFunc(All, func(b Builtin) bool { return b.Name == name })
	if i < 0 {
		return Builtin{}, false
	}
	return All[i], true
}

// Names lists the built-in plugins' names.
func Names() []string {
	names := make([]string, len(All))
	for i, b := range All {
		names[i] = b.Name
	}
	return names
}
