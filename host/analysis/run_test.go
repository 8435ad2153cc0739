package analysis_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/valuescope/valuescope/host/analysis"
	"github.com/valuescope/valuescope/host/analysis/analysistest"
)

// A run's table counts distinct conversations per (value, context), after
// normalisation; users come from the metadata; a failed stage or a missing
// context leaves the conversation out, counted.
func TestAnalyzeRun(t *testing.T) {
	dir := t.TempDir()
	var convs []analysistest.Conv
	for k := 0; k < 60; k++ {
		model := []string{"m1", "m2"}[k%2]
		c := analysistest.Conv{ID: fmt.Sprintf("c%02d", k), Text: fmt.Sprint("question ", k),
			Meta:  map[string]any{"model": model, "hashed_ip": fmt.Sprint("ip", k%7), "turns": k},
			Label: []string{"support", "neutral", "resistance"}[k%3]}
		switch {
		case model == "m1":
			c.Values = []string{"Honesty", "helpfulness", "Helpfulness"} // one value twice after normalisation
		default:
			c.Values = []string{"harm-prevention", "honesty"}
		}
		if k == 59 {
			c.FailValues = true
		}
		if k == 58 {
			delete(c.Meta, "model")
		}
		convs = append(convs, c)
	}
	analysistest.Write(t, dir, convs)
	run, err := analysis.LoadRun(context.Background(), dir, analysis.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if run.UserKey != "hashed_ip" || len(run.Conversations) != 60 || strings.Join(run.FieldNames(), ",") != "response_type,ai_values" {
		t.Fatalf("run: users %q, %d conversations, fields %v", run.UserKey, len(run.Conversations), run.FieldNames())
	}
	rep, res, err := analysis.AnalyzeRun(t.Context(), run, analysis.TableSpec{Rows: "ai_values", Cols: "model"}, analysis.Options{Floor: analysis.Floor{MinConversations: 5, MinUsers: 5}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	tab := res.Table()
	if rep.Input.NoRows != 1 || rep.Input.NoContext != 1 || rep.Input.InTable != 58 {
		t.Fatalf("input %+v", rep.Input)
	}
	if strings.Join(tab.Rows, ",") != "honesty,harm prevention,helpfulness" || strings.Join(tab.Cols, ",") != "m1,m2" {
		t.Fatalf("rows %v cols %v", tab.Rows, tab.Cols)
	}
	// honesty: 29 m1 + 29 m2 conversations (one of each left out).
	if tab.At(0, 0) != 29 || tab.At(0, 1) != 29 || tab.At(2, 0) != 29 || tab.At(1, 0) != 0 || tab.At(1, 1) != 29 || tab.RowConversations[0] != 58 {
		t.Fatalf("counts %v", tab.Dense())
	}
	for _, c := range tab.Cells() {
		if c.Users != 7 {
			t.Fatalf("cell users %+v", c)
		}
	}
	if res.Suppressed.Cells != 0 || res.SignificantPositive == 0 {
		t.Fatalf("%+v", res.Summary)
	}
	// With a user floor over 7 everything is suppressed, and said.
	_, res, _ = analysis.AnalyzeRun(t.Context(), run, analysis.TableSpec{Rows: "ai_values", Cols: "model"}, analysis.Options{Floor: analysis.Floor{MinConversations: 5, MinUsers: 8}}, nil)
	if res.Suppressed.Rows != 3 || res.Suppressed.Cols != 2 || res.Suppressed.Significant == 0 || len(res.Contexts) != 0 {
		t.Fatalf("suppressed %+v", res.Suppressed)
	}

	// Axis resolution.
	for spec, kind := range map[string]string{"response_type": "field", "field:ai_values": "field", "model": "meta", "meta.turns": "meta", "source": "source"} {
		a, err := run.ResolveAxis(spec)
		if err != nil || a.Kind != kind {
			t.Errorf("%s: %+v %v", spec, a, err)
		}
	}
	for spec, want := range map[string]string{"nope": "neither a field", "meta.nope": "no conversation", "field:nope": "no field"} {
		if _, err := run.ResolveAxis(spec); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v", spec, err)
		}
	}
	if _, _, err := analysis.AnalyzeRun(t.Context(), run, analysis.TableSpec{Rows: "model", Cols: "ai_values"}, analysis.Options{}, nil); err == nil {
		t.Error("metadata as rows: no error")
	}
	// Default tables: each field against the other label field and the
	// metadata with few values (not the user key; turns has 60 values).
	var got []string
	for _, s := range analysis.DefaultTables(run) {
		got = append(got, s.Rows+":"+s.Cols)
	}
	if strings.Join(got, " ") != "response_type:meta.model ai_values:response_type ai_values:meta.model" {
		t.Fatalf("default tables %v", got)
	}
	// A custom mapper: a taxonomy level.
	level := analysis.MapperFunc(func(_, v string) (string, bool) {
		if strings.Contains(strings.ToLower(v), "harm") {
			return "", false
		}
		return "prosocial", true
	})
	rep, res, err = analysis.AnalyzeRun(t.Context(), run, analysis.TableSpec{Rows: "ai_values", Cols: "response_type"}, analysis.Options{}, level)
	if err != nil || strings.Join(res.Table().Rows, ",") != "prosocial" || rep.Input.Unplaced != 29 {
		t.Fatalf("%v %v %+v", err, res.Table().Rows, rep.Input)
	}
}

func TestLoadRunNotARun(t *testing.T) {
	if _, err := analysis.LoadRun(context.Background(), t.TempDir(), analysis.LoadOptions{}); err == nil || !strings.Contains(err.Error(), "not a run folder") {
		t.Fatal(err)
	}
}

// Values drops repeats and keeps the order of first appearance, for a short
// list (searched) and a long one (hashed) alike.
func TestFieldValues(t *testing.T) {
	for _, n := range []int{5, 1000} {
		var items []analysis.Item
		var want []string
		for i := range n {
			v := fmt.Sprint("value ", i)
			want = append(want, v)
			items = append(items, analysis.Item{Value: v}, analysis.Item{Value: fmt.Sprint("value ", i/2)})
		}
		f := &analysis.Field{Items: [][]analysis.Item{items}}
		if got := f.Values(0); strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("%d values: got %d values, %.80q…; want %.80q…", n, len(got), got, want)
		}
	}
}
