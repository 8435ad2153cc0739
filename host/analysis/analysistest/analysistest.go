// Package analysistest writes small run folders for the tests of the
// analysis, comparison and review packages and commands: a run store with
// two stages — "response-type" (label field response_type) and "values"
// (item field ai_values) — the dataset it was read from (OpenAI-style JSONL,
// data.jsonl) and a manifest naming it, as a real run folder has them.
package analysistest

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/valuescope/valuescope/host/analysis"
	"github.com/valuescope/valuescope/host/conversation"
	"github.com/valuescope/valuescope/host/runfolder"
	"github.com/valuescope/valuescope/host/store"
)

// Conv is one conversation of a test run.
type Conv struct {
	ID string
	// Text is the user's turn (the assistant answers "ok: " + Text).
	Text string
	Meta map[string]any
	// Label is the response_type label ("": none).
	Label string
	// Values are the ai_values items.
	Values []string
	// Evidence, when set, is every item's evidence attribute.
	Evidence string
	// FailValues: the values stage failed for this conversation.
	FailValues bool
}

// Source is the source every conversation of a test run has.
const Source = "data.jsonl"

// Write writes a run folder into dir.
func Write(t testing.TB, dir string, convs []Conv) {
	t.Helper()
	// A run folder as valuescope makes one (marker and all).
	c, err := runfolder.Claim(dir, "analysistest")
	if err != nil {
		t.Fatal(err)
	}
	c.Release()
	st, err := store.Open(c.Store())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.SetStages([]store.Stage{{Name: "response-type", Fingerprint: "a"}, {Name: "values", Fingerprint: "b"}}); err != nil {
		t.Fatal(err)
	}
	data, err := os.Create(filepath.Join(dir, Source))
	if err != nil {
		t.Fatal(err)
	}
	defer data.Close()
	var batch []store.Result
	for k, c := range convs {
		turns := []conversation.Turn{{Role: "user", Content: c.Text}, {Role: "assistant", Content: "ok: " + c.Text}}
		meta := "{}"
		if c.Meta != nil {
			b, _ := json.Marshal(c.Meta)
			meta = string(b)
		}
		sc := store.Conversation{Seq: int64(k), ID: c.ID, Source: Source, ContentSHA: conversation.ContentID(turns), MetaJSON: meta}
		rt := store.Result{Conv: sc, Stage: "response-type"}
		if c.Label != "" {
			rt.Items = []store.Annotation{{Field: "response_type", Value: c.Label, IsLabel: true}}
		}
		vr := store.Result{Conv: sc, Stage: "values"}
		if c.FailValues {
			vr.Err = "model answered garbage"
		}
		for _, v := range c.Values {
			attrs := ""
			if c.Evidence != "" {
				b, _ := json.Marshal(map[string]string{"evidence": c.Evidence, "expression": "explicit"})
				attrs = string(b)
			}
			vr.Items = append(vr.Items, store.Annotation{Field: "ai_values", Value: v, AttrsJSON: attrs})
		}
		batch = append(batch, rt, vr)
		rec := map[string]any{"id": c.ID, "messages": []map[string]string{{"role": "user", "content": turns[0].Content}, {"role": "assistant", "content": turns[1].Content}}}
		for k, v := range c.Meta {
			rec[k] = v
		}
		b, _ := json.Marshal(rec)
		data.Write(append(b, '\n'))
	}
	if err := st.Write(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	m := map[string]any{"dataset": map[string]any{"paths": []string{filepath.Join(dir, Source)}, "format": "openai"}}
	b, _ := json.MarshalIndent(m, "", "  ")
	if err := os.WriteFile(c.Manifest(), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// Tables analyses every default table of the run folder dir without a
// floor (the whole tables: the truth an attack or an oracle compares
// with), by file name.
func Tables(t testing.TB, dir string) map[string]*analysis.Table {
	t.Helper()
	r, err := analysis.LoadRun(context.Background(), dir, analysis.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*analysis.Table{}
	for _, spec := range analysis.DefaultTables(r) {
		_, res, err := analysis.AnalyzeRun(context.Background(), r, spec, analysis.Options{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		out[spec.FileName()] = res.Table()
	}
	return out
}
