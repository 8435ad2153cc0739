package report

import "testing"

// One value under the floor would be Mentions less the values listed: the
// least frequent passing value is withheld with it; two under the floor
// need no more.
func TestDistributionSecondWithheld(t *testing.T) {
	pass := func(n, _ int) bool { return n >= 5 }
	for _, c := range []struct {
		counts map[string]int
		listed []string
	}{
		{map[string]int{"a": 30, "b": 20, "c": 9, "d": 2}, []string{"a", "b"}},
		{map[string]int{"a": 30, "b": 20, "c": 2, "d": 1}, []string{"a", "b"}},
		{map[string]int{"a": 30, "b": 20}, []string{"a", "b"}},
	} {
		cn := newCounter()
		total := 0
		for v, n := range c.counts {
			for range n {
				cn.add(v, "")
			}
			total += n
		}
		var d Distribution
		cn.distribution(&d, pass, 0)
		var got []string
		listed := 0
		for _, v := range d.Values {
			got = append(got, v.Value)
			listed += v.Count
		}
		if len(got) != len(c.listed) || got[0] != c.listed[0] || got[len(got)-1] != c.listed[len(c.listed)-1] {
			t.Errorf("%v: listed %v, want %v", c.counts, got, c.listed)
		}
		if hidden := total - listed; hidden != d.Suppressed.Count || (d.Suppressed.Values == 1) {
			t.Errorf("%v: suppressed %+v, hidden %d", c.counts, d.Suppressed, hidden)
		}
	}
}
