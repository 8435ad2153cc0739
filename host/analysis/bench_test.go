package analysis

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"strconv"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// zipfTable draws obs (value, context) observations with Zipf-distributed
// values and contexts — the shape of real value counts: a few very common
// values, a long tail — into a sparse rows x cols table.
func zipfTable(rows, cols, obs int, seed uint64) *Table {
	zr := rand.NewZipf(rand.New(rand.NewPCG(seed, 2)), 1.1, 1, uint64(rows-1))
	zc := rand.NewZipf(rand.New(rand.NewPCG(seed, 3)), 1.05, 1, uint64(cols-1))
	cells := make([]Cell, 0, obs)
	for k := 0; k < obs; k++ {
		// Shuffle ranks to labels so that rows are not sorted by size.
		i := int32((zr.Uint64() * 2654435761) % uint64(rows))
		j := int32(zc.Uint64())
		cells = append(cells, Cell{Row: i, Col: j, Count: 1, Users: -1})
	}
	rl, cl := make([]string, rows), make([]string, cols)
	for i := range rl {
		rl[i] = "v" + strconv.Itoa(i)
	}
	for j := range cl {
		cl[j] = "c" + strconv.Itoa(j)
	}
	t, err := NewTable(rl, cl, cells)
	if err != nil {
		panic(err)
	}
	return t
}

// BenchmarkResiduals: the residual analysis (margins, residuals, chi-square,
// every family's correction, the top associations) of sparse Zipf tables,
// against a dense baseline (every cell's residual in a gonum matrix, as R
// computes stdres) on the size where dense fits. Reports the non-zero cells
// and the bytes allocated per non-zero cell: memory follows the non-zero
// cells, not rows x cols (a dense 100,000 x 1,000 float64 matrix is 800 MB).
//
//	go test -run XXX -bench Residuals -benchtime 3x ./host/analysis/
func BenchmarkResiduals(b *testing.B) {
	for _, c := range []struct {
		rows, cols, obs int
		corr            Correction
	}{
		{10_000, 100, 300_000, Bonferroni},
		{100_000, 1_000, 3_000_000, Bonferroni},
		{100_000, 1_000, 3_000_000, BH},
		{100_000, 1_000, 3_000_000, Holm},
	} {
		t := zipfTable(c.rows, c.cols, c.obs, 1)
		name := fmt.Sprintf("sparse-%dx%d-%s", c.rows, c.cols, c.corr)
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			var ms0, ms1 runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&ms0)
			for b.Loop() {
				res, err := Analyze(t, Options{Correction: c.corr, Floor: Floor{MinConversations: 5}})
				if err != nil {
					b.Fatal(err)
				}
				_ = res
			}
			runtime.ReadMemStats(&ms1)
			b.ReportMetric(float64(t.NNZ()), "nnz")
			b.ReportMetric(float64(ms1.TotalAlloc-ms0.TotalAlloc)/float64(b.N)/float64(t.NNZ()), "alloc-B/nnz")
		})
		if c.rows*c.cols <= 1_000_000 {
			b.Run(fmt.Sprintf("dense-baseline-%dx%d", c.rows, c.cols), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					denseStdres(t.Dense())
				}
			})
		}
	}
}

// denseStdres is R's computation, every cell of a dense matrix.
func denseStdres(x *mat.Dense) *mat.Dense {
	r, c := x.Dims()
	sr, sc := make([]float64, r), make([]float64, c)
	n := 0.0
	for i := 0; i < r; i++ {
		for j := 0; j < c; j++ {
			v := x.At(i, j)
			sr[i] += v
			sc[j] += v
			n += v
		}
	}
	out := mat.NewDense(r, c, nil)
	for i := 0; i < r; i++ {
		for j := 0; j < c; j++ {
			e := sr[i] * sc[j] / n
			out.Set(i, j, (x.At(i, j)-e)/math.Sqrt((1-sr[i]/n)*(1-sc[j]/n)*e))
			_ = ZPValue(out.At(i, j))
		}
	}
	return out
}
