//go:build wasip1

// Command wasm is the built-in task plugin as a WebAssembly module:
// `valuescope plugins build` compiles it into plugins/wasm/task.wasm.
package main

import (
	"github.com/valuescope/valuescope/plugins/classifiers/task"
	"github.com/valuescope/valuescope/sdk/wasm"
)

func init() { wasm.Serve(task.New()) }

func main() {}
