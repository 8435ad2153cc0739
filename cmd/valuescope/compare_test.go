package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/valuescope/valuescope/host/analysis"
	"github.com/valuescope/valuescope/host/compare"
	"github.com/valuescope/valuescope/host/taxonomy"
	"github.com/valuescope/valuescope/internal/paperattack"
	"github.com/valuescope/valuescope/internal/shareddata"
	"github.com/valuescope/valuescope/internal/testruns"
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
	for _, f := range []string{"compare.json", "differences.csv", "fields.csv", "disagreements.csv"} {
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

// sharedRun runs the offline quickstart's stages over a shared dataset
// (rel under the shared data folder), its first limit conversations, with
// the values extractor configured by valuesConfig ("": defaults).
func sharedRun(t *testing.T, rel string, limit int, valuesConfig string) string {
	t.Helper()
	data := shareddata.Path(t, rel)
	dir := t.TempDir()
	cfg := fmt.Sprintf("[dataset]\npaths = [%q]\n[[stages]]\nname = \"response-type\"\nplugin = \"builtin:response-type\"\n[[stages]]\nname = \"values\"\nplugin = \"builtin:cue-values\"\n", data)
	if valuesConfig != "" {
		cfg += "config = { " + valuesConfig + " }\n"
	}
	path := filepath.Join(dir, "run.toml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "run")
	if code, stdout, errs := valuescope(t, "run", "--quiet", "--limit", fmt.Sprint(limit), "--out", out, path); code != 0 {
		t.Fatalf("run: exit %d\n%s%s", code, stdout, errs)
	}
	return out
}

type sharingJSON struct {
	Pairs []struct {
		Sharing struct {
			Kind    string `json:"kind"`
			Shared  int    `json:"shared"`
			OnlyA   int    `json:"only_in_a"`
			OnlyB   int    `json:"only_in_b"`
			Warning string `json:"warning"`
		} `json:"sharing"`
		Fields []struct {
			Field       string `json:"field"`
			Test        string `json:"test"`
			Paired      int    `json:"paired_conversations"`
			LeftOutA    int    `json:"left_out_a"`
			NA          int    `json:"annotated_a"`
			NB          int    `json:"annotated_b"`
			Significant int    `json:"significant"`
			Values      []struct {
				Value  string   `json:"value"`
				Test   string   `json:"test"`
				N      int      `json:"n"`
				CountA int      `json:"count_a"`
				CountB int      `json:"count_b"`
				Z      *float64 `json:"z"`
				P      float64  `json:"p"`
				Pairs  *struct {
					Both  int `json:"both"`
					AOnly int `json:"a_only"`
					BOnly int `json:"b_only"`
				} `json:"pairs"`
			} `json:"values"`
			Symmetry *struct {
				Test          string `json:"test"`
				Conversations int    `json:"conversations"`
			} `json:"symmetry"`
		} `json:"fields"`
	} `json:"pairs"`
}

func compareRuns(t *testing.T, args ...string) (sharingJSON, string) {
	t.Helper()
	code, out, errs := valuescope(t, append([]string{"compare", "--json", "--min-conversations", "1"}, args...)...)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	var rep sharingJSON
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	return rep, errs
}

// The offline quickstart over hh-rlhf twice, the values extractor skipping
// turns under 300 characters in B: the same conversations, tested paired
// (McNemar, exact under 25 discordant; B only ever drops values, so no
// value is in B only); a run over the first 300 conversations of the same
// data: warned about as a subset and paired on those 300; a run over
// another dataset (chatbot-arena): disjoint, independent samples as before.
func TestComparePairedRealData(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the quickstart over real data four times")
	}
	a := sharedRun(t, "hh-rlhf", 1000, "")
	b := sharedRun(t, "hh-rlhf", 1000, "min_turn_chars = 300")
	sub := sharedRun(t, "hh-rlhf", 300, "")
	other := sharedRun(t, "chatbot-arena/chatbot_arena_messages.jsonl", 500, "")

	rep, errs := compareRuns(t, a, b)
	p := rep.Pairs[0]
	if p.Sharing.Kind != "same" || p.Sharing.Shared != 1000 || p.Sharing.Warning != "" || errs != "" {
		t.Fatalf("A/B: %+v %s", p.Sharing, errs)
	}
	tests := map[string]int{}
	for _, f := range p.Fields {
		if f.Test != "paired" || f.Paired != 1000 {
			t.Errorf("%s: %s on %d", f.Field, f.Test, f.Paired)
		}
		if f.Field == "response_type" && (f.Symmetry == nil || f.Symmetry.Conversations != 1000) {
			t.Errorf("response_type symmetry %+v", f.Symmetry)
		}
		for _, v := range f.Values {
			tests[v.Test]++
			pc := v.Pairs
			if pc == nil || v.N != 1000 || pc.Both+pc.AOnly != v.CountA || pc.Both+pc.BOnly != v.CountB || pc.BOnly != 0 {
				t.Errorf("%s %s: %+v %+v", f.Field, v.Value, v, pc)
				continue
			}
			d := pc.AOnly + pc.BOnly
			want := map[bool]string{true: "exact_binomial", false: "mcnemar"}[d < 25]
			if d == 0 {
				want = "no_discordant_pairs"
			}
			if v.Test != want {
				t.Errorf("%s %s: %d discordant, test %s", f.Field, v.Value, d, v.Test)
			}
		}
	}
	if tests["mcnemar"] == 0 || tests["exact_binomial"] == 0 {
		t.Errorf("tests used: %v", tests)
	}

	// Without continuity correction and never exact.
	rep, _ = compareRuns(t, a, b, "--continuity=false", "--exact-below", "0")
	for _, f := range rep.Pairs[0].Fields {
		for _, v := range f.Values {
			if v.Test != "mcnemar_uncorrected" && !(v.Test == "no_discordant_pairs" && v.Pairs.AOnly == 0) {
				t.Errorf("--continuity=false --exact-below 0: %s %s: %s", f.Field, v.Value, v.Test)
			}
		}
	}
	if code, _, errs := valuescope(t, "compare", a, b, "--exact-below", "-1"); code != 2 || !strings.Contains(errs, "--exact-below") {
		t.Errorf("--exact-below -1: exit %d %s", code, errs)
	}

	rep, errs = compareRuns(t, a, sub)
	p = rep.Pairs[0]
	if p.Sharing.Kind != "b_subset_of_a" || p.Sharing.Shared != 300 || p.Sharing.OnlyA != 700 ||
		!strings.Contains(p.Sharing.Warning, "not independent samples") || !strings.Contains(errs, "warning: ") {
		t.Fatalf("subset: %+v\n%s", p.Sharing, errs)
	}
	for _, f := range p.Fields {
		if f.Test != "paired" || f.Paired != 300 || f.LeftOutA != 700 || f.Significant != 0 {
			t.Errorf("subset %s: %s on %d, %d left out, %d significant", f.Field, f.Test, f.Paired, f.LeftOutA, f.Significant)
		}
	}
	code, out, _ := valuescope(t, "compare", a, sub, "--list", "0")
	if code != 0 || !strings.Contains(out, "WARNING: every conversation of B is in A") {
		t.Errorf("text: exit %d\n%s", code, out)
	}

	rep, errs = compareRuns(t, a, other)
	p = rep.Pairs[0]
	if p.Sharing.Kind != "disjoint" || p.Sharing.Shared != 0 || errs != "" {
		t.Fatalf("disjoint: %+v %s", p.Sharing, errs)
	}
	for _, f := range p.Fields {
		if f.Test != "independent" || f.Symmetry != nil {
			t.Errorf("disjoint %s: %s", f.Field, f.Test)
		}
		for _, v := range f.Values {
			z, pv := analysis.TwoProportionTest(float64(v.CountA), float64(f.NA), float64(v.CountB), float64(f.NB))
			if v.Test != "two_proportion_z" || v.Pairs != nil || v.Z == nil || *v.Z != z || v.P != pv {
				t.Errorf("disjoint %s %s: %+v", f.Field, v.Value, v)
			}
		}
	}
}

// compare RUN --paper: the offline hh-rlhf run's top-level clusters beside
// the paper's five (shares of value occurrences), its values beside the
// paper's shares of conversations, each table naming its unit.
func TestComparePaper(t *testing.T) {
	paper := shareddata.Path(t, "values-in-the-wild")
	dir := testruns.Offline(t, "hh-rlhf")
	code, out, errOut := valuescope(t, "compare", dir, "--paper="+paper)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{"level 3 clusters, share of value occurrences", "the run's top values, share of conversations",
		"Practical values", "31.4%", "Epistemic values", "22.2%", "Social values", "21.4%", "Protective values", "13.9%", "Personal values", "11.1%"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// One run without --paper is a usage error; --paper with --tree too.
	if code, _, errOut := valuescope(t, "compare", dir); code != 2 || !strings.Contains(errOut, "--paper") {
		t.Errorf("one run: exit %d, %s", code, errOut)
	}
	if code, _, _ := valuescope(t, "compare", dir, "--paper="+paper, "--tree", filepath.Join(paper, "values_tree.csv")); code != 2 {
		t.Errorf("--paper with --tree: exit %d", code)
	}
	// Flags --paper does not use are refused, not ignored.
	for _, f := range [][]string{{"--out", t.TempDir()}, {"--fields", "ai_values"}, {"--tree-level", "1"}, {"--correction", "holm"}, {"--top-n", "5"}} {
		if code, _, errOut := valuescope(t, append([]string{"compare", dir, "--paper=" + paper}, f...)...); code != 2 || !strings.Contains(errOut, "--paper takes no "+f[0]) {
			t.Errorf("--paper with %v: exit %d, %s", f, code, errOut)
		}
	}
	if code, _, errOut := valuescope(t, "compare", dir, "--paper="+t.TempDir()); code == 0 || !strings.Contains(errOut, "values_tree.csv") {
		t.Errorf("--paper without the files: exit %d, %s", code, errOut)
	}
}

// compare RUN --paper --json, attacked by subtraction (as report.json's);
// the run named by its folder, not its path.
func TestComparePaperJSONSubtraction(t *testing.T) {
	paper := shareddata.Path(t, "values-in-the-wild")
	dir := testruns.Offline(t, "hh-rlhf")
	code, out, errOut := valuescope(t, "compare", dir, "--paper="+paper, "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var reps []json.RawMessage
	if err := json.Unmarshal([]byte(out), &reps); err != nil || len(reps) != 1 {
		t.Fatalf("%v: %s", err, out)
	}
	p, err := compare.ReadPaper(paper)
	if err != nil {
		t.Fatal(err)
	}
	e, err := embedder("")
	if err != nil {
		t.Fatal(err)
	}
	all, err := compare.ComparePaper(context.Background(), dir, p, compare.PaperOptions{Embedder: e, Threshold: taxonomy.DefaultThreshold})
	if err != nil {
		t.Fatal(err)
	}
	leaks, err := paperattack.Leaks(reps[0], paperattack.TruthOf(all, analysis.DefaultFloor.MinConversations))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range leaks {
		t.Errorf("compare --paper --json leaks: %s", l)
	}
	if strings.Contains(out, dir) {
		t.Errorf("compare --paper --json names the run's path %s", dir)
	}
}
