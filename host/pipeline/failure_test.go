package pipeline_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/valuescope/valuescope/host/pipeline"
	"github.com/valuescope/valuescope/sdk/protocol"
)

// flaky is an extractor that fails every every-th call it gets (every = 1:
// every call), the others answering one item.
type flaky struct {
	every int64
	calls atomic.Int64
}

func (f *flaky) Manifest() protocol.Manifest {
	return protocol.Manifest{ABI: protocol.ABI, Name: "flaky", Version: "1", Kind: protocol.Extractor, Field: "f"}
}

func (f *flaky) Process(ctx context.Context, req *protocol.ProcessRequest) (*protocol.ProcessResponse, error) {
	if n := f.calls.Add(1); n%f.every == 0 {
		// As the backends' errors do, the message names the conversation:
		// the most common error is counted without it.
		return &protocol.ProcessResponse{Error: "cannot read conversation " + req.Conversation.ID}, nil
	}
	return &protocol.ProcessResponse{Annotations: []protocol.Annotation{{Items: []protocol.Item{{Name: "ok"}}}}}, nil
}

func (f *flaky) Close() error { return nil }

// A stage that fails every conversation stops the run once it has failed
// for more than its share of FailureShareAfter conversations: the error
// names the stage, the share and the error, what was done is stored, and the
// rest of the dataset was not attempted.
func TestFailureShareStopsRun(t *testing.T) {
	st := openStore(t)
	f := &flaky{every: 1}
	p, err := pipeline.Run(context.Background(), demo(t), st, []pipeline.Stage{{Name: "broken", Plugin: f, Fingerprint: "x"}},
		pipeline.Options{Log: quiet, Workers: 2, MaxFailureShare: 0.5})
	var sf *pipeline.StageFailedError
	if !errors.As(err, &sf) {
		t.Fatalf("err = %v, want a StageFailedError", err)
	}
	if sf.Stage != "broken" || sf.Processed < pipeline.FailureShareAfter || sf.Failed != sf.Processed || sf.Times != sf.Failed ||
		sf.Common != "flaky: cannot read conversation …" {
		t.Fatalf("%+v", sf)
	}
	if p.Finished || f.calls.Load() >= 80 {
		t.Fatalf("progress %+v after %d calls: want stopped early", p, f.calls.Load())
	}
	c, err := st.Count(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if c.Errors["broken"] < sf.Failed {
		t.Fatalf("%d errors stored, %d counted: the results before the stop are kept", c.Errors["broken"], sf.Failed)
	}
}

// Under the share, or with no share set, a failing stage runs to the end.
func TestFailureShareTolerated(t *testing.T) {
	for _, c := range []struct {
		every int64
		share float64
	}{{10, 0.5}, {1, 0}, {1, 1}} {
		st := openStore(t)
		p, err := pipeline.Run(context.Background(), demo(t), st, []pipeline.Stage{{Name: "flaky", Plugin: &flaky{every: c.every}, Fingerprint: "x"}},
			pipeline.Options{Log: quiet, Workers: 2, MaxFailureShare: c.share})
		if err != nil || !p.Finished || p.Done != 80 || p.Errors != 80/c.every {
			t.Fatalf("every %d, share %g: %+v %v", c.every, c.share, p, err)
		}
	}
}
