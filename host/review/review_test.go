package review

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/valuescope/valuescope/host/analysis"
	"github.com/valuescope/valuescope/host/analysis/analysistest"
)

func TestAllocate(t *testing.T) {
	for _, c := range []struct {
		sizes []int
		n     int
		want  []int
	}{
		{[]int{50, 30, 20}, 10, []int{5, 3, 2}},
		{[]int{97, 2, 1}, 10, []int{8, 1, 1}}, // at least one per stratum
		{[]int{5, 5}, 100, []int{5, 5}},       // capped at the population
		{[]int{10, 0, 10}, 3, []int{2, 0, 1}},
		{[]int{3, 3, 3, 3}, 2, []int{1, 1, 0, 0}}, // fewer than strata: largest remainders
		{[]int{1000, 1}, 1, []int{1, 0}},
	} {
		got := Allocate(c.sizes, c.n)
		total := 0
		for k := range got {
			total += got[k]
			if got[k] > c.sizes[k] {
				t.Errorf("%v", got)
			}
		}
		if !slices.Equal(got, c.want) || total != min(c.n, sum(c.sizes)) {
			t.Errorf("Allocate(%v, %d) = %v, want %v", c.sizes, c.n, got, c.want)
		}
	}
}

func sum(x []int) int {
	s := 0
	for _, v := range x {
		s += v
	}
	return s
}

func testRun(t *testing.T) *analysis.Run {
	var convs []analysistest.Conv
	for k := 0; k < 50; k++ {
		c := analysistest.Conv{ID: fmt.Sprintf("c%02d", k), Text: fmt.Sprintf("<b>question %d</b> & more", k),
			Meta: map[string]any{"model": []string{"a", "b"}[k%2]}, Label: "support", Values: []string{"honesty", "care"}, Evidence: "I want to be <honest>"}
		if k < 5 {
			c.Label = "resistance"
		}
		if k%7 == 0 {
			c.Values = nil
		}
		if k == 49 {
			c.FailValues = true
		}
		convs = append(convs, c)
	}
	dir := t.TempDir()
	analysistest.Write(t, dir, convs)
	r, err := analysis.LoadRun(context.Background(), dir, analysis.LoadOptions{Attrs: true})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestSampleAndScore(t *testing.T) {
	r := testRun(t)
	sh, err := Sample(t.Context(), r, SampleOptions{N: 10, Stratify: "response_type", Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	// resistance 5 of 50, support 45: 1 + 9 = 10, proportional with both seen.
	if len(sh.Strata) != 2 || sh.Strata[0].Name != "resistance" || sh.Strata[0].Sampled != 1 || sh.Strata[1].Sampled != 9 {
		t.Fatalf("strata %+v", sh.Strata)
	}
	again, _ := Sample(t.Context(), r, SampleOptions{N: 10, Stratify: "response_type", Seed: 3})
	if !slices.Equal(sh.Conversations, again.Conversations) {
		t.Fatal("same seed, another sample")
	}
	other, _ := Sample(t.Context(), r, SampleOptions{N: 10, Stratify: "response_type", Seed: 4})
	if slices.Equal(sh.Conversations, other.Conversations) {
		t.Fatal("another seed, same sample")
	}
	var buf bytes.Buffer
	if err := sh.WriteCSV(&buf); err != nil {
		t.Fatal(err)
	}
	recs, _ := csv.NewReader(bytes.NewReader(buf.Bytes())).ReadAll()
	if !slices.Equal(recs[0], SheetColumns) || len(recs) != 1+len(sh.Lines) {
		t.Fatalf("sheet header %v, %d lines", recs[0], len(recs))
	}
	lines := 0
	for _, rec := range recs[1:] {
		if rec[6] == "honesty" && rec[7] != "I want to be <honest>" {
			t.Fatalf("evidence %v", rec)
		}
		if rec[4] == "ai_values" {
			lines++
		}
	}
	if lines == 0 {
		t.Fatal("no value lines")
	}

	// The page: turns from the dataset, escaped.
	texts, warnings, err := sh.Texts(context.Background())
	if err != nil || len(warnings) != 0 || len(texts) != 10 {
		t.Fatalf("texts %d, warnings %v, %v", len(texts), warnings, err)
	}
	for i, c := range texts {
		if c.ID != r.Conversations[i].ID || c.Turns[0].Content != fmt.Sprintf("<b>question %s</b> & more", strings.TrimPrefix(strings.TrimPrefix(c.ID, "c0"), "c")) {
			t.Fatalf("conversation %d (%s) read as %s: %q", i, r.Conversations[i].ID, c.ID, c.Turns[0].Content)
		}
	}
	buf.Reset()
	if err := sh.WriteHTML(&buf, texts); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	if !strings.Contains(page, "&lt;b&gt;question") || strings.Contains(page, "<b>question") || !strings.Contains(page, "I want to be &lt;honest&gt;") {
		t.Fatalf("page not escaped or without turns:\n%s", page[:min(2000, len(page))])
	}

	// Judge: every value line wrong for one conversation, the rest right.
	var sheet bytes.Buffer
	cw := csv.NewWriter(&sheet)
	cw.Write(recs[0])
	wrongConv := recs[1][1]
	for k, rec := range recs[1:] {
		rec = slices.Clone(rec)
		switch {
		case k == len(recs)-2:
			rec[8] = "" // not judged
		case rec[1] == wrongConv && rec[4] == "ai_values":
			rec[8] = "No"
		default:
			rec[8] = "yes"
		}
		cw.Write(rec)
	}
	cw.Write([]string{"99", "c00", analysistest.Source, "support", "ai_values", "item", "bravery", "", "yes", ""})
	cw.Write([]string{"100", "nope", "", "", "ai_values", "item", "honesty", "", "yes", ""})
	cw.Write([]string{"101", "c01", "", "", "ai_values", "item", "honesty", "", "perhaps", ""})
	cw.Flush()
	sc, err := ScoreSheet(r, &sheet, "sheet.csv", 0.95)
	if err != nil {
		t.Fatal(err)
	}
	if sc.Unjudged != 1 || len(sc.SetAside) != 3 || sc.SetAside[0].Line != len(recs)+1 {
		t.Fatalf("score %+v", sc)
	}
	var vals *FieldScore
	for k := range sc.Fields {
		if sc.Fields[k].Name == "ai_values" {
			vals = &sc.Fields[k]
		}
	}
	if vals == nil || vals.Agree >= vals.Judged || len(vals.Strata) != 2 {
		t.Fatalf("values score %+v", vals)
	}
	w := analysis.Wilson(float64(vals.Agree), float64(vals.Judged), 0.95)
	if vals.CI != w || math.Abs(float64(vals.Rate.Rate)-float64(vals.Agree)/float64(vals.Judged)) > 1e-15 {
		t.Fatalf("rate %+v", vals.Rate)
	}
	buf.Reset()
	sc.WriteText(&buf)
	if !strings.Contains(buf.String(), "Wilson interval") || !strings.Contains(buf.String(), "sheet.csv:") {
		t.Fatal(buf.String())
	}
}

func TestSampleErrors(t *testing.T) {
	r := testRun(t)
	for _, c := range []struct {
		o    SampleOptions
		want string
	}{
		{SampleOptions{N: 0}, "positive"},
		{SampleOptions{N: 5, Stratify: "ai_values"}, "item field"},
		{SampleOptions{N: 5, Stratify: "nope"}, "neither a field"},
		{SampleOptions{N: 5, Fields: []string{"nope"}}, "no field"},
	} {
		if _, err := Sample(t.Context(), r, c.o); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v", c.o, err)
		}
	}
	// Stratified by metadata, the whole run when n is large.
	sh, err := Sample(t.Context(), r, SampleOptions{N: 500, Stratify: "model"})
	if err != nil || len(sh.Conversations) != 50 {
		t.Fatalf("%v %d", err, len(sh.Conversations))
	}
}

func TestScoreSheetErrors(t *testing.T) {
	r := testRun(t)
	for in, want := range map[string]string{
		"":                        "empty sheet",
		"conversation_id,value\n": "lacks column(s) field, judgement",
	} {
		if _, err := ScoreSheet(r, strings.NewReader(in), "s.csv", 0.95); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v", in, err)
		}
	}
	for in, want := range map[string]bool{"Yes": true, " y ": true, "1": true, "correct": true, "no": false, "0": false, "Incorrect": false} {
		got, ok, err := Judgement(in)
		if err != nil || !ok || got != want {
			t.Errorf("%q: %v %v %v", in, got, ok, err)
		}
	}
}

// The sample of a run streamed from its store (two passes, users grouped
// apart from the seq order) is the sample of the run read whole.
func TestSampleStreamedIsSampleWhole(t *testing.T) {
	whole := testRun(t)
	streamed, err := analysis.OpenRun(t.Context(), whole.Dir, analysis.LoadOptions{Attrs: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range []SampleOptions{{N: 10, Stratify: "response_type", Seed: 3}, {N: 7, Seed: 9}, {N: 500, Stratify: "model"}} {
		a, err := Sample(t.Context(), whole, o)
		if err != nil {
			t.Fatal(err)
		}
		b, err := Sample(t.Context(), streamed, o)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(a.Conversations, b.Conversations) || !reflect.DeepEqual(a.Lines, b.Lines) || !reflect.DeepEqual(a.Strata, b.Strata) || !reflect.DeepEqual(a.sampled, b.sampled) {
			t.Fatalf("%+v: streamed sample differs:\n%+v\n%+v", o, b.Lines, a.Lines)
		}
	}
}
