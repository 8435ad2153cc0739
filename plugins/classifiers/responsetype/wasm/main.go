//go:build wasip1

// Command wasm is the built-in response-type plugin as a WebAssembly module:
// `valuescope plugins build` compiles it into plugins/wasm/response-type.wasm.
package main

import (
	"github.com/valuescope/valuescope/plugins/classifiers/responsetype"
	"github.com/valuescope/valuescope/sdk/wasm"
)

func init() { wasm.Serve(responsetype.New()) }

func main() {}
