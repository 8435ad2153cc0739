package report_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/valuescope/valuescope/host/report"
	"github.com/valuescope/valuescope/internal/testruns"
)

// The case: the offline run over the Chinese ShareGPT file. Its
// report must warn that the extractor does not cover the conversations'
// language; the English hh-rlhf run's must not.
func TestReportWarnsLanguageNotCovered(t *testing.T) {
	zhDir := testruns.Offline(t, "sharegpt/sharegpt_zh_1K_format.jsonl")
	zh := readData(t, zhDir)
	cv := zh.Coverage
	if cv == nil || cv.Read != 1000 {
		t.Fatalf("coverage: %+v", cv)
	}
	var extractor *report.Method
	for k := range cv.Methods {
		if cv.Methods[k].Plugin == "builtin:cue-values" {
			extractor = &cv.Methods[k]
		}
	}
	if extractor == nil || !extractor.Heuristic || extractor.Uncovered < 950 {
		t.Fatalf("extractor: %+v", extractor)
	}
	page, err := os.ReadFile(filepath.Join(zhDir, report.HTMLFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"offline heuristic", "The builtin:cue-values plugin reads only English", "Chinese (Han script)", "sharegpt_zh_1K_format.jsonl</h1>"} {
		if !strings.Contains(string(page), want) {
			t.Errorf("report.html lacks %q", want)
		}
	}
	t.Logf("warnings: %q", cv.Warnings)

	hh := readData(t, testruns.Offline(t, "hh-rlhf"))
	for _, w := range hh.Coverage.Warnings {
		if strings.Contains(w, "reads only") {
			t.Errorf("hh-rlhf (English) warned: %s", w)
		}
	}
	if len(hh.Coverage.Warnings) == 0 {
		t.Error("hh-rlhf's offline run is not said to be a heuristic")
	}
}

func readData(t *testing.T, dir string) *report.Data {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, report.JSONFile))
	if err != nil {
		t.Fatal(err)
	}
	d := &report.Data{}
	if err := json.Unmarshal(b, d); err != nil {
		t.Fatal(err)
	}
	return d
}
