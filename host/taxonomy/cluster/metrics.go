package cluster

import (
	"fmt"
	"math"
)

// Agreement is how far two labellings of the same items agree.
type Agreement struct {
	N int `json:"n"`
	// ClustersA and ClustersB are the numbers of distinct labels.
	ClustersA int `json:"clusters_a"`
	ClustersB int `json:"clusters_b"`
	// AMI is the adjusted mutual information (arithmetic normalisation, as
	// scikit-learn's default): 0 for chance, 1 for identical partitions.
	AMI float64 `json:"ami"`
	// ARI is the adjusted Rand index: 0 for chance, 1 for identical partitions.
	ARI float64 `json:"ari"`
	// NMI is the normalised mutual information (arithmetic). It is not
	// corrected for chance: many small clusters score high even at random.
	NMI float64 `json:"nmi"`
}

// Compare measures the agreement of two labellings of the same items.
func Compare[A, B comparable](a []A, b []B) (Agreement, error) {
	if len(a) != len(b) {
		return Agreement{}, fmt.Errorf("labellings of %d and %d items", len(a), len(b))
	}
	t := contingency(a, b)
	return Agreement{N: len(a), ClustersA: len(t.rows), ClustersB: len(t.cols),
		AMI: t.ami(), ARI: t.ari(), NMI: t.nmi()}, nil
}

type table struct {
	n          int
	rows, cols []int          // marginal counts
	cells      map[[2]int]int // non-zero cells
}

func contingency[A, B comparable](a []A, b []B) table {
	ra, rb := map[A]int{}, map[B]int{}
	t := table{n: len(a), cells: map[[2]int]int{}}
	for i := range a {
		x, ok := ra[a[i]]
		if !ok {
			x = len(ra)
			ra[a[i]] = x
			t.rows = append(t.rows, 0)
		}
		y, ok := rb[b[i]]
		if !ok {
			y = len(rb)
			rb[b[i]] = y
			t.cols = append(t.cols, 0)
		}
		t.rows[x]++
		t.cols[y]++
		t.cells[[2]int{x, y}]++
	}
	return t
}

func entropy(counts []int, n int) float64 {
	h := 0.0
	for _, c := range counts {
		if c > 0 {
			p := float64(c) / float64(n)
			h -= p * math.Log(p)
		}
	}
	return h
}

func (t table) mi() float64 {
	n := float64(t.n)
	mi := 0.0
	for k, c := range t.cells {
		nij := float64(c)
		mi += nij / n * (math.Log(nij*n) - math.Log(float64(t.rows[k[0]])*float64(t.cols[k[1]])))
	}
	return max(mi, 0)
}

func (t table) nmi() float64 {
	if len(t.rows) == len(t.cols) && len(t.rows) <= 1 {
		return 1
	}
	hA, hB := entropy(t.rows, t.n), entropy(t.cols, t.n)
	den := (hA + hB) / 2
	if den == 0 {
		return 1
	}
	return t.mi() / den
}

func (t table) ami() float64 {
	// scikit-learn's special cases: no split at all is a perfect match
	if len(t.rows) == len(t.cols) && len(t.rows) <= 1 {
		return 1
	}
	mi := t.mi()
	emi := expectedMI(t.rows, t.cols, t.n)
	hA, hB := entropy(t.rows, t.n), entropy(t.cols, t.n)
	den := (hA+hB)/2 - emi
	// as scikit-learn: keep the sign of a tiny denominator
	eps := math.Nextafter(1, 2) - 1
	if den < 0 {
		den = math.Min(den, -eps)
	} else {
		den = math.Max(den, eps)
	}
	return (mi - emi) / den
}

// expectedMI is the mutual information expected between random labellings
// with the same cluster sizes (Vinh, Epps & Bailey 2010), computed as
// scikit-learn's expected_mutual_information.
func expectedMI(a, b []int, n int) float64 {
	N := float64(n)
	maxab := 0
	for _, v := range a {
		maxab = max(maxab, v)
	}
	for _, v := range b {
		maxab = max(maxab, v)
	}
	lg := func(x float64) float64 { v, _ := math.Lgamma(x); return v }
	glnN := lg(N + 1)
	glnNij := make([]float64, maxab+1)
	logNnij := make([]float64, maxab+1)
	for k := 1; k <= maxab; k++ {
		glnNij[k] = lg(float64(k) + 1)
		logNnij[k] = math.Log(N) + math.Log(float64(k))
	}
	emi := 0.0
	for _, ai := range a {
		fa := float64(ai)
		glnA, glnNA, logA := lg(fa+1), lg(N-fa+1), math.Log(fa)
		for _, bj := range b {
			fb := float64(bj)
			glnB, glnNB, logB := lg(fb+1), lg(N-fb+1), math.Log(fb)
			start := max(1, ai-n+bj)
			end := min(ai, bj)
			for nij := start; nij <= end; nij++ {
				fn := float64(nij)
				term2 := logNnij[nij] - logA - logB
				gln := glnA + glnB + glnNA + glnNB - glnN - glnNij[nij] -
					lg(fa-fn+1) - lg(fb-fn+1) - lg(N-fa-fb+fn+1)
				emi += fn / N * term2 * math.Exp(gln)
			}
		}
	}
	return emi
}

func comb2(x int) float64 { return float64(x) * float64(x-1) / 2 }

func (t table) ari() float64 {
	if len(t.rows) == len(t.cols) && (len(t.rows) == 1 || len(t.rows) == t.n) || t.n == 0 {
		return 1
	}
	sumCells, sumA, sumB := 0.0, 0.0, 0.0
	for _, c := range t.cells {
		sumCells += comb2(c)
	}
	for _, c := range t.rows {
		sumA += comb2(c)
	}
	for _, c := range t.cols {
		sumB += comb2(c)
	}
	total := comb2(t.n)
	expected := sumA * sumB / total
	maxIdx := (sumA + sumB) / 2
	if maxIdx == expected {
		return 1
	}
	return (sumCells - expected) / (maxIdx - expected)
}
