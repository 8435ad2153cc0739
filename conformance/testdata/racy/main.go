// Command racy is a broken plugin of the conformance gallery, served over
// gRPC: it keeps the conversation it is working on in a global variable,
// then does some work before reading it back. One call at a time it is
// right; when the host sends several calls at once (it does: a gRPC plugin
// serves calls on many goroutines), one call reads another's conversation.
// It fails the concurrency check.
package main

import (
	"strings"
	"time"

	"github.com/valuescope/valuescope/sdk"
	sdkgrpc "github.com/valuescope/valuescope/sdk/grpc"
	"github.com/valuescope/valuescope/sdk/protocol"
)

var current *protocol.Conversation // the bug: shared by concurrent calls

func firstLongWord(c *protocol.Conversation) string {
	for _, t := range c.Turns {
		for _, w := range strings.FieldsFunc(strings.ToLower(t.Content), func(r rune) bool { return r < 'a' || r > 'z' }) {
			if len(w) >= 6 && len(w) <= 20 {
				return w
			}
		}
	}
	return ""
}

func main() {
	sdkgrpc.Serve(&sdk.Func{
		Info: protocol.Manifest{Name: "racy", Version: "0.1.0", Kind: protocol.Extractor, Field: "keywords"},
		Annotate: func(c *protocol.Conversation) ([]protocol.Annotation, error) {
			current = c
			time.Sleep(2 * time.Millisecond) // "work"
			var items []protocol.Item
			if w := firstLongWord(current); w != "" {
				items = append(items, protocol.Item{Name: w})
			}
			return []protocol.Annotation{{Items: items}}, nil
		},
	})
}
