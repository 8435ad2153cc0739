// Package testplugin is the logic of the Go test plugin
// (../../testdata/goplugin), kept in a package of its own so that the
// benchmarks can call the very same code natively, in process.
//
// The config chooses the plugin's behaviour, and a conversation may override
// it with {"mode": ...} in its meta_json, so that one process can be made to
// misbehave on one conversation and work on the next:
//
//	echo      one item per turn: "<role> <n words>"
//	rounds    asks the model to name a value, repairs once on "garbage"
//	sleep     sleeps an hour (deadlines, killing mid-call)
//	exit      exits with status 3 in the middle of the call (a crash)
//	panic     panics in Process (the SDK turns it into an error response)
//	badlabel  answers a label outside its manifest
//	alloc     allocates and touches 1 GiB, then sleeps (the memory limit)
//	bigreply  answers an attribute of 9 MiB (over protocol.MaxReplyBytes)
//
// The config's "crash_suffix", when set, makes the plugin exit with status 3
// on every conversation whose ID ends with it, whatever the mode.
package testplugin

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/valuescope/valuescope/sdk"
	"github.com/valuescope/valuescope/sdk/protocol"
)

var manifest = protocol.Manifest{Name: "goplugin", Version: "0.1.0", Kind: protocol.Extractor, Field: "echo",
	Labels: []string{"ok"}, Needs: []string{protocol.NeedModel}}

var modes = []string{"echo", "rounds", "sleep", "exit", "panic", "badlabel", "alloc", "bigreply", "loudexit"}

// Plugin is the test plugin. ABI, when set, is the ABI its manifest states.
type Plugin struct {
	ABI    uint32
	Stderr io.Writer // where Configure says what it did; default os.Stderr
	mode   string
	crash  string // crash_suffix
}

func (p *Plugin) Manifest() protocol.Manifest {
	m := manifest
	m.ABI = p.ABI
	return m
}

func (p *Plugin) Configure(req protocol.ConfigureRequest) error {
	var c struct {
		Mode        string `json:"mode"`
		CrashSuffix string `json:"crash_suffix"`
		// ConfigureSleep makes Configure take that long ("1h": a plugin
		// that never finishes starting).
		ConfigureSleep string `json:"configure_sleep"`
	}
	if err := sdk.DecodeConfig(req, &c); err != nil {
		return err
	}
	if c.ConfigureSleep != "" {
		d, err := time.ParseDuration(c.ConfigureSleep)
		if err != nil {
			return err
		}
		time.Sleep(d)
	}
	if c.Mode == "" {
		c.Mode = "echo"
	}
	if !valid(c.Mode) {
		return fmt.Errorf("unknown mode %q", c.Mode)
	}
	p.mode, p.crash = c.Mode, c.CrashSuffix
	w := p.Stderr
	if w == nil {
		w = os.Stderr
	}
	fmt.Fprintf(w, "goplugin: configured, mode %s\n", p.mode)
	return nil
}

func valid(mode string) bool {
	for _, m := range modes {
		if m == mode {
			return true
		}
	}
	return false
}

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

func (p *Plugin) Process(req *protocol.ProcessRequest) *protocol.ProcessResponse {
	return sdk.Guard(func() *protocol.ProcessResponse {
		if req.Conversation == nil {
			return &protocol.ProcessResponse{Error: "request has no conversation"}
		}
		if p.crash != "" && strings.HasSuffix(req.Conversation.ID, p.crash) {
			os.Exit(3)
		}
		mode := p.mode
		if meta := req.Conversation.MetaJSON; meta != "" {
			var m struct {
				Mode string `json:"mode"`
			}
			if err := json.Unmarshal([]byte(meta), &m); err == nil && valid(m.Mode) {
				mode = m.Mode
			}
		}
		switch mode {
		case "rounds":
			return rounds.Process(req)
		case "sleep":
			time.Sleep(time.Hour)
		case "exit":
			os.Exit(3)
		case "loudexit": // 1 MB on stderr, then escape codes on a 10 KB unfinished line, then exit
			fmt.Fprint(os.Stderr, strings.Repeat("x", 1<<20)+"\n\x1b[2J\x1b]0;pwned\x07 dying \x1b[31m"+strings.Repeat("y", 10<<10))
			time.Sleep(200 * time.Millisecond) // for the host to have read it all
			os.Exit(3)
		case "panic":
			var m map[string]int
			m["boom"]++
		case "alloc":
			b := make([]byte, 1<<30)
			for i := 0; i < len(b); i += 4096 {
				b[i] = 1
			}
			time.Sleep(time.Hour)
			return &protocol.ProcessResponse{Error: fmt.Sprint(b[len(b)/2])}
		case "bigreply":
			return &protocol.ProcessResponse{Annotations: []protocol.Annotation{{Items: []protocol.Item{{Name: "big",
				Attrs: map[string]string{"blob": strings.Repeat("x", 9<<20)}}}}}}
		case "badlabel":
			return &protocol.ProcessResponse{Annotations: []protocol.Annotation{{Label: "not-declared"}}}
		}
		items := make([]protocol.Item, 0, len(req.Conversation.Turns))
		for _, t := range req.Conversation.Turns {
			items = append(items, protocol.Item{Name: fmt.Sprintf("%s %d", t.Role, len(strings.Fields(t.Content)))})
		}
		return &protocol.ProcessResponse{Annotations: []protocol.Annotation{{Items: items}}}
	})
}
