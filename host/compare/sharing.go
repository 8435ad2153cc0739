package compare

import (
	"fmt"

	"github.com/valuescope/valuescope/host/analysis"
)

// sharing matches the conversations of runs a and b by (source, id) and
// content hash: the pairs of indices (into a's and b's conversations) of
// the conversations in both, in a's order, and how the runs overlap. A
// conversation a run holds twice counts once (its first).
func sharing(a, b *analysis.Run) ([][2]int, Sharing) {
	type key struct{ source, id string }
	inB := map[key]int{}
	for j, c := range b.Conversations {
		k := key{c.Source, c.ID}
		if _, dup := inB[k]; !dup {
			inB[k] = j
		}
	}
	var shared [][2]int
	var sh Sharing
	seenA := map[key]bool{}
	for i, c := range a.Conversations {
		k := key{c.Source, c.ID}
		if seenA[k] {
			continue
		}
		seenA[k] = true
		j, ok := inB[k]
		switch {
		case !ok:
			sh.OnlyA++
		case b.Conversations[j].ContentSHA != c.ContentSHA:
			sh.Changed++
		default:
			shared = append(shared, [2]int{i, j})
		}
	}
	sh.Shared = len(shared)
	sh.OnlyB = len(inB) - sh.Shared - sh.Changed
	// Changed conversations are in each run only, as far as pairing goes.
	ownA, ownB := sh.OnlyA+sh.Changed, sh.OnlyB+sh.Changed
	switch {
	case sh.Shared == 0:
		sh.Kind = Disjoint
	case ownA == 0 && ownB == 0:
		sh.Kind = Same
	case ownA == 0:
		sh.Kind = ASubset
		sh.Warning = fmt.Sprintf("every conversation of A is in B: the runs are not independent samples; "+
			"values are tested paired on the %d shared conversations, and the %d in B only are left out", sh.Shared, ownB)
	case ownB == 0:
		sh.Kind = BSubset
		sh.Warning = fmt.Sprintf("every conversation of B is in A: the runs are not independent samples; "+
			"values are tested paired on the %d shared conversations, and the %d in A only are left out", sh.Shared, ownA)
	default:
		sh.Kind = Partial
		sh.Warning = fmt.Sprintf("the runs share %d conversations, so they are not independent samples; "+
			"values are tested paired on those, and the %d in A only and %d in B only are left out "+
			"(they have no pair, and a test mixing them with the pairs would count the shared conversations twice)",
			sh.Shared, ownA, ownB)
	}
	if sh.Changed > 0 {
		if sh.Warning != "" {
			sh.Warning += "; "
		}
		verb := "conversations have"
		if sh.Changed == 1 {
			verb = "conversation has"
		}
		sh.Warning += fmt.Sprintf("%d %s the same source and id in both runs but different content, "+
			"and are not paired", sh.Changed, verb)
	}
	return shared, sh
}

// pairedTest tests one value's paired 2×2 table by the rule of o: no
// discordant conversation, nothing to test (p = 1); fewer than o.ExactBelow,
// the exact binomial test; else McNemar's χ².
func pairedTest(pc PairCounts, o Options) (test string, stat, p float64) {
	d := pc.AOnly + pc.BOnly
	switch {
	case d == 0:
		return TestNoDiscordant, 0, 1
	case d < o.ExactBelow:
		return TestExactBinomial, nan, ExactMcNemar(pc.AOnly, pc.BOnly)
	}
	stat, p = McNemar(float64(pc.AOnly), float64(pc.BOnly), !o.NoContinuity)
	if o.NoContinuity {
		return TestMcNemarPlain, stat, p
	}
	return TestMcNemar, stat, p
}

// The cells of a value's paired table that eachCell visits.
const (
	cellBoth = iota
	cellAOnly
	cellBOnly
)

// eachCell calls visit for each pair (both runs' value sets, nil when not
// annotated: such pairs are skipped) and each value either run gave it,
// with the cell of the value's paired table the pair falls in. It returns
// the number of pairs visited.
func eachCell(pairs [][2]int, sa, sb sets, visit func(p [2]int, v string, cell int)) int {
	n := 0
	for _, p := range pairs {
		va, vb := sa.vals[p[0]], sb.vals[p[1]]
		if va == nil || vb == nil {
			continue
		}
		n++
		// Both sorted and distinct: one merge.
		i, j := 0, 0
		for i < len(va) || j < len(vb) {
			switch {
			case j == len(vb) || (i < len(va) && va[i] < vb[j]):
				visit(p, va[i], cellAOnly)
				i++
			case i == len(va) || vb[j] < va[i]:
				visit(p, vb[j], cellBOnly)
				j++
			default:
				visit(p, va[i], cellBoth)
				i++
				j++
			}
		}
	}
	return n
}

// pairCounts counts, per value, the paired 2×2 table over the pairs. It
// returns the tables and the number of pairs counted.
func pairCounts(pairs [][2]int, sa, sb sets) (map[string]*PairCounts, int) {
	out := map[string]*PairCounts{}
	n := eachCell(pairs, sa, sb, func(_ [2]int, v string, cell int) {
		pc := out[v]
		if pc == nil {
			pc = &PairCounts{}
			out[v] = pc
		}
		switch cell {
		case cellBoth:
			pc.Both++
		case cellAOnly:
			pc.AOnly++
		case cellBOnly:
			pc.BOnly++
		}
	})
	for _, pc := range out {
		pc.Neither = n - pc.Both - pc.AOnly - pc.BOnly
	}
	return out, n
}

// pairUsers counts, per value, the distinct users of each cell with the
// value (in both runs, in A only, in B only), by user(pair): the user a run
// names for the pair's conversation (the same conversation in both).
func pairUsers(pairs [][2]int, sa, sb sets, user func(p [2]int) string) map[string][3]int {
	seen := map[string]*[3]map[string]bool{}
	eachCell(pairs, sa, sb, func(p [2]int, v string, cell int) {
		u := user(p)
		if u == "" {
			return
		}
		s := seen[v]
		if s == nil {
			s = &[3]map[string]bool{}
			seen[v] = s
		}
		if s[cell] == nil {
			s[cell] = map[string]bool{}
		}
		s[cell][u] = true
	})
	out := make(map[string][3]int, len(seen))
	for v, s := range seen {
		out[v] = [3]int{len(s[0]), len(s[1]), len(s[2])}
	}
	return out
}

// symmetry is Bowker's test of a label field's paired k×k table.
func symmetry(pairs [][2]int, sa, sb sets, o Options) *Symmetry {
	idx := map[string]int{}
	var la, lb []int
	of := func(vs []string) int {
		l := labelOf(vs)
		k, ok := idx[l]
		if !ok {
			k = len(idx)
			idx[l] = k
		}
		return k
	}
	for _, p := range pairs {
		va, vb := sa.vals[p[0]], sb.vals[p[1]]
		if va == nil || vb == nil {
			continue
		}
		la, lb = append(la, of(va)), append(lb, of(vb))
	}
	k := len(idx)
	s := &Symmetry{Test: TestNoDiscordant, Conversations: len(la), Labels: k, P: 1}
	if k < 2 {
		return s
	}
	x := make([][]int, k)
	for i := range x {
		x[i] = make([]int, k)
	}
	for n := range la {
		x[la[n]][lb[n]]++
	}
	stat, df, p, dropped := Bowker(x, !o.NoContinuity)
	s.Statistic, s.DF, s.P, s.Dropped = analysis.Number(stat), df, analysis.Number(p), dropped
	switch {
	case df == 0:
		s.Test = TestNoDiscordant
	case k > 2:
		s.Test = TestBowker
	case o.NoContinuity:
		s.Test = TestMcNemarPlain
	default:
		s.Test = TestMcNemar
	}
	return s
}
