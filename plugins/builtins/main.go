//go:build wasip1

// Command builtins is every built-in plugin in one WebAssembly module, with
// one Go runtime: `valuescope plugins build` compiles it into
// plugins/wasm/builtins.wasm.
//
// Which plugin an instance serves is chosen at instantiation by the
// environment variable VALUESCOPE_BUILTIN (plugins.EnvVar), which the host
// sets in each instance's wazero ModuleConfig. An environment variable is
// the simplest robust choice: it is fixed before _initialize runs the
// package initialisers, so the plugin is registered before the host asks
// for vs_describe, exactly as in a single-plugin module; it needs no ABI
// change (third-party modules never see it) and no extra export; and every
// instance of a pool gets it, including ones started later. An instance
// started without it, or with an unknown name (the host refuses unknown
// builtin: names before loading), serves a plugin with no name that refuses
// every configuration and says why.
package main

import (
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/valuescope/valuescope/plugins/classifiers/modelresponsetype"
	"github.com/valuescope/valuescope/plugins/classifiers/responsetype"
	"github.com/valuescope/valuescope/plugins/classifiers/subjectivity"
	"github.com/valuescope/valuescope/plugins/classifiers/task"
	"github.com/valuescope/valuescope/plugins/extractors/cuevalues"
	"github.com/valuescope/valuescope/plugins/extractors/values"
	"github.com/valuescope/valuescope/plugins/namers/contrastive"
	"github.com/valuescope/valuescope/sdk"
	"github.com/valuescope/valuescope/sdk/protocol"
	"github.com/valuescope/valuescope/sdk/wasm"
)

// builtins maps a built-in's name (plugins.All) to its constructor.
var builtins = map[string]func() sdk.Plugin{
	"cue-values":          func() sdk.Plugin { return cuevalues.New() },
	"response-type":       func() sdk.Plugin { return responsetype.New() },
	"subjectivity":        func() sdk.Plugin { return subjectivity.New() },
	"values":              func() sdk.Plugin { return values.New() },
	"response-type-model": func() sdk.Plugin { return modelresponsetype.New() },
	"task":                func() sdk.Plugin { return task.New() },
	"task-description":    func() sdk.Plugin { return task.NewDescription() },
	"contrastive-namer":   func() sdk.Plugin { return contrastive.New() },
}

func init() {
	name := os.Getenv("VALUESCOPE_BUILTIN")
	if newPlugin, ok := builtins[name]; ok {
		wasm.Serve(newPlugin())
		return
	}
	var names []string
	for n := range builtins {
		names = append(names, n)
	}
	slices.Sort(names)
	why := fmt.Errorf("this module serves valuescope's built-in plugins: load it as builtin:NAME (its environment's VALUESCOPE_BUILTIN is %q; built-in: %s)", name, strings.Join(names, ", "))
	wasm.Serve(&sdk.Func{
		Info:   protocol.Manifest{Description: why.Error()},
		Config: func(protocol.ConfigureRequest) error { return why },
		Annotate: func(*protocol.Conversation) ([]protocol.Annotation, error) {
			return nil, why
		},
	})
}

func main() {}
