package privacy

import (
	"container/heap"
	"fmt"
	"math"
)

// Cell is one non-zero cell of a two-way table whose row and column totals
// (and grand total) are published. Zero cells are not listed: an attacker is
// assumed to know which cells are zero.
type Cell struct {
	Row, Col int
	Count    float64
	// Hidden: the count is not published (suppressed, or an aggregate that
	// no file gives, such as a row's cells in the contexts under the floor).
	Hidden bool
	// Protect: the count must not be derivable from the published counts
	// and margins (a cell under the floor). Only hidden cells are protected.
	Protect bool
	// Fixed: the cell may not be chosen as a complementary suppression
	// (an aggregate that is hidden already, or a cell that must stay shown).
	Fixed bool
}

// Determined returns the indices of the hidden cells whose counts follow
// exactly from the published cells and margins: with every row and column
// total known, the hidden cells form a bipartite graph of rows and columns,
// and a hidden cell is determined by the linear equations of the margins
// exactly when it is a bridge of that graph (it lies on no cycle: a cycle's
// counts can be shifted by ±t, alternately, without changing any margin).
// Every cell listed has a count of at least one, so shifting by ±1 stays
// non-negative: a hidden cell on a cycle is not determined even with the
// bounds counts ≥ 0 and with the zero cells known.
func Determined(rows, cols int, cells []Cell) []int {
	return bridges(rows, cols, cells, func(k int) bool { return cells[k].Hidden })
}

// Complement chooses complementary (secondary) suppressions for a two-way
// table with published margins, so that no protected cell can be derived by
// subtraction from the published cells and margins, nor by any linear
// combination of them (Determined finds none). It returns the indices of the
// cells to hide besides those already hidden.
//
// The rule is linked (secondary) cell suppression as in Cox, "Suppression
// methodology and statistical disclosure control", JASA 75 (1980), and
// Hundepool et al., "Statistical Disclosure Control" (Wiley 2012), §4.3 on
// secondary cell suppression: first the classic row and column rule — each
// row and each column with a protected cell has at least two hidden cells,
// the complement being the shown cell of smallest count, applied to rows and
// columns until nothing changes; then, for every protected cell still
// determined (a bridge: hidden cells in a chain that no cycle closes), the
// cheapest path of cells from its column back to its row is hidden, a cost
// being a shown cell's count (hidden cells cost nothing) — the network
// heuristic of Cox, "Network models for complementary cell suppression",
// JASA 90 (1995) — which puts the cell on a cycle.
//
// A protected cell that no path can join to a cycle (its row or column has
// no other non-zero cell that may be hidden) is returned in unprotectable:
// its count equals a published margin less published cells, and only
// withholding that margin (the row or column) protects it.
func Complement(rows, cols int, cells []Cell) (extra, unprotectable []int, err error) {
	for _, c := range cells {
		if c.Row < 0 || c.Row >= rows || c.Col < 0 || c.Col >= cols {
			return nil, nil, fmt.Errorf("complementary suppression: cell (%d, %d) outside a %d × %d table", c.Row, c.Col, rows, cols)
		}
	}
	hidden := make([]bool, len(cells))
	for k, c := range cells {
		hidden[k] = c.Hidden
	}
	hide := func(k int) {
		if !hidden[k] {
			hidden[k] = true
			extra = append(extra, k)
		}
	}
	canHide := func(k int) bool { return !hidden[k] && !cells[k].Fixed }
	byRow := make([][]int, rows)
	byCol := make([][]int, cols)
	for k, c := range cells {
		byRow[c.Row] = append(byRow[c.Row], k)
		byCol[c.Col] = append(byCol[c.Col], k)
	}
	// The row and column rule: a line with a protected hidden cell and only
	// one hidden cell gets its smallest shown cell hidden.
	lineRule := func(line []int) bool {
		protect, n := false, 0
		for _, k := range line {
			if hidden[k] {
				n++
				protect = protect || cells[k].Protect
			}
		}
		if !protect || n >= 2 {
			return false
		}
		best := -1
		for _, k := range line {
			if canHide(k) && (best < 0 || cells[k].Count < cells[best].Count) {
				best = k
			}
		}
		if best < 0 {
			return false
		}
		hide(best)
		return true
	}
	for changed := true; changed; {
		changed = false
		for _, line := range byRow {
			changed = lineRule(line) || changed
		}
		for _, line := range byCol {
			changed = lineRule(line) || changed
		}
	}
	// Close the remaining chains with cheapest paths.
	bad := map[int]bool{}
	for {
		open := false
		for _, k := range bridges(rows, cols, cells, func(k int) bool { return hidden[k] }) {
			if !cells[k].Protect || bad[k] {
				continue
			}
			path := cheapestPath(rows, cols, cells, byRow, byCol, k, hidden)
			if path == nil {
				bad[k] = true
				unprotectable = append(unprotectable, k)
				continue
			}
			for _, p := range path {
				if canHide(p) {
					hide(p)
					open = true
				}
			}
		}
		if !open {
			break
		}
	}
	return extra, unprotectable, nil
}

// bridges returns the cells, among those in(k), that are bridges of the
// bipartite graph of rows (nodes 0..rows-1) and columns (rows..rows+cols-1)
// whose edges are those cells.
func bridges(rows, cols int, cells []Cell, in func(int) bool) []int {
	n := rows + cols
	adj := make([][]int, n)
	for k, c := range cells {
		if in(k) {
			adj[c.Row] = append(adj[c.Row], k)
			adj[rows+c.Col] = append(adj[rows+c.Col], k)
		}
	}
	other := func(k, v int) int {
		if v == cells[k].Row {
			return rows + cells[k].Col
		}
		return cells[k].Row
	}
	disc := make([]int, n)
	low := make([]int, n)
	for i := range disc {
		disc[i] = -1
	}
	var out []int
	type frame struct{ v, via, next int }
	time := 0
	for s := range n {
		if disc[s] >= 0 || len(adj[s]) == 0 {
			continue
		}
		stack := []frame{{s, -1, 0}}
		disc[s], low[s] = time, time
		time++
		for len(stack) > 0 {
			f := &stack[len(stack)-1]
			if f.next < len(adj[f.v]) {
				k := adj[f.v][f.next]
				f.next++
				if k == f.via {
					continue
				}
				u := other(k, f.v)
				if disc[u] < 0 {
					disc[u], low[u] = time, time
					time++
					stack = append(stack, frame{u, k, 0})
				} else {
					low[f.v] = min(low[f.v], disc[u])
				}
				continue
			}
			stack = stack[:len(stack)-1]
			if len(stack) > 0 {
				p := &stack[len(stack)-1]
				low[p.v] = min(low[p.v], low[f.v])
				if low[f.v] > disc[p.v] {
					out = append(out, f.via)
				}
			}
		}
	}
	return out
}

// cheapestPath is the cells of the cheapest path from cell b's column to its
// row not through b (hidden cells cost nothing, shown cells their count plus
// one, fixed shown cells cannot be used), or nil when there is none.
func cheapestPath(rows, cols int, cells []Cell, byRow, byCol [][]int, b int, hidden []bool) []int {
	n := rows + cols
	dist := make([]float64, n)
	via := make([]int, n)
	for i := range dist {
		dist[i], via[i] = math.Inf(1), -1
	}
	src, dst := rows+cells[b].Col, cells[b].Row
	dist[src] = 0
	q := &nodeHeap{{src, 0}}
	for q.Len() > 0 {
		x := heap.Pop(q).(node)
		if x.d > dist[x.v] {
			continue
		}
		if x.v == dst {
			break
		}
		var line []int
		if x.v < rows {
			line = byRow[x.v]
		} else {
			line = byCol[x.v-rows]
		}
		for _, k := range line {
			if k == b || (!hidden[k] && cells[k].Fixed) {
				continue
			}
			w := 0.0
			if !hidden[k] {
				w = cells[k].Count + 1
			}
			u := cells[k].Row
			if x.v < rows {
				u = rows + cells[k].Col
			}
			if d := x.d + w; d < dist[u] {
				dist[u], via[u] = d, k
				heap.Push(q, node{u, d})
			}
		}
	}
	if math.IsInf(dist[dst], 1) {
		return nil
	}
	var path []int
	for v := dst; v != src; {
		k := via[v]
		path = append(path, k)
		if v == cells[k].Row {
			v = rows + cells[k].Col
		} else {
			v = cells[k].Row
		}
	}
	return path
}

type node struct {
	v int
	d float64
}

type nodeHeap []node

func (h nodeHeap) Len() int           { return len(h) }
func (h nodeHeap) Less(i, j int) bool { return h[i].d < h[j].d }
func (h nodeHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *nodeHeap) Push(x any)        { *h = append(*h, x.(node)) }
func (h *nodeHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
