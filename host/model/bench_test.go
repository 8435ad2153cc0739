package model_test

import (
	"context"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valuescope/valuescope/host/conversation"
	"github.com/valuescope/valuescope/host/dataset"
	"github.com/valuescope/valuescope/host/model"
	"github.com/valuescope/valuescope/host/pipeline"
	"github.com/valuescope/valuescope/internal/fakeapi"
	"github.com/valuescope/valuescope/sdk/protocol"
)

// BenchmarkThroughput measures sustained model calls per second against a
// test server that answers in 200 ms, with max_concurrency = 64: the ideal
// is 64 / 0.2 s = 320 calls/s.
//
//	client    3200 distinct calls per op (10 s at the ideal rate) from 256
//	          goroutines, straight into Caller.Call (run-store cache lookups
//	          and writes included)
//	client+usage  the same, with the usage recorded in the store before
//	          every request, as a run does (model.Options.UsageLog)
//	pipeline  the pipeline with 256 workers running the echo Wasm plugin
//	          (2 instances) over 3200 distinct conversations per op, one model
//	          call each: Wasm instances are held only inside Process, never
//	          while a call waits, so 2 instances serve 64 calls in flight
//
// Each op starts empty and ends drained: the ramp and the last calls cost
// a few percent of a 10 s op.
//
// It reports calls/s, the fraction of the ideal, the peak of calls in
// flight at the server, and (pipeline) the Wasm instances.
//
//	go test -run XXX -bench Throughput ./host/model/
func BenchmarkThroughput(b *testing.B) {
	const (
		latency     = 200 * time.Millisecond
		concurrency = 64
		perOp       = 3200
		instances   = 2
		workers     = 256
	)
	ideal := concurrency / latency.Seconds()
	setup := func(b *testing.B, recordUsage bool) (*fakeapi.Anthropic, *model.Client) {
		srv := fakeapi.NewAnthropic(anthropicKey)
		b.Cleanup(srv.Close)
		srv.Latency = latency
		srv.Answer = func(_, last string) string { return "Honesty" }
		m := claude(srv)
		m.MaxConcurrency = concurrency
		st := openStore(b, b.TempDir())
		o := opts(st, nil)
		if recordUsage {
			o.UsageLog, o.Invocation = st, "bench" // as a run does: usage recorded before every request
		}
		return srv, newClient(b, o, m)
	}
	report := func(b *testing.B, srv *fakeapi.Anthropic, calls int) {
		rate := float64(calls) / b.Elapsed().Seconds()
		b.ReportMetric(rate, "calls/s")
		b.ReportMetric(rate/ideal, "of_ideal")
		b.ReportMetric(float64(srv.MaxInFlight.Load()), "peak_in_flight")
		b.ReportMetric(0, "ns/op")
	}
	client := func(b *testing.B, recordUsage bool) {
		srv, c := setup(b, recordUsage)
		k := caller(b, c, "values", "claude")
		calls := 0
		for i := 0; b.Loop(); i++ {
			var next atomic.Int64
			var wg sync.WaitGroup
			for range workers {
				wg.Go(func() {
					for j := next.Add(1); j <= perOp; j = next.Add(1) {
						if _, err := k.Call(context.Background(), []protocol.ModelCall{call("v", fmt.Sprint(i, "/", j))}); err != nil {
							b.Error(err)
						}
					}
				})
			}
			wg.Wait()
			calls += perOp
		}
		report(b, srv, calls)
	}
	b.Run("client", func(b *testing.B) { client(b, false) })
	b.Run("client+usage", func(b *testing.B) { client(b, true) })
	b.Run("pipeline", func(b *testing.B) {
		srv, c := setup(b, true)
		p := echoPlugin(b, instances)
		calls := 0
		for i := 0; b.Loop(); i++ {
			st := openStore(b, b.TempDir())
			stage := pipeline.Stage{Name: "values", Plugin: p, Models: caller(b, c, "values", "claude"), Fingerprint: "echo"}
			open := func() (dataset.Source, error) { return &synthetic{n: perOp, prefix: fmt.Sprint(i)}, nil }
			prog, err := pipeline.Run(context.Background(), open, st, []pipeline.Stage{stage}, pipeline.Options{Workers: workers, Log: quietLog})
			if err != nil || prog.Done != perOp || prog.Errors != 0 {
				b.Fatalf("%+v %v", prog, err)
			}
			calls += perOp
		}
		report(b, srv, calls)
		b.ReportMetric(instances, "wasm_instances")
	})
}

// synthetic is a dataset of n distinct one-exchange conversations.
type synthetic struct {
	n, i   int
	prefix string
}

func (s *synthetic) Next() (*conversation.Conversation, error) {
	if s.i == s.n {
		return nil, io.EOF
	}
	s.i++
	id := fmt.Sprintf("%s-%d", s.prefix, s.i)
	return &conversation.Conversation{ID: id, Source: "synthetic", Turns: []conversation.Turn{
		{Role: "user", Content: "Should I tell my friend the truth? (" + id + ")"},
		{Role: "assistant", Content: "Honesty usually serves a friendship best."}}}, nil
}

func (s *synthetic) Close() error { return nil }
