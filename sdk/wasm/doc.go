// Package wasm serves an sdk.Plugin as a WebAssembly module speaking protocol
// v1 (sdk/ABI.md). A plugin's main package is, in full:
//
//	package main
//
//	import (
//		"github.com/valuescope/valuescope/sdk/wasm"
//	)
//
//	func init() { wasm.Serve(myPlugin) }
//
//	func main() {}
//
// built with GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared. Serve must
// be called from init: a reactor module's main never runs; the host calls
// _initialize, which runs the package initialisers, and then the exports.
package wasm
