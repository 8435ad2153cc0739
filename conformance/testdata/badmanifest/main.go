//go:build wasip1

// Command badmanifest is a broken plugin of the conformance gallery: a
// classifier that declares no labels, so no label it gives can be checked.
// It fails the manifest check.
package main

import (
	"github.com/valuescope/valuescope/sdk"
	"github.com/valuescope/valuescope/sdk/protocol"
	"github.com/valuescope/valuescope/sdk/wasm"
)

func init() {
	wasm.Serve(&sdk.Func{
		Info: protocol.Manifest{Name: "bad-manifest", Version: "0.1.0", Kind: protocol.Classifier, Field: "stance"},
		Annotate: func(c *protocol.Conversation) ([]protocol.Annotation, error) {
			return []protocol.Annotation{{Label: "neutral"}}, nil
		},
	})
}

func main() {}
