package pipeline_test

import (
	"context"
	"slices"
	"testing"

	"github.com/valuescope/valuescope/host/pipeline"
)

// The plan a resumed run reports: a changed stage names what changed, the
// stages after it are redone because of it, a removed stage is dropped, an
// unchanged one is kept with its count; with nothing stored but the
// caller's Previous (a run folder from before identities were kept), the
// reasons still come.
func TestPlan(t *testing.T) {
	st := openStore(t)
	stage := func(name string, id pipeline.Identity) pipeline.Stage {
		return pipeline.Stage{Name: name, Plugin: &flaky{every: 1 << 40}, Identity: &id, Fingerprint: id.Fingerprint()}
	}
	a := pipeline.Identity{Plugin: "a.wasm", SHA256: "1111111111", Version: "1", Config: "{}"}
	b := pipeline.Identity{Plugin: "builtin:b", SHA256: "2222", Config: `{"x":1}`, Model: "anthropic\x00\x00m1"}
	c := pipeline.Identity{Plugin: "grpc:c", Config: "{}"}
	var got []string
	run := func(opts pipeline.Options, stages ...pipeline.Stage) {
		t.Helper()
		got = nil
		opts.Log = quiet
		opts.Plan = func(ps []pipeline.StagePlan) {
			for _, p := range ps {
				got = append(got, p.String())
			}
		}
		if _, err := pipeline.Run(context.Background(), demo(t), st, stages, opts); err != nil {
			t.Fatal(err)
		}
	}
	check := func(what string, want ...string) {
		t.Helper()
		if !slices.Equal(got, want) {
			t.Errorf("%s:\n got %q\nwant %q", what, got, want)
		}
	}
	run(pipeline.Options{}, stage("a", a), stage("b", b), stage("c", c))
	check("a new run")
	run(pipeline.Options{}, stage("a", a), stage("b", b), stage("c", c))
	check("nothing changed", "stage a: kept (80 conversations done)", "stage b: kept (80 conversations done)", "stage c: kept (80 conversations done)")

	b2 := b
	b2.Model = "openai\x00\x00m2"
	b2.Config = `{"x":2}`
	run(pipeline.Options{}, stage("a", a), stage("b", b2))
	check("model and config of b changed, c removed",
		"stage a: kept (80 conversations done)", "stage b: redone (config changed; model changed)", "stage c: dropped (no longer configured; its results are deleted)")

	a2 := a
	a2.SHA256, a2.Version = "3333333333", "2"
	run(pipeline.Options{}, stage("a", a2), stage("b", b2))
	check("a rebuilt", "stage a: redone (plugin a.wasm changed: version 1 → 2, sha256 11111111… → 33333333…)", "stage b: redone (after stage a, which is redone)")

	run(pipeline.Options{}, stage("b", b2), stage("a", a2))
	check("reordered", "stage b: redone (moved from position 2 to 1)", "stage a: redone (moved from position 1 to 2)")

	// A store that kept no identities: the caller's records give the reasons.
	st = openStore(t)
	run(pipeline.Options{}, stage("a", a), stage("b", b))
	if err := st.SetMeta("stage_identities", ""); err != nil {
		t.Fatal(err)
	}
	prev := []pipeline.StageRecord{{Name: "a", Fingerprint: a.Fingerprint(), Identity: &a}, {Name: "b", Fingerprint: b.Fingerprint(), Identity: &b}}
	p2 := b
	p2.Prompt = "feed"
	run(pipeline.Options{Previous: prev}, stage("a", a), stage("b", p2))
	check("from the caller's records", "stage a: kept (80 conversations done)", "stage b: redone (prompt changed)")
}
