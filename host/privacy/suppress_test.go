package privacy

import (
	"math/rand/v2"
	"slices"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// determinedByRank is the oracle for Determined: hidden cell k's count
// follows from the margins exactly when e_k lies in the row space of the
// margin equations restricted to the hidden cells.
func determinedByRank(rows, cols int, cells []Cell) []int {
	var hid []int
	for k, c := range cells {
		if c.Hidden {
			hid = append(hid, k)
		}
	}
	if len(hid) == 0 {
		return nil
	}
	a := mat.NewDense(rows+cols+1, len(hid), nil)
	for x, k := range hid {
		a.Set(cells[k].Row, x, 1)
		a.Set(rows+cells[k].Col, x, 1)
	}
	rank := func(m *mat.Dense) int {
		var svd mat.SVD
		svd.Factorize(m, mat.SVDNone)
		return svd.Rank(1e-9)
	}
	base := rank(a)
	var out []int
	for x, k := range hid {
		b := mat.DenseCopyOf(a)
		for y := range hid {
			b.Set(rows+cols, y, 0)
		}
		b.Set(rows+cols, x, 1)
		if rank(b) == base {
			out = append(out, k)
		}
	}
	return out
}

func randomTable(rng *rand.Rand, rows, cols int) []Cell {
	var cells []Cell
	for i := range rows {
		for j := range cols {
			if rng.Float64() < 0.3 {
				continue // a zero cell
			}
			n := float64(1 + rng.IntN(12))
			small := n < 5
			cells = append(cells, Cell{Row: i, Col: j, Count: n, Hidden: small, Protect: small})
		}
	}
	return cells
}

// Determined agrees with the linear-algebra definition, and after Complement
// no protected cell is determined (or it is reported unprotectable), on
// random tables.
func TestComplementRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	before, after := 0, 0
	for trial := range 300 {
		rows, cols := 2+rng.IntN(6), 2+rng.IntN(5)
		cells := randomTable(rng, rows, cols)
		got, want := Determined(rows, cols, cells), determinedByRank(rows, cols, cells)
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Fatalf("trial %d: Determined %v, rank oracle %v (cells %+v)", trial, got, want, cells)
		}
		for _, k := range got {
			if cells[k].Protect {
				before++
			}
		}
		extra, unprot, err := Complement(rows, cols, cells)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range extra {
			if cells[k].Hidden || cells[k].Fixed {
				t.Fatalf("trial %d: complement %d was hidden or fixed already", trial, k)
			}
			cells[k].Hidden = true
		}
		left := map[int]bool{}
		for _, k := range determinedByRank(rows, cols, cells) {
			if cells[k].Protect {
				left[k] = true
				after++
			}
		}
		for _, k := range unprot {
			delete(left, k)
		}
		if len(left) > 0 {
			t.Fatalf("trial %d: protected cells %v still determined after complementing with %v", trial, left, extra)
		}
	}
	if before == 0 {
		t.Fatal("no random table had a determined protected cell: the test tests nothing")
	}
	t.Logf("determined protected cells: %d before complementing, %d unprotectable after", before, after)
}

// One small cell in a full table: the row and column rule and the path close
// a 4-cycle with the smallest shown cells.
func TestComplementFourCycle(t *testing.T) {
	counts := [][]float64{{2, 9, 30}, {8, 7, 40}, {50, 60, 6}}
	var cells []Cell
	for i, row := range counts {
		for j, n := range row {
			cells = append(cells, Cell{Row: i, Col: j, Count: n, Hidden: n < 5, Protect: n < 5})
		}
	}
	extra, unprot, err := Complement(3, 3, cells)
	if err != nil || len(unprot) != 0 {
		t.Fatal(err, unprot)
	}
	slices.Sort(extra)
	// (0,1)=9 in its row, (1,0)=8 in its column, then (1,1)=7 closes the cycle.
	if want := []int{1, 3, 4}; !slices.Equal(extra, want) {
		t.Fatalf("complement %v, want %v", extra, want)
	}
}

// BenchmarkComplement: 2,000 rows × 50 columns, a third of the cells zero
// and a third of the rest under the floor.
func BenchmarkComplement(b *testing.B) {
	rng := rand.New(rand.NewPCG(3, 4))
	base := randomTable(rng, 2000, 50)
	b.ReportAllocs()
	for b.Loop() {
		cells := slices.Clone(base)
		if _, _, err := Complement(2000, 50, cells); err != nil {
			b.Fatal(err)
		}
	}
}
