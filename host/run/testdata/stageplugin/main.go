// Command stageplugin is the gRPC test plugin of host/run and
// cmd/valuescope: an extractor whose flags and config make it slow to start,
// slow to configure, chatty, or failing, so that a run can be interrupted or
// stopped at a known point.
//
// Flags (the part of the command line a test controls before the handshake):
//
//	-mark DIR     write DIR/NAME.pid (its pid) at start, DIR/NAME.configuring
//	              when Configure begins and DIR/NAME.processing at its first
//	              Process, so that a test knows where the plugin is
//	-name NAME    the name in those files and in its stderr lines
//	-start D      sleep D before serving (a plugin slow to start)
//
// Config ([stages.config]):
//
//	configure_sleep = "1h"   sleep in Configure
//	process_sleep = "1h"     sleep in every Process
//	fail_every = N           fail every N-th call (1: all of them)
//	say = "text"             write "NAME: text" to stderr in Configure and
//	                         at every Process
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/valuescope/valuescope/sdk"
	sdkgrpc "github.com/valuescope/valuescope/sdk/grpc"
	"github.com/valuescope/valuescope/sdk/protocol"
)

var (
	mark  = flag.String("mark", "", "folder for the marker files")
	name  = flag.String("name", "stageplugin", "name in the marker files and stderr lines")
	start = flag.Duration("start", 0, "sleep this long before serving")
)

type plugin struct {
	failEvery    int64
	processSleep time.Duration
	say          string
	calls        atomic.Int64
}

// touch writes a marker whole or not at all (written, then renamed), so
// that a test that sees it can read what it says.
func touch(suffix, text string) {
	if *mark != "" {
		path := filepath.Join(*mark, *name+"."+suffix)
		if os.WriteFile(path+".tmp", []byte(text), 0o644) == nil {
			os.Rename(path+".tmp", path)
		}
	}
}

func (p *plugin) Manifest() protocol.Manifest {
	return protocol.Manifest{Name: "stageplugin", Version: "0.1.0", Kind: protocol.Extractor, Field: "stage_items"}
}

func (p *plugin) Configure(req protocol.ConfigureRequest) error {
	touch("configuring", "")
	var c struct {
		ConfigureSleep string `json:"configure_sleep"`
		ProcessSleep   string `json:"process_sleep"`
		FailEvery      int64  `json:"fail_every"`
		Say            string `json:"say"`
	}
	if err := sdk.DecodeConfig(req, &c); err != nil {
		return err
	}
	for _, d := range []struct {
		s   string
		dst *time.Duration
	}{{c.ConfigureSleep, nil}, {c.ProcessSleep, &p.processSleep}} {
		if d.s == "" {
			continue
		}
		v, err := time.ParseDuration(d.s)
		if err != nil {
			return err
		}
		if d.dst == nil {
			time.Sleep(v)
		} else {
			*d.dst = v
		}
	}
	p.failEvery, p.say = c.FailEvery, c.Say
	if p.say != "" {
		fmt.Fprintf(os.Stderr, "%s: %s (configured)\n", *name, p.say)
	}
	return nil
}

func (p *plugin) Process(req *protocol.ProcessRequest) *protocol.ProcessResponse {
	n := p.calls.Add(1)
	if n == 1 {
		touch("processing", "")
	}
	if p.say != "" {
		fmt.Fprintf(os.Stderr, "%s: %s (conversation %s)\n", *name, p.say, req.Conversation.ID)
	}
	time.Sleep(p.processSleep)
	if p.failEvery > 0 && n%p.failEvery == 0 {
		return &protocol.ProcessResponse{Error: "failing as configured"}
	}
	return &protocol.ProcessResponse{Annotations: []protocol.Annotation{{Items: []protocol.Item{{Name: fmt.Sprintf("%d turns", len(req.Conversation.Turns))}}}}}
}

func main() {
	flag.Parse()
	touch("pid", fmt.Sprint(os.Getpid()))
	time.Sleep(*start)
	sdkgrpc.Serve(&plugin{})
}
