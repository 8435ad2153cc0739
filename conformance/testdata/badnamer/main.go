//go:build wasip1

// Command badnamer is a broken plugin of the conformance gallery: a namer
// that answers a cluster with its members, one item each, instead of one
// name for the cluster. It fails the outputs check.
package main

import (
	"github.com/valuescope/valuescope/sdk"
	"github.com/valuescope/valuescope/sdk/naming"
	"github.com/valuescope/valuescope/sdk/protocol"
	"github.com/valuescope/valuescope/sdk/wasm"
)

func init() {
	wasm.Serve(&sdk.Func{
		Info: protocol.Manifest{Name: "bad-namer", Version: "0.1.0", Kind: protocol.Namer, Field: protocol.FieldClusterName},
		Annotate: func(c *protocol.Conversation) ([]protocol.Annotation, error) {
			cl, err := naming.Read(c)
			if err != nil {
				return nil, err
			}
			var items []protocol.Item
			for _, m := range cl.Members[:min(3, len(cl.Members))] {
				items = append(items, protocol.Item{Name: m.Name})
			}
			return []protocol.Annotation{{Items: items}}, nil
		},
	})
}

func main() {}
