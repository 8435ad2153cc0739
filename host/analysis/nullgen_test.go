package analysis

import (
	"math"
	"math/rand/v2"
	"sort"
	"strconv"
	"testing"
)

// nullConfig is a null table's shape: conversations, each with one value
// drawn from Zipf frequencies over Values (exponent S) and, independently,
// one context drawn from mildly unequal frequencies over Contexts
// (exponent 0.5), so value and context are independent by construction and
// the margins look like a real run's: a few frequent values, a long tail
// seen in one or two conversations.
type nullConfig struct {
	Values, Contexts, Conversations int
	S                               float64
	// Shares, when set, replaces the Zipf draw: value i is in a share
	// Shares[i] of the conversations (the paper's values_frequencies.csv),
	// round(Conversations · Shares[i]) of them, each with its own
	// independent context; Values is then len(Shares).
	Shares []float64
}

// cumulative returns the cumulative weights 1/k^s, k = 1..n.
func cumulative(n int, s float64) []float64 {
	c := make([]float64, n)
	sum := 0.0
	for k := range c {
		sum += math.Pow(float64(k+1), -s)
		c[k] = sum
	}
	return c
}

func draw(rng *rand.Rand, cum []float64) int {
	u := rng.Float64() * cum[len(cum)-1]
	return min(sort.SearchFloat64s(cum, u), len(cum)-1)
}

// nullTable draws one table of cfg: rows are values, columns contexts.
func nullTable(tb testing.TB, rng *rand.Rand, cfg nullConfig) *Table {
	tb.Helper()
	if cfg.Shares != nil {
		cfg.Values = len(cfg.Shares)
	}
	vc, cc := cumulative(cfg.Values, cfg.S), cumulative(cfg.Contexts, 0.5)
	rows := make([]string, cfg.Values)
	for i := range rows {
		rows[i] = "v" + strconv.Itoa(i)
	}
	cols := make([]string, cfg.Contexts)
	for j := range cols {
		cols[j] = "c" + strconv.Itoa(j)
	}
	counts := map[[2]int32]float64{}
	if cfg.Shares != nil {
		for i, s := range cfg.Shares {
			for range int(math.Round(float64(cfg.Conversations) * s)) {
				counts[[2]int32{int32(i), int32(draw(rng, cc))}]++
			}
		}
	} else {
		for range cfg.Conversations {
			counts[[2]int32{int32(draw(rng, vc)), int32(draw(rng, cc))}]++
		}
	}
	cells := make([]Cell, 0, len(counts))
	for k, v := range counts {
		cells = append(cells, Cell{Row: k[0], Col: k[1], Count: v, Users: -1})
	}
	t, err := NewTable(rows, cols, cells)
	if err != nil {
		tb.Fatal(err)
	}
	return t
}
