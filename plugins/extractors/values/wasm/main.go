//go:build wasip1

// Command wasm is the built-in values plugin as a WebAssembly module:
// `valuescope plugins build` compiles it into plugins/wasm/values.wasm.
package main

import (
	"github.com/valuescope/valuescope/plugins/extractors/values"
	"github.com/valuescope/valuescope/sdk/wasm"
)

func init() { wasm.Serve(values.New()) }

func main() {}
