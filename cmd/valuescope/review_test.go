package main

import (
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Sample the quickstart for review, judge the sheet, score it.
func TestReviewQuickstart(t *testing.T) {
	run := quickstartRun(t, "")
	code, out, errs := valuescope(t, "review", "sample", run, "--n", "24", "--stratify", "response_type", "--seed", "2")
	if code != 0 || !strings.Contains(out, "24 conversations") || errs != "" {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	sheet := filepath.Join(run, "review", "review.csv")
	page, err := os.ReadFile(filepath.Join(run, "review", "review.html"))
	if err != nil || !strings.Contains(string(page), `class="turn assistant"`) {
		t.Fatalf("page: %v", err)
	}
	f, _ := os.Open(sheet)
	recs, err := csv.NewReader(f).ReadAll()
	f.Close()
	if err != nil || len(recs) < 25 {
		t.Fatalf("%v, %d lines", err, len(recs))
	}
	// Every label judged right, every value right but every fifth.
	for k, rec := range recs[1:] {
		rec[8] = "yes"
		if rec[4] == "ai_values" && k%5 == 0 {
			rec[8] = "no"
		}
	}
	judged := filepath.Join(t.TempDir(), "judged.csv")
	f, _ = os.Create(judged)
	w := csv.NewWriter(f)
	w.WriteAll(recs)
	f.Close()
	code, out, errs = valuescope(t, "review", "score", run, judged, "--json")
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	var sc struct {
		Fields []struct {
			Name   string  `json:"name"`
			Judged int     `json:"judged"`
			Agree  int     `json:"agree"`
			Rate   float64 `json:"rate"`
			CI     struct{ Low, High float64 }
			Strata []struct{ Name string }
		} `json:"fields"`
		SetAside []any `json:"set_aside"`
	}
	if err := json.Unmarshal([]byte(out), &sc); err != nil {
		t.Fatal(err)
	}
	if len(sc.Fields) != 2 || len(sc.SetAside) != 0 {
		t.Fatalf("%s", out)
	}
	for _, f := range sc.Fields {
		if f.Name == "response_type" && (f.Rate != 1 || f.Judged != 24 || len(f.Strata) != 7) {
			t.Errorf("%+v", f)
		}
		if f.Name == "ai_values" && (f.Rate >= 1 || f.CI.Low >= f.Rate || f.CI.High <= f.Rate) {
			t.Errorf("%+v", f)
		}
	}
	code, out, _ = valuescope(t, "review", "score", run, judged)
	if code != 0 || !strings.Contains(out, "Wilson interval") {
		t.Fatalf("%d %s", code, out)
	}
	if code, _, errs := valuescope(t, "review", "sample", run, "--stratify", "ai_values"); code != 2 || !strings.Contains(errs, "item field") {
		t.Errorf("exit %d %s", code, errs)
	}
}
