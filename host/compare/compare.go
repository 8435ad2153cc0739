// Package compare compares runs: another model, another prompt, another
// extractor, another dataset. For each field the runs share it reports
//
//   - the distribution of values in each run on one shared set of names — the
//     values go through one analysis.Mapper (by default analysis.Normalized,
//     the normalised names; a taxonomy level plugs in the same way), so both
//     runs are counted on the same nodes;
//   - per value, the share of annotated conversations that have it in each
//     run, the difference with Newcombe's 95% interval and a test, corrected
//     over the values (Bonferroni, Holm or Benjamini–Hochberg, as in package
//     analysis): a pooled two-proportion z-test when the runs share no
//     conversation, paired tests on the shared conversations when they do
//     (see below);
//   - the Jensen–Shannon divergence of the two distributions of mentions (in
//     bits, 0 identical … 1 disjoint) and the Spearman rank correlation of
//     the counts of the top-N values (the union of each run's top N);
//   - where the runs share conversations (same source, id and content: the same
//     data under another prompt or model), agreement per conversation: the
//     Jaccard index of the two value sets (after normalisation; two empty
//     sets agree, J = 1) for item fields, and observed agreement with its
//     Wilson interval and Cohen's kappa for label fields (kappa is 1 when
//     agreement is perfect, even when both runs use one label only, where
//     the formula is 0/0); and the conversations that disagree most, listed
//     for reading.
//
// With more than two runs each is compared with the first.
//
// The privacy floor applies: a value is reported only when each run's count
// of it is zero or at least the floor's conversations (and users, where the
// data names users); the rest are counted as suppressed. Values under the
// floor still count in the divergence and correlation (aggregates), and are
// masked as "(rare value)" in the list of disagreeing conversations.
//
// Runs that share conversations are not independent samples. Conversations
// are matched by (source, id) and content hash, and a pair of runs is one of
// four kinds (Sharing.Kind): disjoint (no conversation in both: the values
// are tested as independent samples, by the pooled two-proportion z-test);
// the same conversations (a prompt or model A/B: paired tests); one a subset
// of the other (a warning that the runs are not independent, and paired
// tests on the shared conversations); or a partial overlap (paired tests on
// the shared part; the conversations in one run only are left out, since
// they have no pair and a test mixing them with the pairs would count the
// shared ones twice). Paired tests are McNemar's per value on the 2×2 table
// of shared conversations (value in both runs, in A only, in B only, in
// neither), with continuity correction as R's mcnemar.test by default, or
// its exact binomial version when fewer than Options.ExactBelow (25)
// conversations are discordant, where the χ² approximation is poor; the
// difference gets Newcombe's paired interval. A label field also gets
// Bowker's test of symmetry of its k×k table of labels (Symmetry). The same
// multiple-testing correction applies over the values in either case.
package compare

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"

	"gonum.org/v1/gonum/stat"

	"github.com/valuescope/valuescope/host/analysis"
)

// Options control a comparison.
type Options struct {
	Alpha      float64             // 0: 0.05
	Level      float64             // confidence level of intervals; 0: 0.95
	Correction analysis.Correction // "": bonferroni
	// Tests is the stated number of tests per field (0: the values compared).
	Tests int
	TopN  int // values ranked for the Spearman correlation; 0: 20
	List  int // disagreeing conversations listed per field; 0: 10, <0: none
	Floor analysis.Floor
	// Mapper puts both runs' values on one set of names; nil: normalised names.
	Mapper analysis.Mapper
	// Fields restricts the comparison to these fields (nil: all shared).
	Fields []string
	// NoContinuity tests paired values by McNemar's test without continuity
	// correction (R's mcnemar.test(correct = FALSE)); by default it is
	// corrected, as R's default is.
	NoContinuity bool
	// ExactBelow: a paired value with fewer discordant conversations
	// (b + c) than this takes the exact binomial test (R's binom.test)
	// instead of McNemar's χ². 0: 25; negative: never.
	ExactBelow int
}

func (o *Options) defaults() error {
	if o.Alpha == 0 {
		o.Alpha = 0.05
	}
	if o.Level == 0 {
		o.Level = 0.95
	}
	if !(o.Alpha > 0 && o.Alpha < 1) || !(o.Level > 0 && o.Level < 1) {
		return fmt.Errorf("alpha and level are between 0 and 1")
	}
	var err error
	if o.Correction, err = analysis.ParseCorrection(string(o.Correction)); err != nil {
		return err
	}
	if o.TopN == 0 {
		o.TopN = 20
	}
	if o.List == 0 {
		o.List = 10
	}
	if o.Mapper == nil {
		o.Mapper = analysis.Normalized{}
	}
	if o.ExactBelow == 0 {
		o.ExactBelow = defaultExactBelow
	}
	return nil
}

// Report is a comparison of runs.
type Report struct {
	Runs  []RunInfo `json:"runs"`
	Pairs []*Pair   `json:"pairs"`
	// Options as applied.
	Alpha      float64             `json:"alpha"`
	Level      float64             `json:"level"`
	Correction analysis.Correction `json:"correction"`
	TopN       int                 `json:"top_n"`
	Floor      analysis.Floor      `json:"floor"`
	// Paired tests as applied: McNemar's continuity correction, and the
	// discordant count under which the exact binomial test is used (0:
	// never).
	Continuity bool `json:"mcnemar_continuity_correction"`
	ExactBelow int  `json:"exact_below_discordant"`
}

// RunInfo names a run.
type RunInfo struct {
	Dir           string `json:"dir"`
	Conversations int    `json:"conversations"`
	Users         bool   `json:"users_known"`
}

// Pair compares run B with run A.
type Pair struct {
	A      string `json:"a"`
	B      string `json:"b"`
	Shared int    `json:"shared_conversations"`
	// Sharing is how the runs' conversations overlap, and what that means
	// for the tests.
	Sharing Sharing `json:"sharing"`
	// Fields only one run has.
	OnlyA  []string  `json:"only_in_a"`
	OnlyB  []string  `json:"only_in_b"`
	Fields []*Fields `json:"fields"`
}

// Kinds of Sharing.
const (
	Disjoint = "disjoint" // no conversation in both runs
	Same     = "same"     // the same conversations
	ASubset  = "a_subset_of_b"
	BSubset  = "b_subset_of_a"
	Partial  = "partial" // some shared, each has some of its own
)

// Sharing is how two runs' conversations overlap, matched by (source, id)
// and content hash.
type Sharing struct {
	Kind string `json:"kind"`
	// Conversations in both runs, and in one only.
	Shared int `json:"shared"`
	OnlyA  int `json:"only_in_a"`
	OnlyB  int `json:"only_in_b"`
	// Changed: conversations with the same source and id in both runs but
	// different content; they are not pairs (the runs read different text).
	Changed int `json:"changed_content"`
	// Warning, when not "", says why the runs are not independent samples
	// or what the paired tests leave out.
	Warning string `json:"warning,omitempty"`
}

// Fields compares one field of two runs.
type Fields struct {
	Field string `json:"field"`
	Label bool   `json:"label"`
	// Annotated conversations in each run (the denominators of the shares).
	NA int `json:"annotated_a"`
	NB int `json:"annotated_b"`
	// Test is how the values were tested: Independent (the runs share no
	// conversation: all annotated conversations of each run, the
	// two-proportion test) or Paired (on the Paired conversations shared
	// and annotated in both runs; LeftOutA and LeftOutB annotated
	// conversations of each run have no pair and are not in the tests).
	Test     string `json:"test"`
	Paired   int    `json:"paired_conversations"`
	LeftOutA int    `json:"left_out_a"`
	LeftOutB int    `json:"left_out_b"`
	// Values compared (the union of the values tested), and those reported.
	Compared    int             `json:"values_compared"`
	Tests       int             `json:"tests"`
	Significant int             `json:"significant"`
	Values      []ValueDiff     `json:"values"`
	Suppressed  Suppressed      `json:"suppressed"`
	JSD         analysis.Number `json:"jensen_shannon_bits"`
	Spearman    analysis.Number `json:"spearman_top_n"`
	SpearmanN   int             `json:"spearman_values"`
	Agreement   *Agreement      `json:"agreement,omitempty"`
	// Symmetry is Bowker's test of the paired label table (label fields
	// tested paired only).
	Symmetry *Symmetry `json:"symmetry,omitempty"`
}

// Suppressed counts the values the privacy floor kept out.
type Suppressed struct {
	Values      int `json:"values"`
	Significant int `json:"significant"`
}

// ValueDiff is one value's share in each run and their difference (B − A).
type ValueDiff struct {
	Value  string            `json:"value"`
	CountA int               `json:"count_a"`
	CountB int               `json:"count_b"`
	ShareA analysis.Number   `json:"share_a"`
	ShareB analysis.Number   `json:"share_b"`
	Diff   analysis.Number   `json:"diff"`
	CI     analysis.Interval `json:"ci"`
	Z      analysis.Number   `json:"z"`
	// Test is the test of this value (TestTwoProportion, TestMcNemar,
	// TestMcNemarPlain, TestExactBinomial, TestNoDiscordant); N the
	// conversations it is on (both runs' annotated ones when independent,
	// the pairs when paired); Statistic McNemar's χ² (NaN for the others:
	// the z-test's is Z); Pairs the paired 2×2 table.
	Test        string          `json:"test"`
	N           int             `json:"n"`
	Statistic   analysis.Number `json:"statistic"`
	Pairs       *PairCounts     `json:"pairs,omitempty"`
	P           analysis.Number `json:"p"`
	PAdjusted   analysis.Number `json:"p_adjusted"`
	Significant bool            `json:"significant"`
}

// PairCounts is a value's paired 2×2 table: shared conversations with the
// value in both runs, in A only, in B only, in neither.
type PairCounts struct {
	Both    int `json:"both"`
	AOnly   int `json:"a_only"`
	BOnly   int `json:"b_only"`
	Neither int `json:"neither"`
}

// Agreement is how the runs agree on the conversations they share.
type Agreement struct {
	// Conversations shared and annotated in both runs.
	Conversations int `json:"conversations"`
	// Identical: conversations given the same set (or label) by both.
	Identical int `json:"identical"`
	// Item fields: mean per-conversation Jaccard index.
	MeanJaccard analysis.Number `json:"mean_jaccard"`
	// Label fields: observed agreement (= Identical/Conversations) with its
	// Wilson interval, and Cohen's kappa.
	Observed   analysis.Number   `json:"observed"`
	ObservedCI analysis.Interval `json:"observed_ci"`
	Kappa      analysis.Number   `json:"kappa"`
	// The conversations that disagree most.
	// Not in Aggregate (compare.json, a run's report): they name conversations.
	Disagreements []Disagreement `json:"disagreements,omitempty"`
}

// Disagreement is one conversation the runs annotate differently.
type Disagreement struct {
	ID      string          `json:"conversation_id"`
	Source  string          `json:"source"`
	A       []string        `json:"a"`
	B       []string        `json:"b"`
	Jaccard analysis.Number `json:"jaccard"`
}

// Runs loads and compares run folders: each with the first.
func Runs(ctx context.Context, dirs []string, lo analysis.LoadOptions, o Options) (*Report, error) {
	if len(dirs) < 2 {
		return nil, fmt.Errorf("compare needs two runs or more")
	}
	var runs []*analysis.Run
	for _, d := range dirs {
		r, err := analysis.LoadRun(ctx, d, lo)
		if err != nil {
			return nil, err
		}
		runs = append(runs, r)
	}
	return Compare(runs, o)
}

// Compare compares loaded runs: each with the first.
func Compare(runs []*analysis.Run, o Options) (*Report, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	rep := &Report{Alpha: o.Alpha, Level: o.Level, Correction: o.Correction, TopN: o.TopN, Floor: o.Floor,
		Continuity: !o.NoContinuity, ExactBelow: max(0, o.ExactBelow)}
	for _, r := range runs {
		rep.Runs = append(rep.Runs, RunInfo{Dir: r.Dir, Conversations: len(r.Conversations), Users: r.Users()})
	}
	for _, b := range runs[1:] {
		p, err := comparePair(runs[0], b, o)
		if err != nil {
			return nil, err
		}
		rep.Pairs = append(rep.Pairs, p)
	}
	return rep, nil
}

func comparePair(a, b *analysis.Run, o Options) (*Pair, error) {
	p := &Pair{A: a.Dir, B: b.Dir, OnlyA: []string{}, OnlyB: []string{}}
	shared, sh := sharing(a, b)
	p.Shared, p.Sharing = len(shared), sh

	names := func(r *analysis.Run) []string {
		var out []string
		for _, f := range r.Fields {
			if !slices.Contains(out, f.Name) {
				out = append(out, f.Name)
			}
		}
		return out
	}
	na, nb := names(a), names(b)
	want := func(f string) bool { return o.Fields == nil || slices.Contains(o.Fields, f) }
	for _, f := range o.Fields {
		if !slices.Contains(na, f) && !slices.Contains(nb, f) {
			return nil, fmt.Errorf("no field %q in %s or %s (fields: %s)", f, a.Dir, b.Dir, strings.Join(na, ", "))
		}
	}
	for _, f := range na {
		if !want(f) {
			continue
		}
		if !slices.Contains(nb, f) {
			p.OnlyA = append(p.OnlyA, f)
			continue
		}
		fa, err := a.Field(f)
		if err != nil {
			return nil, err
		}
		fb, err := b.Field(f)
		if err != nil {
			return nil, err
		}
		fc, err := compareField(a, b, fa, fb, shared, o)
		if err != nil {
			return nil, err
		}
		p.Fields = append(p.Fields, fc)
	}
	for _, f := range nb {
		if want(f) && !slices.Contains(na, f) {
			p.OnlyB = append(p.OnlyB, f)
		}
	}
	return p, nil
}

// sets is a run's per-conversation value sets of one field on the shared
// names, and the distinct conversations and users per value.
type sets struct {
	vals      [][]string // per conversation, sorted, distinct; nil when not annotated
	annotated int
	count     map[string]int
	users     map[string]int
}

// valueSets reads the sets of the conversations i with keep[i] (nil: all).
func valueSets(r *analysis.Run, f *analysis.Field, m analysis.Mapper, keep []bool) sets {
	s := sets{vals: make([][]string, len(r.Conversations)), count: map[string]int{}, users: map[string]int{}}
	userSeen := map[string]map[string]bool{}
	for i := range r.Conversations {
		if !f.Done[i] || (keep != nil && !keep[i]) {
			continue
		}
		s.annotated++
		vs := []string{}
		for _, it := range f.Items[i] {
			v, ok := it.Value, true
			if !f.Label {
				v, ok = m.Node(f.Name, it.Value)
			}
			if ok {
				vs = append(vs, v)
			}
		}
		// Sorted, then repeats dropped: linear after the sort, where a
		// search of vs for each value was quadratic in the items.
		sort.Strings(vs)
		vs = slices.Compact(vs)
		s.vals[i] = vs
		u := r.Conversations[i].User
		for _, v := range vs {
			s.count[v]++
			if u != "" {
				if userSeen[v] == nil {
					userSeen[v] = map[string]bool{}
				}
				if !userSeen[v][u] {
					userSeen[v][u] = true
					s.users[v]++
				}
			}
		}
	}
	return s
}

func compareField(a, b *analysis.Run, fa, fb *analysis.Field, shared [][2]int, o Options) (*Fields, error) {
	sa, sb := valueSets(a, fa, o.Mapper, nil), valueSets(b, fb, o.Mapper, nil)
	fc := &Fields{Field: fa.Name, Label: fa.Label && fb.Label, NA: sa.annotated, NB: sb.annotated, Values: []ValueDiff{}, Test: Independent}
	union := unionOf(sa, sb)

	// Distributions of mentions: divergence and rank correlation.
	pa, pb := make([]float64, len(union)), make([]float64, len(union))
	var ta, tb float64
	for k, v := range union {
		pa[k], pb[k] = float64(sa.count[v]), float64(sb.count[v])
		ta += pa[k]
		tb += pb[k]
	}
	fc.JSD = analysis.Number(math.NaN())
	if ta > 0 && tb > 0 {
		qa, qb := make([]float64, len(union)), make([]float64, len(union))
		for k := range union {
			qa[k], qb[k] = pa[k]/ta, pb[k]/tb
		}
		fc.JSD = analysis.Number(JensenShannonBits(qa, qb))
	}
	top := topUnion(union, sa.count, sb.count, o.TopN)
	fc.SpearmanN = len(top)
	xa, xb := make([]float64, len(top)), make([]float64, len(top))
	for k, v := range top {
		xa[k], xb[k] = float64(sa.count[v]), float64(sb.count[v])
	}
	fc.Spearman = analysis.Number(Spearman(xa, xb))

	// Per-value differences, corrected over the values.
	floorOK := func(s sets, users bool, v string) bool {
		n := s.count[v]
		if n == 0 {
			return true
		}
		return o.Floor.Pass(float64(n), float64(s.users[v]), users)
	}
	// Shared conversations make the runs paired samples: the values are
	// tested on the pairs annotated in both runs only (the sets testA, testB;
	// the full sets when the runs are independent).
	testA, testB := sa, sb
	var diffs []ValueDiff
	var cellUsers map[string][3]int // paired: users of each cell with the value
	if len(shared) == 0 {
		diffs = independentDiffs(union, sa, sb, o)
	} else {
		keepA, keepB := make([]bool, len(a.Conversations)), make([]bool, len(b.Conversations))
		for _, p := range shared {
			if fa.Done[p[0]] && fb.Done[p[1]] {
				keepA[p[0]], keepB[p[1]] = true, true
			}
		}
		testA, testB = valueSets(a, fa, o.Mapper, keepA), valueSets(b, fb, o.Mapper, keepB)
		fc.Test, fc.Paired = Paired, testA.annotated
		fc.LeftOutA, fc.LeftOutB = sa.annotated-testA.annotated, sb.annotated-testB.annotated
		diffs = pairedDiffs(shared, testA, testB, o)
		// Users by the run that names them (A's when both do).
		switch {
		case a.Users():
			cellUsers = pairUsers(shared, testA, testB, func(p [2]int) string { return a.Conversations[p[0]].User })
		case b.Users():
			cellUsers = pairUsers(shared, testA, testB, func(p [2]int) string { return b.Conversations[p[1]].User })
		}
		if fc.Label {
			fc.Symmetry = symmetry(shared, testA, testB, o)
		}
	}
	fc.Compared = len(diffs)
	ps := make([]float64, len(diffs))
	for k := range diffs {
		ps[k] = float64(diffs[k].P)
	}
	adj, err := analysis.Adjust(ps, o.Correction, o.Tests)
	if err != nil {
		return nil, fmt.Errorf("field %s: %w", fa.Name, err)
	}
	fc.Tests = o.Tests
	if fc.Tests == 0 {
		fc.Tests = len(diffs)
	}
	for k := range diffs {
		d := &diffs[k]
		d.PAdjusted = analysis.Number(adj[k])
		d.Significant = adj[k] <= o.Alpha
		// The floor holds on each run's counts and, when paired, on the
		// counts of the tested conversations too.
		if !floorOK(sa, a.Users(), d.Value) || !floorOK(sb, b.Users(), d.Value) ||
			!floorOK(testA, a.Users(), d.Value) || !floorOK(testB, b.Users(), d.Value) ||
			(d.Pairs != nil && !pairsPass(*d.Pairs, cellUsers[d.Value], a.Users() || b.Users(), o.Floor)) {
			fc.Suppressed.Values++
			if d.Significant {
				fc.Suppressed.Significant++
			}
			continue
		}
		if d.Significant {
			fc.Significant++
		}
		fc.Values = append(fc.Values, *d)
	}
	// Most different first: significant, then by |diff|, then name.
	slices.SortFunc(fc.Values, func(x, y ValueDiff) int {
		if x.Significant != y.Significant {
			if x.Significant {
				return -1
			}
			return 1
		}
		if c := cmp.Compare(math.Abs(float64(y.Diff)), math.Abs(float64(x.Diff))); c != 0 {
			return c
		}
		return strings.Compare(x.Value, y.Value)
	})

	if len(shared) > 0 {
		mask := func(s sets, users bool, vs []string) []string {
			out := make([]string, len(vs))
			for k, v := range vs {
				out[k] = v
				if !floorOK(s, users, v) {
					out[k] = "(rare value)"
				}
			}
			return out
		}
		fc.Agreement = agreement(a, shared, sa, sb, fc.Label, o.Level, o.List, func(vs []string) []string { return mask(sa, a.Users(), vs) },
			func(vs []string) []string { return mask(sb, b.Users(), vs) })
	}
	return fc, nil
}

// unionOf is the sorted union of the values of two runs' sets.
func unionOf(sa, sb sets) []string {
	var union []string
	for v := range sa.count {
		union = append(union, v)
	}
	for v := range sb.count {
		if _, ok := sa.count[v]; !ok {
			union = append(union, v)
		}
	}
	sort.Strings(union)
	return union
}

// independentDiffs tests each value as a difference of two independent
// proportions: the pooled two-proportion z-test, Newcombe's interval.
func independentDiffs(union []string, sa, sb sets, o Options) []ValueDiff {
	diffs := make([]ValueDiff, len(union))
	for k, v := range union {
		x1, x2 := float64(sa.count[v]), float64(sb.count[v])
		n1, n2 := float64(sa.annotated), float64(sb.annotated)
		z, p := analysis.TwoProportionTest(x1, n1, x2, n2)
		diffs[k] = ValueDiff{Value: v, CountA: sa.count[v], CountB: sb.count[v],
			ShareA: analysis.Number(x1 / n1), ShareB: analysis.Number(x2 / n2), Diff: analysis.Number(x2/n2 - x1/n1),
			CI: analysis.DiffInterval(x1, n1, x2, n2, o.Level), Z: analysis.Number(z), P: analysis.Number(p),
			Test: TestTwoProportion, N: sa.annotated + sb.annotated, Statistic: analysis.Number(nan)}
	}
	return diffs
}

// pairedDiffs tests each value of the paired sets ta, tb (the shared
// conversations annotated in both runs) on its paired 2×2 table.
func pairedDiffs(shared [][2]int, ta, tb sets, o Options) []ValueDiff {
	tables, n := pairCounts(shared, ta, tb)
	union := unionOf(ta, tb)
	diffs := make([]ValueDiff, len(union))
	for k, v := range union {
		pc := *tables[v]
		test, stat, p := pairedTest(pc, o)
		xa, xb, fn := float64(pc.Both+pc.AOnly), float64(pc.Both+pc.BOnly), float64(n)
		diffs[k] = ValueDiff{Value: v, CountA: pc.Both + pc.AOnly, CountB: pc.Both + pc.BOnly,
			ShareA: analysis.Number(xa / fn), ShareB: analysis.Number(xb / fn), Diff: analysis.Number((xb - xa) / fn),
			CI: PairedDiffInterval(float64(pc.Both), float64(pc.AOnly), float64(pc.BOnly), fn, o.Level),
			Z:  analysis.Number(nan), P: analysis.Number(p), Test: test, N: n, Statistic: analysis.Number(stat), Pairs: &pc}
	}
	return diffs
}

// topUnion is the union of each run's top n values by count (ties by name).
func topUnion(union []string, ca, cb map[string]int, n int) []string {
	pick := func(c map[string]int) []string {
		vs := slices.Clone(union)
		vs = slices.DeleteFunc(vs, func(v string) bool { return c[v] == 0 })
		slices.SortFunc(vs, func(x, y string) int {
			if d := cmp.Compare(c[y], c[x]); d != 0 {
				return d
			}
			return strings.Compare(x, y)
		})
		return vs[:min(n, len(vs))]
	}
	out := pick(ca)
	for _, v := range pick(cb) {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

func agreement(a *analysis.Run, shared [][2]int, sa, sb sets, label bool, level float64, list int, maskA, maskB func([]string) []string) *Agreement {
	ag := &Agreement{Disagreements: []Disagreement{}}
	var sumJ float64
	type dis struct {
		d     Disagreement
		union int
	}
	var ds []dis
	var la, lb []string
	for _, p := range shared {
		va, vb := sa.vals[p[0]], sb.vals[p[1]]
		if va == nil || vb == nil {
			continue
		}
		ag.Conversations++
		j := Jaccard(va, vb)
		sumJ += j
		if j == 1 {
			ag.Identical++
		} else {
			c := a.Conversations[p[0]]
			ds = append(ds, dis{Disagreement{ID: c.ID, Source: c.Source, A: maskA(va), B: maskB(vb), Jaccard: analysis.Number(j)}, len(va) + len(vb)})
		}
		if label {
			la, lb = append(la, labelOf(va)), append(lb, labelOf(vb))
		}
	}
	ag.MeanJaccard, ag.Observed, ag.Kappa = analysis.Number(math.NaN()), analysis.Number(math.NaN()), analysis.Number(math.NaN())
	ag.ObservedCI = analysis.Wilson(0, 0, level)
	if ag.Conversations > 0 {
		ag.MeanJaccard = analysis.Number(sumJ / float64(ag.Conversations))
		ag.Observed = analysis.Number(float64(ag.Identical) / float64(ag.Conversations))
		ag.ObservedCI = analysis.Wilson(float64(ag.Identical), float64(ag.Conversations), level)
	}
	if label {
		ag.Kappa = analysis.Number(CohenKappa(la, lb))
	}
	slices.SortStableFunc(ds, func(x, y dis) int {
		if c := cmp.Compare(x.d.Jaccard, y.d.Jaccard); c != 0 {
			return c
		}
		if c := cmp.Compare(y.union, x.union); c != 0 {
			return c
		}
		return strings.Compare(x.d.ID, y.d.ID)
	})
	for _, d := range ds[:max(0, min(list, len(ds)))] {
		ag.Disagreements = append(ag.Disagreements, d.d)
	}
	return ag
}

func labelOf(vs []string) string {
	if len(vs) == 0 {
		return "(none)"
	}
	return strings.Join(vs, " | ")
}

// Jaccard is |A ∩ B| / |A ∪ B| of two sorted sets of distinct strings; two
// empty sets agree (1).
func Jaccard(a, b []string) float64 {
	if len(a) == 0 && len(b) == 0 {
		return 1
	}
	i, j, inter := 0, 0, 0
	for i < len(a) && j < len(b) {
		switch strings.Compare(a[i], b[j]) {
		case 0:
			inter++
			i++
			j++
		case -1:
			i++
		default:
			j++
		}
	}
	return float64(inter) / float64(len(a)+len(b)-inter)
}

// CohenKappa is Cohen's kappa of two raters' labels of the same items:
// (p_o − p_e) / (1 − p_e). When p_e is 1 (both raters give every item one
// and the same label) it is 1: agreement is perfect. NaN for no items.
func CohenKappa(a, b []string) float64 {
	n := len(a)
	if n == 0 || n != len(b) {
		return math.NaN()
	}
	ca, cb := map[string]float64{}, map[string]float64{}
	agree := 0.0
	for k := range a {
		ca[a[k]]++
		cb[b[k]]++
		if a[k] == b[k] {
			agree++
		}
	}
	po := agree / float64(n)
	pe := 0.0
	for l, x := range ca {
		pe += x / float64(n) * cb[l] / float64(n)
	}
	if pe == 1 {
		return 1
	}
	return (po - pe) / (1 - pe)
}

// JensenShannonBits is the Jensen–Shannon divergence of two probability
// distributions, in bits (between 0 and 1).
func JensenShannonBits(p, q []float64) float64 {
	return stat.JensenShannon(p, q) / math.Ln2
}

// Spearman is the Spearman rank correlation of x and y: the Pearson
// correlation of their ranks, ties given their average rank. NaN for fewer
// than two pairs or a constant vector.
func Spearman(x, y []float64) float64 {
	if len(x) < 2 || len(x) != len(y) {
		return math.NaN()
	}
	return stat.Correlation(ranks(x), ranks(y), nil)
}

// ranks are 1-based ranks, ties averaged.
func ranks(x []float64) []float64 {
	idx := make([]int, len(x))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(i, j int) int { return cmp.Compare(x[i], x[j]) })
	r := make([]float64, len(x))
	for i := 0; i < len(idx); {
		j := i
		for j+1 < len(idx) && x[idx[j+1]] == x[idx[i]] {
			j++
		}
		avg := float64(i+j)/2 + 1
		for k := i; k <= j; k++ {
			r[idx[k]] = avg
		}
		i = j + 1
	}
	return r
}
