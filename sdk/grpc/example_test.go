package grpc_test

import (
	"github.com/valuescope/valuescope/sdk"
	"github.com/valuescope/valuescope/sdk/grpc"
	"github.com/valuescope/valuescope/sdk/protocol"
)

// A gRPC plugin is a program whose main calls Serve; the host starts it as
// a subprocess (a stage's plugin = "grpc:./my-plugin"). The same sdk.Plugin
// can be served as a Wasm module with sdk/wasm instead. This example does
// not run: Serve expects to be started by the host.
func ExampleServe() {
	plugin := &sdk.Func{
		Info: protocol.Manifest{Name: "nothing-found", Version: "1.0.0", Kind: protocol.Extractor, Field: "ai_values"},
		Annotate: func(c *protocol.Conversation) ([]protocol.Annotation, error) {
			return []protocol.Annotation{{Field: "ai_values"}}, nil
		},
	}
	grpc.Serve(plugin) // in func main; returns only when the host stops the plugin
}
