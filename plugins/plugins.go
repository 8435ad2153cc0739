// Package plugins holds the plugins built into valuescope: their sources
// (extractors/, classifiers/, namers/) and their WebAssembly modules (wasm/),
// which are committed and embedded so that `go install` and `go run` users
// get them without a build step. `valuescope plugins build` regenerates the modules;
// builds are reproducible, and `valuescope plugins build --check` (run by CI)
// fails when a committed module does not match its source.
package plugins

import (
	"embed"
	"slices"
)

//go:embed wasm/*.wasm
var modules embed.FS

// Builtin is one built-in plugin.
type Builtin struct {
	// Name is what a config writes after "builtin:".
	Name string
	// Package is the main package that builds the module, relative to the
	// module root.
	Package string
}

// All lists the built-in plugins.
var All = []Builtin{
	{Name: "cue-values", Package: "./plugins/extractors/cuevalues/wasm"},
	{Name: "response-type", Package: "./plugins/classifiers/responsetype/wasm"},
	// Model-backed: the paper's method, each driven by a prompt file.
	{Name: "subjectivity", Package: "./plugins/classifiers/subjectivity/wasm"},
	{Name: "values", Package: "./plugins/extractors/values/wasm"},
	{Name: "response-type-model", Package: "./plugins/classifiers/modelresponsetype/wasm"},
	{Name: "task", Package: "./plugins/classifiers/task/wasm"},
	{Name: "task-description", Package: "./plugins/classifiers/task/wasm/description"},
	// A namer: names taxonomy clusters (valuescope taxonomy build --name-model).
	{Name: "contrastive-namer", Package: "./plugins/namers/contrastive/wasm"},
}

// File is the module's path relative to the module root.
func (b Builtin) File() string { return "plugins/wasm/" + b.Name + ".wasm" }

// Wasm returns the embedded module.
func (b Builtin) Wasm() ([]byte, error) { return modules.ReadFile("wasm/" + b.Name + ".wasm") }

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
