package compare

import (
	"path/filepath"
	"slices"

	"github.com/valuescope/valuescope/host/analysis"
)

// Outputs of a comparison that may be published: compare.json (without
// the conversations, see Aggregate), differences.csv and fields.csv hold
// only counts that respect the privacy floor. disagreements.csv names
// conversations and what each run found in them: it is private, like a run's
// annotations.
var (
	// ShareableFiles are the files WriteFiles writes that may be published.
	ShareableFiles = []string{"compare.json", "differences.csv", "fields.csv"}
	// PrivateFiles are the others.
	PrivateFiles = []string{"disagreements.csv"}
)

// Aggregate is the report without what names conversations: each field's
// list of disagreeing conversations is dropped (their number stays, as
// Agreement.Conversations − Agreement.Identical), and the runs are named by
// their folders' base names. It is what compare.json and a run's report hold.
func (r *Report) Aggregate() *Report {
	out := *r
	// The runs by their folders' names: their paths are this machine's.
	out.Runs = slices.Clone(r.Runs)
	for i := range out.Runs {
		out.Runs[i].Dir = filepath.Base(out.Runs[i].Dir)
	}
	out.Pairs = make([]*Pair, len(r.Pairs))
	for i, p := range r.Pairs {
		q := *p
		q.A, q.B = filepath.Base(p.A), filepath.Base(p.B)
		q.Fields = make([]*Fields, len(p.Fields))
		for j, f := range p.Fields {
			g := *f
			if f.Agreement != nil {
				a := *f.Agreement
				a.Disagreements = nil
				g.Agreement = &a
			}
			q.Fields[j] = &g
		}
		out.Pairs[i] = &q
	}
	return &out
}

// pairsPass reports whether a value's paired 2×2 table may be published:
// each cell is zero or rests on at least the floor's conversations, and its
// three cells with the value (in both, in A only, in B only) on at least its
// users where users are known (users: distinct users of those cells). A
// table that does not pass would give away a small count — that two
// conversations had the value in run A only, say — through its cells, the
// test and the difference.
func pairsPass(pc PairCounts, users [3]int, known bool, f analysis.Floor) bool {
	for k, n := range []int{pc.Both, pc.AOnly, pc.BOnly, pc.Neither} {
		if n == 0 {
			continue
		}
		u := 0.0
		if k < 3 {
			u = float64(users[k])
		}
		if !f.Pass(float64(n), u, known && k < 3) {
			return false
		}
	}
	return true
}
