package analysis

import (
	"cmp"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"

	"gonum.org/v1/gonum/mat"
)

// Cell is one non-zero cell of a sparse table.
type Cell struct {
	Row, Col int32
	// Count is the observed count: for a table built from a run, the number
	// of distinct conversations with this value in this context.
	Count float64
	// Users is the number of distinct users behind the cell, or -1 when the
	// table has no user information.
	Users int32
}

// Table is a sparse contingency table of non-negative counts: rows are the
// values of an annotation field, columns the contexts. Only non-zero cells
// are stored, sorted by column then row.
type Table struct {
	Rows, Cols []string
	// Corner is the label of the header's first cell in a CSV table.
	Corner string

	cells []Cell

	// Conversations behind each row and column (distinct; with
	// multi-valued contexts not the sum of its cells). Nil: the sums.
	RowConversations, ColConversations []float64
	// Distinct users behind each row and column; nil when the data has no
	// user field.
	RowUsers, ColUsers []float64
}

// Cells returns the non-zero cells, sorted by column then row. The slice
// belongs to the table.
func (t *Table) Cells() []Cell { return t.cells }

// NNZ is the number of non-zero cells.
func (t *Table) NNZ() int { return len(t.cells) }

// HasUsers reports whether the table carries distinct-user counts.
func (t *Table) HasUsers() bool { return t.RowUsers != nil }

// At returns the count of cell (i, j).
func (t *Table) At(i, j int) float64 {
	k, ok := slices.BinarySearchFunc(t.cells, [2]int32{int32(j), int32(i)}, func(c Cell, key [2]int32) int {
		if c := cmp.Compare(c.Col, key[0]); c != 0 {
			return c
		}
		return cmp.Compare(c.Row, key[1])
	})
	if !ok {
		return 0
	}
	return t.cells[k].Count
}

// Builder accumulates a sparse table cell by cell; counts added to the same
// cell are summed. Its memory grows with the cells added.
type Builder struct {
	rows, cols       []string
	rowIndex, colIdx map[string]int32
	cells            []Cell
}

// NewBuilder returns an empty builder.
func NewBuilder() *Builder {
	return &Builder{rowIndex: map[string]int32{}, colIdx: map[string]int32{}}
}

// Row returns the index of the row labelled label, adding it if new.
func (b *Builder) Row(label string) int {
	if i, ok := b.rowIndex[label]; ok {
		return int(i)
	}
	b.rowIndex[label] = int32(len(b.rows))
	b.rows = append(b.rows, label)
	return len(b.rows) - 1
}

// Col returns the index of the column labelled label, adding it if new.
func (b *Builder) Col(label string) int {
	if i, ok := b.colIdx[label]; ok {
		return int(i)
	}
	b.colIdx[label] = int32(len(b.cols))
	b.cols = append(b.cols, label)
	return len(b.cols) - 1
}

// Add adds count to the cell (row, col), both indices from Row and Col.
func (b *Builder) Add(row, col int, count float64) {
	if count != 0 {
		b.cells = append(b.cells, Cell{Row: int32(row), Col: int32(col), Count: count, Users: -1})
	}
}

// AddLabels adds count to the cell of the row and column so labelled.
func (b *Builder) AddLabels(row, col string, count float64) {
	b.Add(b.Row(row), b.Col(col), count)
}

// Table returns the table built; the builder must not be used again.
func (b *Builder) Table() (*Table, error) {
	return NewTable(b.rows, b.cols, b.cells)
}

// NewTable makes a table of the given labels and cells (in any order;
// duplicates are summed; zero counts dropped). It takes ownership of cells.
func NewTable(rows, cols []string, cells []Cell) (*Table, error) {
	if len(rows) > math.MaxInt32 || len(cols) > math.MaxInt32 {
		return nil, errors.New("table too large")
	}
	for _, c := range cells {
		if c.Row < 0 || int(c.Row) >= len(rows) || c.Col < 0 || int(c.Col) >= len(cols) {
			return nil, fmt.Errorf("cell (%d, %d) outside a %d x %d table", c.Row, c.Col, len(rows), len(cols))
		}
		if !(c.Count >= 0) || math.IsInf(c.Count, 0) {
			return nil, fmt.Errorf("cell %q x %q: count %v is not a finite non-negative number", rows[c.Row], cols[c.Col], c.Count)
		}
	}
	slices.SortFunc(cells, func(a, b Cell) int {
		if c := cmp.Compare(a.Col, b.Col); c != 0 {
			return c
		}
		return cmp.Compare(a.Row, b.Row)
	})
	out := cells[:0]
	for _, c := range cells {
		if n := len(out); n > 0 && out[n-1].Row == c.Row && out[n-1].Col == c.Col {
			out[n-1].Count += c.Count
			if out[n-1].Users >= 0 && c.Users >= 0 {
				out[n-1].Users += c.Users
			}
			continue
		}
		out = append(out, c)
	}
	// Drop zeros.
	k := 0
	for _, c := range out {
		if c.Count != 0 {
			out[k] = c
			k++
		}
	}
	return &Table{Rows: rows, Cols: cols, cells: out[:k]}, nil
}

// FromDense makes a sparse table of a dense matrix of counts.
func FromDense(m mat.Matrix, rows, cols []string) (*Table, error) {
	r, c := m.Dims()
	if len(rows) != r || len(cols) != c {
		return nil, fmt.Errorf("%d x %d matrix with %d row and %d column labels", r, c, len(rows), len(cols))
	}
	var cells []Cell
	for j := 0; j < c; j++ {
		for i := 0; i < r; i++ {
			if v := m.At(i, j); v != 0 {
				cells = append(cells, Cell{Row: int32(i), Col: int32(j), Count: v, Users: -1})
			}
		}
	}
	return NewTable(rows, cols, cells)
}

// Dense returns the table as a dense matrix (for small tables only).
func (t *Table) Dense() *mat.Dense {
	d := mat.NewDense(max(len(t.Rows), 1), max(len(t.Cols), 1), nil)
	for _, c := range t.cells {
		d.Set(int(c.Row), int(c.Col), c.Count)
	}
	return d
}

// ReadCSV reads a plain table of counts: the header holds the column labels
// (its first cell is a corner label, kept but not used), then one line per
// row, its label first. Counts are non-negative numbers; an empty cell is 0.
// name is used in error messages.
func ReadCSV(r io.Reader, name string) (*Table, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = 0
	header, err := cr.Read()
	if err == io.EOF {
		return nil, fmt.Errorf("%s: empty file (expected a header of column labels)", name)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(header) < 2 {
		return nil, fmt.Errorf("%s:1: header has %d field(s); expected a corner label then at least one column label", name, len(header))
	}
	header[0] = strings.TrimPrefix(header[0], "\ufeff")
	t := &Table{Corner: header[0], Cols: slices.Clone(header[1:])}
	var cells []Cell
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) && errors.Is(pe.Err, csv.ErrFieldCount) {
				return nil, fmt.Errorf("%s:%d: %d fields; expected %d (a row label and one count per column)", name, pe.StartLine, len(rec), len(header))
			}
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		line, _ := cr.FieldPos(0)
		i := int32(len(t.Rows))
		t.Rows = append(t.Rows, rec[0])
		for j, s := range rec[1:] {
			s = strings.TrimSpace(s)
			if s == "" {
				continue
			}
			v, err := strconv.ParseFloat(s, 64)
			if err != nil || v < 0 || math.IsInf(v, 0) || math.IsNaN(v) {
				return nil, fmt.Errorf("%s:%d: row %q, column %q: %q is not a non-negative count", name, line, rec[0], header[j+1], s)
			}
			if v != 0 {
				cells = append(cells, Cell{Row: i, Col: int32(j), Count: v, Users: -1})
			}
		}
	}
	if len(t.Rows) == 0 {
		return nil, fmt.Errorf("%s: no rows after the header", name)
	}
	nt, err := NewTable(t.Rows, t.Cols, cells)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	nt.Corner = t.Corner
	return nt, nil
}

// ReadCSVFile reads a plain table of counts from a file (see ReadCSV).
func ReadCSVFile(path string) (*Table, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ReadCSV(f, path)
}

// FormatFloat writes a number as CSV and JSON outputs do: the shortest text
// that reads back as the same float64, and "NA" for NaN (as R writes it).
func FormatFloat(v float64) string {
	if math.IsNaN(v) {
		return "NA"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}
