package responsetype_test

import (
	"context"
	"testing"

	"github.com/valuescope/valuescope/host/analysis"
	"github.com/valuescope/valuescope/internal/testruns"
	"github.com/valuescope/valuescope/plugins/classifiers/responsetype"
)

// The offline plugins agree on real data, as the committed Wasm module
// runs them: a response type of "no values" only where the cue-values
// extractor found no AI value (the issue: 257 of hh-rlhf's 1,132 "no
// values" conversations carried values).
func TestAgreesWithCueValues(t *testing.T) {
	for _, data := range []string{"hh-rlhf", "chatbot-arena"} {
		dir := testruns.Offline(t, data)
		r, err := analysis.LoadRun(context.Background(), dir, analysis.LoadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		rt, err := r.Field(responsetype.Field)
		if err != nil {
			t.Fatal(err)
		}
		ai, err := r.Field("ai_values")
		if err != nil {
			t.Fatal(err)
		}
		noValues, contradict := 0, 0
		for i := range r.Conversations {
			if !rt.Done[i] || !ai.Done[i] {
				continue
			}
			if l := rt.Values(i); len(l) == 1 && l[0] == responsetype.NoValues {
				noValues++
				if len(ai.Values(i)) > 0 {
					contradict++
				}
			}
		}
		if noValues == 0 || contradict != 0 {
			t.Errorf("%s: %d of %d \"no values\" conversations carry AI values", data, contradict, noValues)
		}
		t.Logf("%s: %d \"no values\" conversations, none with an AI value", data, noValues)
	}
}
