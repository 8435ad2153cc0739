// Command echo is a test plugin built on the SDK. Its config chooses how it
// behaves, so that one module covers the host's happy and unhappy paths:
//
//	{"mode": "echo"}     one item per turn: "<role> <n words>"
//	{"mode": "rounds"}   asks the model to name a value, repairs once on "garbage"
//	{"mode": "panic"}    panics in Process (the SDK turns it into an error)
//	{"mode": "trap"}     a goroutine panics: the Go runtime exits, the instance dies
//	{"mode": "loop"}     never returns
//	{"mode": "oom"}      allocates without bound
//	{"mode": "badlabel"} answers a label outside its manifest
package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/valuescope/valuescope/sdk"
	"github.com/valuescope/valuescope/sdk/protocol"
	"github.com/valuescope/valuescope/sdk/wasm"
)

var mode = "echo"

var manifest = protocol.Manifest{Name: "echo", Version: "0.1.0", Kind: protocol.Extractor, Field: "echo",
	Labels: []string{"ok"}, Needs: []string{protocol.NeedModel}}

var rounds = &sdk.Rounds{
	Info: manifest,
	Ask: func(c *protocol.Conversation) ([]protocol.ModelCall, string, error) {
		return []protocol.ModelCall{{ID: "v", Messages: []protocol.Message{{Role: "user", Content: "Name one value in: " + c.Turns[0].Content}}}}, "asked", nil
	},
	Answer: func(c *protocol.Conversation, round uint32, rs []protocol.ModelResponse, state string) sdk.Result {
		if len(rs) != 1 || rs[0].ID != "v" || state == "" {
			return sdk.Result{Err: errors.New("unexpected responses")}
		}
		if rs[0].Text == "garbage" {
			return sdk.Result{Calls: []protocol.ModelCall{{ID: "v", Messages: []protocol.Message{{Role: "user", Content: "Answer with one value name."}}}}, State: "repair"}
		}
		return sdk.Result{Annotations: []protocol.Annotation{{Items: []protocol.Item{{Name: strings.ToLower(rs[0].Text),
			Attrs: map[string]string{"state": state, "round": fmt.Sprint(round)}}}}}}
	},
}

type echo struct{}

func (echo) Manifest() protocol.Manifest { return rounds.Manifest() }

func (echo) Configure(req protocol.ConfigureRequest) error {
	var c struct {
		Mode string `json:"mode"`
	}
	if err := sdk.DecodeConfig(req, &c); err != nil {
		return err
	}
	switch c.Mode {
	case "", "echo", "rounds", "panic", "trap", "loop", "oom", "badlabel":
	default:
		return fmt.Errorf("unknown mode %q", c.Mode)
	}
	if c.Mode != "" {
		mode = c.Mode
	}
	return nil
}

func (echo) Process(req *protocol.ProcessRequest) *protocol.ProcessResponse {
	return sdk.Guard(func() *protocol.ProcessResponse {
		switch mode {
		case "rounds":
			return rounds.Process(req)
		case "panic":
			var m map[string]int
			m["boom"]++
		case "trap":
			done := make(chan bool)
			go func() { panic("unrecoverable: a goroutine panicked") }()
			<-done
		case "loop":
			for n := 0; ; n++ {
			}
		case "oom":
			var keep [][]byte
			for {
				keep = append(keep, make([]byte, 1<<20))
			}
		case "badlabel":
			return &protocol.ProcessResponse{Annotations: []protocol.Annotation{{Label: "not-declared"}}}
		}
		var items []protocol.Item
		for _, t := range req.Conversation.Turns {
			items = append(items, protocol.Item{Name: fmt.Sprintf("%s %d", t.Role, len(strings.Fields(t.Content)))})
		}
		return &protocol.ProcessResponse{Annotations: []protocol.Annotation{{Items: items}}}
	})
}

func init() { wasm.Serve(echo{}) }

func main() {}
