//go:build wasip1

// Command lenientconfig is a broken plugin of the conformance gallery: it
// accepts any config, so a typo in a run config ("treshold") is silently
// ignored and the run goes on with the default. It fails the configure
// check.
package main

import (
	"github.com/valuescope/valuescope/sdk"
	"github.com/valuescope/valuescope/sdk/protocol"
	"github.com/valuescope/valuescope/sdk/wasm"
)

func init() {
	wasm.Serve(&sdk.Func{
		Info:   protocol.Manifest{Name: "lenient-config", Version: "0.1.0", Kind: protocol.Extractor, Field: "ai_values"},
		Config: func(protocol.ConfigureRequest) error { return nil },
		Annotate: func(c *protocol.Conversation) ([]protocol.Annotation, error) {
			return []protocol.Annotation{{Items: []protocol.Item{{Name: "honesty"}}}}, nil
		},
	})
}

func main() {}
