//go:build wasip1

// Command envimport is a broken plugin of the conformance gallery: it
// imports a logging function from the host module "env", which valuescope
// does not provide (the host offers WASI preview 1 and nothing else). It
// fails the capabilities check; the host refuses to load it at all.
package main

import (
	"unsafe"

	"github.com/valuescope/valuescope/sdk"
	"github.com/valuescope/valuescope/sdk/protocol"
	"github.com/valuescope/valuescope/sdk/wasm"
)

//go:wasmimport env host_log
func hostLog(ptr unsafe.Pointer, n uint32)

func logf(s string) {
	if s != "" {
		hostLog(unsafe.Pointer(unsafe.StringData(s)), uint32(len(s)))
	}
}

func init() {
	wasm.Serve(&sdk.Func{
		Info: protocol.Manifest{Name: "env-import", Version: "0.1.0", Kind: protocol.Extractor, Field: "ai_values"},
		Annotate: func(c *protocol.Conversation) ([]protocol.Annotation, error) {
			logf("annotating " + c.ID)
			return []protocol.Annotation{{Items: []protocol.Item{{Name: "honesty"}}}}, nil
		},
	})
}

func main() {}
