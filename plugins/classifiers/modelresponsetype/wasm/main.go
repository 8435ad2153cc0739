//go:build wasip1

// Command wasm is the built-in response-type-model plugin as a WebAssembly
// module: `valuescope plugins build` compiles it into
// plugins/wasm/response-type-model.wasm.
package main

import (
	"github.com/valuescope/valuescope/plugins/classifiers/modelresponsetype"
	"github.com/valuescope/valuescope/sdk/wasm"
)

func init() { wasm.Serve(modelresponsetype.New()) }

func main() {}
