//go:build wasip1

// Command wasm is the built-in contrastive-namer plugin as a WebAssembly
// module: `valuescope plugins build` compiles it into
// plugins/wasm/contrastive-namer.wasm.
package main

import (
	"github.com/valuescope/valuescope/plugins/namers/contrastive"
	"github.com/valuescope/valuescope/sdk/wasm"
)

func init() { wasm.Serve(contrastive.New()) }

func main() {}
