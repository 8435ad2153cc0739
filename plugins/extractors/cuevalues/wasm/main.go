//go:build wasip1

// Command wasm is the built-in cue-values plugin as a WebAssembly module:
// `valuescope plugins build` compiles it into plugins/wasm/cue-values.wasm.
package main

import (
	"github.com/valuescope/valuescope/plugins/extractors/cuevalues"
	"github.com/valuescope/valuescope/sdk/wasm"
)

func init() { wasm.Serve(cuevalues.New()) }

func main() {}
