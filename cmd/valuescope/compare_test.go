package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type compareJSON struct {
	Pairs []struct {
		Shared int `json:"shared_conversations"`
		Fields []struct {
			Field       string   `json:"field"`
			Significant int      `json:"significant"`
			JSD         *float64 `json:"jensen_shannon_bits"`
			Values      []struct {
				Value  string  `json:"value"`
				Diff   float64 `json:"diff"`
				CountA int     `json:"count_a"`
				CountB int     `json:"count_b"`
			} `json:"values"`
			Agreement struct {
				Conversations int      `json:"conversations"`
				MeanJaccard   float64  `json:"mean_jaccard"`
				Kappa         *float64 `json:"kappa"`
				Disagreements []struct {
					ID string `json:"conversation_id"`
				} `json:"disagreements"`
			} `json:"agreement"`
		} `json:"fields"`
	} `json:"pairs"`
}

// Two runs of the quickstart with one plugin configured differently (the
// values extractor skipping short turns): per-value differences and
// imperfect agreement; two identical runs: no significant difference and
// perfect agreement.
func TestCompareQuickstart(t *testing.T) {
	a, b := quickstartRun(t, ""), quickstartRun(t, "min_turn_chars = 900")
	// An identical run: the same run folder, copied.
	a2 := filepath.Join(t.TempDir(), "copy")
	os.MkdirAll(a2, 0o755)
	for _, f := range []string{"store.sqlite", "manifest.json"} {
		b, err := os.ReadFile(filepath.Join(a, f))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(a2, f), b, 0o644)
	}
	code, out, errs := valuescope(t, "compare", a, a2, "--json", "--min-conversations", "1")
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	var same compareJSON
	if err := json.Unmarshal([]byte(out), &same); err != nil {
		t.Fatal(err)
	}
	p := same.Pairs[0]
	if p.Shared != 80 || len(p.Fields) != 2 {
		t.Fatalf("%+v", p)
	}
	for _, f := range p.Fields {
		if f.Significant != 0 || *f.JSD != 0 || f.Agreement.Conversations != 80 || f.Agreement.MeanJaccard != 1 || len(f.Agreement.Disagreements) != 0 {
			t.Errorf("identical runs, %s: %+v", f.Field, f)
		}
		for _, v := range f.Values {
			if v.Diff != 0 {
				t.Errorf("%s %s: diff %v", f.Field, v.Value, v.Diff)
			}
		}
		if f.Field == "response_type" && *f.Agreement.Kappa != 1 {
			t.Errorf("kappa %v", *f.Agreement.Kappa)
		}
	}

	outDir := filepath.Join(t.TempDir(), "cmp")
	code, out, errs = valuescope(t, "compare", a, b, "--json", "--min-conversations", "1", "--out", outDir)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	var diff compareJSON
	if err := json.Unmarshal([]byte(out), &diff); err != nil {
		t.Fatal(err)
	}
	var values = diff.Pairs[0].Fields[1]
	if values.Field != "ai_values" || !(*values.JSD > 0) || !(values.Agreement.MeanJaccard < 1) || len(values.Agreement.Disagreements) == 0 {
		t.Fatalf("different runs: %+v", values)
	}
	changed := 0
	for _, v := range values.Values {
		if v.Diff < 0 {
			changed++
		}
		if v.Diff > 0 {
			t.Errorf("skipping short turns added %s", v.Value)
		}
	}
	if changed == 0 {
		t.Fatal("no value less frequent with min_turn_chars")
	}
	for _, f := range []string{"compare.json", "differences.csv", "disagreements.csv"} {
		if st, err := os.Stat(filepath.Join(outDir, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	code, out, _ = valuescope(t, "compare", a, b)
	if code != 0 || !strings.Contains(out, "mean Jaccard") || !strings.Contains(out, "disagree most") || !strings.Contains(out, "Cohen's kappa 1.000") {
		t.Fatalf("exit %d\n%s", code, out)
	}
	if code, _, errs := valuescope(t, "compare", a); code != 2 || !strings.Contains(errs, "at least 2") {
		t.Errorf("one run: exit %d %s", code, errs)
	}
}
