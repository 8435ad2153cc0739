package compare

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/valuescope/valuescope/host/analysis"
	"github.com/valuescope/valuescope/host/analysis/analysistest"
)

// testRuns writes run A and a run B that differs on purpose: the same
// conversations, where B drops "curiosity", adds "caution" to a third of the
// conversations, and relabels some.
func testRuns(t *testing.T) (a, b, a2 string) {
	var ca, cb []analysistest.Conv
	for k := 0; k < 120; k++ {
		c := analysistest.Conv{ID: fmt.Sprintf("c%03d", k), Text: fmt.Sprint("q", k), Meta: map[string]any{"model": "m"},
			Label: []string{"support", "neutral"}[k%2], Values: []string{"Honesty"}}
		if k%2 == 0 {
			c.Values = append(c.Values, "curiosity")
		}
		if k%5 == 0 {
			c.Values = append(c.Values, "rare value "+fmt.Sprint(k))
		}
		ca = append(ca, c)
		d := c
		d.Values = []string{"honesty"} // normalises to A's "Honesty"
		if k%3 == 0 {
			d.Values = append(d.Values, "caution")
		}
		if k%10 == 0 {
			d.Label = "resistance"
		}
		cb = append(cb, d)
	}
	dir := t.TempDir()
	a, b, a2 = filepath.Join(dir, "a"), filepath.Join(dir, "b"), filepath.Join(dir, "a2")
	analysistest.Write(t, a, ca)
	analysistest.Write(t, b, cb)
	analysistest.Write(t, a2, ca)
	return a, b, a2
}

func TestCompareIdentical(t *testing.T) {
	a, _, a2 := testRuns(t)
	rep, err := Runs(context.Background(), []string{a, a2}, analysis.LoadOptions{}, Options{Floor: analysis.Floor{MinConversations: 5}})
	if err != nil {
		t.Fatal(err)
	}
	p := rep.Pairs[0]
	if p.Shared != 120 || len(p.Fields) != 2 {
		t.Fatalf("%+v", p)
	}
	for _, f := range p.Fields {
		// Spearman is undefined (NaN) when the counts are all equal.
		if f.Significant != 0 || f.Suppressed.Significant != 0 || f.JSD != 0 || !(f.Spearman == 1 || (f.Label && math.IsNaN(float64(f.Spearman)))) {
			t.Errorf("%s: %d significant, JSD %v, Spearman %v", f.Field, f.Significant, f.JSD, f.Spearman)
		}
		for _, v := range f.Values {
			if v.Diff != 0 || v.P != 1 || v.CI.Low > 0 || v.CI.High < 0 {
				t.Errorf("%s %s: %+v", f.Field, v.Value, v)
			}
		}
		ag := f.Agreement
		if ag == nil || ag.Conversations != 120 || ag.MeanJaccard != 1 || ag.Identical != 120 || len(ag.Disagreements) != 0 {
			t.Errorf("%s agreement %+v", f.Field, ag)
		}
		if f.Label && ag.Kappa != 1 {
			t.Errorf("kappa %v", ag.Kappa)
		}
	}
}

func TestCompareDifferent(t *testing.T) {
	a, b, _ := testRuns(t)
	rep, err := Runs(context.Background(), []string{a, b}, analysis.LoadOptions{}, Options{Floor: analysis.Floor{MinConversations: 5}, List: 3})
	if err != nil {
		t.Fatal(err)
	}
	var values, labels *Fields
	for _, f := range rep.Pairs[0].Fields {
		if f.Field == "ai_values" {
			values = f
		} else {
			labels = f
		}
	}
	byName := map[string]ValueDiff{}
	for _, v := range values.Values {
		byName[v.Value] = v
	}
	// curiosity: 50% -> 0%; caution: 0% -> 33%; honesty unchanged; the rare
	// values (one conversation each) suppressed.
	cur, cau, hon := byName["curiosity"], byName["caution"], byName["honesty"]
	if !cur.Significant || cur.Diff != -0.5 || cur.CountA != 60 || cur.CountB != 0 || !(cur.CI.High < 0) {
		t.Errorf("curiosity %+v", cur)
	}
	if !cau.Significant || cau.CountB != 40 || !(cau.CI.Low > 0) {
		t.Errorf("caution %+v", cau)
	}
	if hon.Significant || hon.Diff != 0 {
		t.Errorf("honesty %+v", hon)
	}
	if values.Suppressed.Values != 24 || len(values.Values) != 3 || values.Compared != 27 || values.Significant != 2 {
		t.Errorf("values: %d reported, %+v suppressed, %d compared", len(values.Values), values.Suppressed, values.Compared)
	}
	if !(values.JSD > 0.1) {
		t.Errorf("JSD %v", values.JSD)
	}
	ag := values.Agreement
	if ag.Conversations != 120 || !(ag.MeanJaccard < 1) || len(ag.Disagreements) != 3 {
		t.Fatalf("agreement %+v", ag)
	}
	// The most disagreeing first: J = 0 where A had curiosity + a rare value
	// and B honesty + caution... none is 0 here: every set shares honesty.
	first := ag.Disagreements[0]
	if first.Jaccard > ag.Disagreements[2].Jaccard || !strings.Contains(strings.Join(first.A, ","), "(rare value)") {
		t.Errorf("disagreements %+v", ag.Disagreements)
	}
	// Labels: 12 of 120 relabelled.
	if labels.Agreement.Identical != 108 || math.Abs(float64(labels.Agreement.Observed)-0.9) > 1e-12 || !(labels.Agreement.Kappa < 1) {
		t.Errorf("labels %+v", labels.Agreement)
	}
	var buf bytes.Buffer
	if err := WriteText(&buf, rep, 10); err != nil || !strings.Contains(buf.String(), "curiosity") || !strings.Contains(buf.String(), "Cohen's kappa") {
		t.Fatalf("%v\n%s", err, buf.String())
	}
	buf.Reset()
	WriteDiffsCSV(&buf, rep)
	if strings.Count(buf.String(), "\n") != 1+3+3 { // header, 3 values, 3 labels (resistance: 0 -> 12)
		t.Errorf("differences.csv:\n%s", buf.String())
	}
	if _, err := json.Marshal(rep); err != nil {
		t.Fatal(err)
	}
}

// python runs /usr/bin/python3 with scipy and scikit-learn, skipping when
// they are absent (Debian python3-scipy, python3-sklearn).
func python(t *testing.T, script string) string {
	t.Helper()
	const py = "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import scipy, sklearn").Run(); err != nil {
		t.Skipf("python3 with scipy and sklearn not available: %v", err)
	}
	f := filepath.Join(t.TempDir(), "oracle.py")
	os.WriteFile(f, []byte(script), 0o644)
	var out, errb bytes.Buffer
	cmd := exec.Command(py, f)
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("python: %v\n%s", err, errb.String())
	}
	return out.String()
}

// Cohen's kappa equals scikit-learn's, the Jensen–Shannon divergence
// scipy's (squared distance, base 2), Spearman scipy's spearmanr.
func TestStatisticsAgainstScipy(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	type kcase struct{ A, B []string }
	var kcases []kcase
	for k := 0; k < 5; k++ {
		n := 20 + rng.IntN(200)
		var a, b []string
		for i := 0; i < n; i++ {
			x := fmt.Sprint("l", rng.IntN(2+k))
			y := x
			if rng.IntN(3) == 0 {
				y = fmt.Sprint("l", rng.IntN(3+k))
			}
			a, b = append(a, x), append(b, y)
		}
		kcases = append(kcases, kcase{A: a, B: b})
	}
	var vcases [][2][]float64
	for k := 0; k < 5; k++ {
		n := 5 + rng.IntN(30)
		x, y := make([]float64, n), make([]float64, n)
		for i := range x {
			x[i] = float64(rng.IntN(10))
			y[i] = x[i] + float64(rng.IntN(6))
			if rng.IntN(4) == 0 {
				y[i] = 0
			}
		}
		vcases = append(vcases, [2][]float64{x, y})
	}
	js, _ := json.Marshal(map[string]any{"kappa": kcases, "vec": vcases})
	out := python(t, `
import json, sys
import numpy as np
from sklearn.metrics import cohen_kappa_score
from scipy.spatial.distance import jensenshannon
from scipy.stats import spearmanr
d = json.loads(`+"'''"+string(js)+"'''"+`)
res = {"kappa": [cohen_kappa_score(c["A"], c["B"]) for c in d["kappa"]],
       "jsd": [], "spearman": []}
for x, y in d["vec"]:
    x, y = np.array(x, float), np.array(y, float)
    res["jsd"].append(float(jensenshannon(x / x.sum(), y / y.sum(), base=2) ** 2))
    res["spearman"].append(float(spearmanr(x, y).correlation))
print(json.dumps(res))
`)
	var want struct{ Kappa, JSD, Spearman []float64 }
	if err := json.Unmarshal([]byte(out), &want); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	for k, c := range kcases {
		if got := CohenKappa(c.A, c.B); math.Abs(got-want.Kappa[k]) > 1e-12 {
			t.Errorf("kappa %d: %v, sklearn %v", k, got, want.Kappa[k])
		}
	}
	for k, c := range vcases {
		x, y := c[0], c[1]
		sx, sy := 0.0, 0.0
		for i := range x {
			sx += x[i]
			sy += y[i]
		}
		p, q := make([]float64, len(x)), make([]float64, len(x))
		for i := range x {
			p[i], q[i] = x[i]/sx, y[i]/sy
		}
		if got := JensenShannonBits(p, q); math.Abs(got-want.JSD[k]) > 1e-9 {
			t.Errorf("JSD %d: %v, scipy %v", k, got, want.JSD[k])
		}
		if got := Spearman(x, y); math.Abs(got-want.Spearman[k]) > 1e-12 {
			t.Errorf("Spearman %d: %v, scipy %v", k, got, want.Spearman[k])
		}
	}
}

func TestSmallPieces(t *testing.T) {
	if Jaccard(nil, nil) != 1 || Jaccard([]string{"a"}, nil) != 0 || Jaccard([]string{"a", "b"}, []string{"b", "c"}) != 1.0/3 {
		t.Fatal("jaccard")
	}
	if CohenKappa([]string{"x", "x"}, []string{"x", "x"}) != 1 || !math.IsNaN(CohenKappa(nil, nil)) {
		t.Fatal("kappa edge cases")
	}
	if r := ranks([]float64{3, 1, 3, 2}); fmt.Sprint(r) != "[3.5 1 3.5 2]" {
		t.Fatal(r)
	}
	if !math.IsNaN(Spearman([]float64{1}, []float64{2})) {
		t.Fatal("spearman of one pair")
	}
}

// Runs over the same conversations are paired: McNemar per value on the
// 2×2 tables the construction of testRuns fixes (curiosity in A only in 60
// conversations, caution in B only in 40, resistance a label B gives 12
// conversations A calls support), the exact binomial test under 25
// discordant conversations, and Bowker's test of the label table.
func TestComparePaired(t *testing.T) {
	a, b, _ := testRuns(t)
	rep, err := Runs(context.Background(), []string{a, b}, analysis.LoadOptions{}, Options{Floor: analysis.Floor{MinConversations: 5}})
	if err != nil {
		t.Fatal(err)
	}
	p := rep.Pairs[0]
	if p.Sharing.Kind != Same || p.Sharing.Shared != 120 || p.Sharing.Warning != "" || !rep.Continuity || rep.ExactBelow != 25 {
		t.Fatalf("sharing %+v, report %+v", p.Sharing, rep)
	}
	got := map[string]ValueDiff{}
	for _, f := range p.Fields {
		if f.Test != Paired || f.Paired != 120 || f.LeftOutA != 0 || f.LeftOutB != 0 {
			t.Errorf("%s: test %s on %d (left out %d, %d)", f.Field, f.Test, f.Paired, f.LeftOutA, f.LeftOutB)
		}
		for _, v := range f.Values {
			got[v.Value] = v
		}
	}
	check := func(v string, pc PairCounts, test string, stat, pv float64) {
		t.Helper()
		d := got[v]
		if d.Pairs == nil || *d.Pairs != pc || d.Test != test || d.N != 120 || !near(float64(d.P), pv) ||
			!(math.IsNaN(stat) && math.IsNaN(float64(d.Statistic)) || near(float64(d.Statistic), stat)) {
			t.Errorf("%s: %+v (pairs %+v), want %+v %s stat %v p %v", v, d, d.Pairs, pc, test, stat, pv)
		}
	}
	chi1 := func(x float64) float64 { return math.Erfc(math.Sqrt(x / 2)) } // χ²(1) upper tail
	check("curiosity", PairCounts{AOnly: 60, Neither: 60}, TestMcNemar, 59.0*59/60, chi1(59.0*59/60))
	check("caution", PairCounts{BOnly: 40, Neither: 80}, TestMcNemar, 39.0*39/40, chi1(39.0*39/40))
	check("honesty", PairCounts{Both: 120}, TestNoDiscordant, 0, 1)
	check("resistance", PairCounts{BOnly: 12, Neither: 108}, TestExactBinomial, math.NaN(), 2*math.Pow(0.5, 12))
	check("support", PairCounts{Both: 48, AOnly: 12, Neither: 60}, TestExactBinomial, math.NaN(), 2*math.Pow(0.5, 12))
	for _, f := range p.Fields {
		s := f.Symmetry
		if !f.Label {
			if s != nil {
				t.Errorf("%s: symmetry on an item field", f.Field)
			}
			continue
		}
		// Pairs (support, neutral) and (neutral, resistance): no move, dropped.
		if s == nil || s.Test != TestBowker || s.Conversations != 120 || s.Labels != 3 || s.Statistic != 12 || s.DF != 1 || s.Dropped != 2 || !near(float64(s.P), chi1(12)) {
			t.Errorf("symmetry %+v", s)
		}
	}

	// Without continuity correction, and never exact.
	rep, err = Runs(context.Background(), []string{a, b}, analysis.LoadOptions{}, Options{Floor: analysis.Floor{MinConversations: 5}, NoContinuity: true, ExactBelow: -1})
	if err != nil {
		t.Fatal(err)
	}
	got = map[string]ValueDiff{}
	for _, f := range rep.Pairs[0].Fields {
		for _, v := range f.Values {
			got[v.Value] = v
		}
	}
	check("curiosity", PairCounts{AOnly: 60, Neither: 60}, TestMcNemarPlain, 60, chi1(60))
	check("resistance", PairCounts{BOnly: 12, Neither: 108}, TestMcNemarPlain, 12, chi1(12))
	var buf bytes.Buffer
	if err := WriteText(&buf, rep, 10); err != nil || !strings.Contains(buf.String(), "paired on 120 shared conversations (McNemar without continuity correction") ||
		!strings.Contains(buf.String(), "the same conversations: paired tests") {
		t.Fatalf("%v\n%s", err, buf.String())
	}
}

// A run over a subset of another's conversations is warned about and
// tested paired on the shared ones; a partial overlap says how many each
// run leaves out; a conversation with the same id but other content is not
// a pair; disjoint runs are independent samples, tested as before (the
// two-proportion z-test and Newcombe's interval on each run's annotated
// conversations).
func TestCompareSharingKinds(t *testing.T) {
	mk := func(from, to int, prefix string, change func(k int, c *analysistest.Conv)) []analysistest.Conv {
		var cs []analysistest.Conv
		for k := from; k < to; k++ {
			c := analysistest.Conv{ID: fmt.Sprintf("%s%03d", prefix, k), Text: fmt.Sprint("q", k), Label: []string{"support", "neutral"}[k%2], Values: []string{"honesty"}}
			if k%3 == 0 {
				c.Values = append(c.Values, "care")
			}
			if change != nil {
				change(k, &c)
			}
			cs = append(cs, c)
		}
		return cs
	}
	dir := t.TempDir()
	write := func(name string, cs []analysistest.Conv) string {
		d := filepath.Join(dir, name)
		analysistest.Write(t, d, cs)
		return d
	}
	full := write("full", mk(0, 200, "c", nil))
	sub := write("sub", mk(0, 120, "c", func(k int, c *analysistest.Conv) {
		if k%4 == 0 {
			c.Values = append(c.Values, "caution")
		}
	}))
	part := write("part", mk(100, 300, "c", func(k int, c *analysistest.Conv) {
		if k == 150 {
			c.Text = "edited"
		}
	}))
	disj := write("disj", mk(0, 150, "d", func(k int, c *analysistest.Conv) {
		if k%2 == 0 {
			c.Values = append(c.Values, "caution")
		}
	}))
	rep, err := Runs(context.Background(), []string{full, sub, part, disj}, analysis.LoadOptions{}, Options{Floor: analysis.Floor{MinConversations: 5}})
	if err != nil {
		t.Fatal(err)
	}
	s := rep.Pairs[0].Sharing
	if s.Kind != BSubset || s.Shared != 120 || s.OnlyA != 80 || s.OnlyB != 0 || !strings.Contains(s.Warning, "not independent samples") || !strings.Contains(s.Warning, "80 in A only are left out") {
		t.Errorf("subset: %+v", s)
	}
	for _, f := range rep.Pairs[0].Fields {
		if f.Test != Paired || f.Paired != 120 || f.LeftOutA != 80 || f.LeftOutB != 0 {
			t.Errorf("subset %s: %s on %d, left out %d %d", f.Field, f.Test, f.Paired, f.LeftOutA, f.LeftOutB)
		}
	}
	s = rep.Pairs[1].Sharing
	if s.Kind != Partial || s.Shared != 99 || s.Changed != 1 || s.OnlyA != 100 || s.OnlyB != 100 ||
		!strings.Contains(s.Warning, "101 in A only and 101 in B only") || !strings.Contains(s.Warning, "1 conversation has the same source and id") {
		t.Errorf("partial: %+v", s)
	}
	s = rep.Pairs[2].Sharing
	if s.Kind != Disjoint || s.Shared != 0 || s.Warning != "" || rep.Pairs[2].Fields[0].Agreement != nil {
		t.Errorf("disjoint: %+v", s)
	}
	for _, f := range rep.Pairs[2].Fields {
		if f.Test != Independent || f.Symmetry != nil {
			t.Errorf("disjoint %s: %s", f.Field, f.Test)
		}
		for _, v := range f.Values {
			z, p := analysis.TwoProportionTest(float64(v.CountA), float64(f.NA), float64(v.CountB), float64(f.NB))
			ci := analysis.DiffInterval(float64(v.CountA), float64(f.NA), float64(v.CountB), float64(f.NB), 0.95)
			if v.Test != TestTwoProportion || v.N != f.NA+f.NB || v.Pairs != nil || float64(v.Z) != z || float64(v.P) != p || v.CI != ci {
				t.Errorf("disjoint %s %s: %+v", f.Field, v.Value, v)
			}
		}
	}
	var buf bytes.Buffer
	if err := WriteText(&buf, rep, 5); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"WARNING: every conversation of B is in A", "disjoint: independent samples", "left out, without a pair: 80 of A, 0 of B"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, buf.String())
		}
	}
	buf.Reset()
	if err := WriteDiffsCSV(&buf, rep); err != nil || !strings.Contains(buf.String(), ",mcnemar,120,") && !strings.Contains(buf.String(), ",exact_binomial,120,") ||
		!strings.Contains(buf.String(), ",two_proportion_z,350,") {
		t.Errorf("differences.csv: %v\n%s", err, buf.String())
	}
	buf.Reset()
	if err := WriteFieldsCSV(&buf, rep); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 1+3*2 {
		t.Fatalf("fields.csv:\n%s", buf.String())
	}
	for _, want := range []string{",b_subset_of_a,120,ai_values,paired,120,80,0,", ",b_subset_of_a,120,response_type,paired,120,80,0,",
		",partial,99,ai_values,paired,99,101,101,", ",disjoint,0,response_type,independent,0,0,0,200,150,"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("fields.csv lacks %q:\n%s", want, buf.String())
		}
	}
	// The label field tested paired carries its symmetry test; the
	// subset's labels are the same in both runs: nothing to test.
	if !strings.Contains(lines[2], ",no_discordant_pairs,120,0,0,1") && !strings.Contains(lines[1], ",no_discordant_pairs,120,0,0,1") {
		t.Errorf("fields.csv symmetry:\n%s", buf.String())
	}
}
