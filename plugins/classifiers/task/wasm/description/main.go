//go:build wasip1

// Command description is the built-in task-description plugin as a
// WebAssembly module: `valuescope plugins build` compiles it into
// plugins/wasm/task-description.wasm.
package main

import (
	"github.com/valuescope/valuescope/plugins/classifiers/task"
	"github.com/valuescope/valuescope/sdk/wasm"
)

func init() { wasm.Serve(task.NewDescription()) }

func main() {}
