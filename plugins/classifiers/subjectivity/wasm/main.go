//go:build wasip1

// Command wasm is the built-in subjectivity plugin as a WebAssembly module:
// `valuescope plugins build` compiles it into plugins/wasm/subjectivity.wasm.
package main

import (
	"github.com/valuescope/valuescope/plugins/classifiers/subjectivity"
	"github.com/valuescope/valuescope/sdk/wasm"
)

func init() { wasm.Serve(subjectivity.New()) }

func main() {}
