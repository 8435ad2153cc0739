package pipeline_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/valuescope/valuescope/host/dataset"
	"github.com/valuescope/valuescope/host/pipeline"
	"github.com/valuescope/valuescope/host/store"
	"github.com/valuescope/valuescope/internal/shareddata"
	"github.com/valuescope/valuescope/sdk/protocol"
)

// flood is a hostile extractor: for the conversations whose ID ends in
// "7" it answers n items, for the others one.
type flood struct{ n int }

func (f flood) Manifest() protocol.Manifest {
	return protocol.Manifest{ABI: protocol.ABI, Name: "flood", Version: "1", Kind: protocol.Extractor, Field: "ai_values"}
}

func (f flood) Process(ctx context.Context, req *protocol.ProcessRequest) (*protocol.ProcessResponse, error) {
	n := 1
	if strings.HasSuffix(req.Conversation.ID, "7") {
		n = f.n
	}
	items := make([]protocol.Item, n)
	for i := range items {
		items[i].Name = fmt.Sprintf("value %d", i)
	}
	return &protocol.ProcessResponse{Annotations: []protocol.Annotation{{Items: items}}}, nil
}

func (flood) Close() error { return nil }

// A plugin that answers more than protocol.MaxItems items for a
// conversation fails that conversation with a stage error that says so,
// counted and stored; the run goes on with the others. At the limit, every
// item is stored.
func TestItemsPerConversationLimit(t *testing.T) {
	for _, c := range []struct {
		n      int
		errors int64
	}{{protocol.MaxItems, 0}, {protocol.MaxItems + 1, 8}, {100 * protocol.MaxItems, 8}} {
		st := openStore(t)
		p, err := pipeline.Run(context.Background(), demo(t), st, []pipeline.Stage{{Name: "flood", Plugin: flood{c.n}, Fingerprint: "x"}},
			pipeline.Options{Log: quiet, MaxFailureShare: 0.5})
		if err != nil || !p.Finished || p.Done != 80 || p.Errors != c.errors {
			t.Fatalf("%d items: %+v, %v", c.n, p, err)
		}
		counts, err := st.Count(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if want := (80-c.errors)*1 + (8-c.errors)*int64(c.n-1); counts.Errors["flood"] != c.errors || counts.Annotations != want {
			t.Fatalf("%d items: counts %+v, want %d annotations", c.n, counts, want)
		}
		if c.errors > 0 {
			n := count(t, snapshot(t, st).Errors(), func(e store.StageError) bool {
				return strings.Contains(e.Err, fmt.Sprintf("items in one reply, over the limit of %d", protocol.MaxItems))
			})
			if n != int(c.errors) {
				t.Fatalf("%d items: %d stored errors name the limit, want %d", c.n, n, c.errors)
			}
		}
	}
}

// BenchmarkDuplicateCheck: what telling duplicates costs the pipeline's
// reading, against the bare reader in the same run, on the real Chatbot
// Arena file (the pipeline hashes each conversation's turns and ID and
// looks them up).
//
//	go test -run XXX -bench DuplicateCheck ./host/pipeline/
func BenchmarkDuplicateCheck(b *testing.B) {
	path := shareddata.Path(b, "chatbot-arena/chatbot_arena_messages.jsonl")
	for _, check := range []bool{false, true} {
		b.Run(fmt.Sprintf("check=%t", check), func(b *testing.B) {
			for b.Loop() {
				src, err := dataset.Open([]string{path}, dataset.Options{})
				if err != nil {
					b.Fatal(err)
				}
				n, dups := pipeline.CountDuplicates(src, check)
				src.Close()
				if n != 2129 || dups != 0 {
					b.Fatalf("%d read, %d duplicates", n, dups)
				}
			}
		})
	}
}
