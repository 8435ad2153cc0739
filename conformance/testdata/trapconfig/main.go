//go:build wasip1

// Command trapconfig is a broken plugin of the conformance gallery: it
// applies its config through a table of setters and calls the setter of
// every key it is given, so an unknown key calls a nil function, and a
// config that is not JSON is ignored. The setters run on a goroutine, where
// a panic is out of the SDK's reach (it recovers panics in Configure itself):
// the module traps where it should have answered an error. It fails the
// configure check.
package main

import (
	"encoding/json"

	"github.com/valuescope/valuescope/sdk"
	"github.com/valuescope/valuescope/sdk/protocol"
	"github.com/valuescope/valuescope/sdk/wasm"
)

var threshold = 1.0

var setters = map[string]func(v any){
	"threshold": func(v any) { threshold = v.(float64) },
}

func init() {
	wasm.Serve(&sdk.Func{
		Info: protocol.Manifest{Name: "trap-config", Version: "0.1.0", Kind: protocol.Extractor, Field: "ai_values"},
		Config: func(req protocol.ConfigureRequest) error {
			var cfg map[string]any
			json.Unmarshal([]byte(req.ConfigJSON), &cfg)
			done := make(chan struct{})
			go func() {
				for k, v := range cfg {
					setters[k](v)
				}
				close(done)
			}()
			<-done
			return nil
		},
		Annotate: func(c *protocol.Conversation) ([]protocol.Annotation, error) {
			return []protocol.Annotation{{Items: []protocol.Item{{Name: "honesty"}}}}, nil
		},
	})
}

func main() {}
