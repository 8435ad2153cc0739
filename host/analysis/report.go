package analysis

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/valuescope/valuescope/internal/atomicfile"
)

// Report is one analysed table of a run, as written to NAME.json.
type Report struct {
	Name  string `json:"name"`
	Rows  Axis   `json:"row_axis"`
	Cols  Axis   `json:"context_axis"`
	Input Input  `json:"input"`
	Summary
	Contexts []Context `json:"contexts"`
	// Files written, relative to the run folder.
	Files []string `json:"files,omitempty"`
}

// AnalyzeRun builds and analyses one table of a run.
func AnalyzeRun(ctx context.Context, r *Run, spec TableSpec, o Options, m Mapper) (*Report, *Result, error) {
	if _, err := r.Field(strings.TrimPrefix(spec.Rows, "field:")); err != nil {
		return nil, nil, fmt.Errorf("table rows: %w", err)
	}
	rows, err := r.ResolveAxis("field:" + strings.TrimPrefix(spec.Rows, "field:"))
	if err != nil {
		return nil, nil, err
	}
	rows.Spec = spec.Rows
	cols, err := r.ResolveAxis(spec.Cols)
	if err != nil {
		return nil, nil, err
	}
	t, in, err := BuildTable(ctx, r, rows, cols, m)
	if err != nil {
		return nil, nil, err
	}
	t.Corner = rows.Name
	res, err := Analyze(t, o)
	if err != nil {
		return nil, nil, fmt.Errorf("table %s: %w", spec.FileName(), err)
	}
	rep := &Report{Name: spec.FileName(), Rows: rows, Cols: cols, Input: in, Summary: res.Summary, Contexts: res.Contexts}
	return rep, res, nil
}

// MaxWideCells bounds the wide residual matrix an analysis writes: past
// this many reported cells only the long cells file is written.
const MaxWideCells = 1_000_000

// WriteFiles writes a run table's files into dir (the run's analysis/
// folder): NAME.cells.csv (every reported cell, see WriteCellsCSV),
// NAME.residuals.csv (the reported rows × contexts matrix of adjusted
// residuals, when it has at most MaxWideCells cells) and NAME.json (the
// report). Paths in rep.Files are relative to base.
func WriteFiles(dir, base string, rep *Report, res *Result) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	rep.Files = nil
	add := func(name string, write func(io.Writer) error) error {
		p := filepath.Join(dir, name)
		if err := atomicfile.Write(p, write); err != nil {
			return err
		}
		rel, err := filepath.Rel(base, p)
		if err != nil {
			rel = p
		}
		rep.Files = append(rep.Files, filepath.ToSlash(rel))
		return nil
	}
	if err := add(rep.Name+".cells.csv", func(w io.Writer) error { return WriteCellsCSV(w, res) }); err != nil {
		return err
	}
	nr, nc := 0, 0
	for i := range res.t.Rows {
		if res.rowPass[i] && res.rowSum[i] > 0 {
			nr++
		}
	}
	for j := range res.t.Cols {
		if res.colPass[j] && res.colSum[j] > 0 {
			nc++
		}
	}
	if nr*nc <= MaxWideCells {
		if err := add(rep.Name+".residuals.csv", func(w io.Writer) error { return WriteResidualsCSV(w, res, false) }); err != nil {
			return err
		}
	}
	p := filepath.Join(dir, rep.Name+".json")
	rel, _ := filepath.Rel(base, p)
	rep.Files = append(rep.Files, filepath.ToSlash(rel))
	return atomicfile.Write(p, func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	})
}

// CellColumns are the columns of a cells CSV.
var CellColumns = []string{"value", "context", "count", "expected", "residual", "p", "p_adjusted", "significant", "users"}

// WriteCellsCSV writes every published cell of a result, one per line
// (columns CellColumns; users empty when unknown), context by context: the
// non-zero cells that pass the privacy floor and are not complementary
// suppressions (Result.EachReported). Zero cells are not written: a zero
// cell's residual would tell the blanks beside it apart (suppress.go).
func WriteCellsCSV(w io.Writer, res *Result) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(CellColumns); err != nil {
		return err
	}
	var err error
	rec := make([]string, len(CellColumns))
	res.EachReported(func(a Association) bool {
		rec[0], rec[1] = a.Value, a.Context
		rec[2] = FormatFloat(a.Count)
		rec[3] = FormatFloat(float64(a.Expected))
		rec[4] = FormatFloat(float64(a.Residual))
		rec[5] = FormatFloat(float64(a.P))
		rec[6] = FormatFloat(float64(a.PAdjusted))
		rec[7] = strconv.FormatBool(a.Significant)
		rec[8] = ""
		if a.Users >= 0 {
			rec[8] = strconv.Itoa(a.Users)
		}
		err = cw.Write(rec)
		return err == nil
	})
	if err != nil {
		return err
	}
	cw.Flush()
	return cw.Error()
}

// WriteResidualsCSV writes the adjusted residuals as a matrix: the header
// holds the corner label and the column labels, then one line per row, its
// label first. Only published cells (Result.Reported) have a residual; the
// others — under the privacy floor, complementary suppressions, and, unless
// the floor is off, zero cells, so that a blank does not mark exactly the
// cells under the floor — are left empty. With keepShape, every row and
// column of the table is written in its order (NaN, in empty rows and
// columns, written NA); otherwise the rows and columns suppressed, or
// empty, are left out.
func WriteResidualsCSV(w io.Writer, res *Result, keepShape bool) error {
	t := res.t
	var rows, cols []int
	for i := range t.Rows {
		if keepShape || (res.rowPass[i] && res.rowSum[i] > 0) {
			rows = append(rows, i)
		}
	}
	for j := range t.Cols {
		if keepShape || (res.colPass[j] && res.colSum[j] > 0) {
			cols = append(cols, j)
		}
	}
	cw := csv.NewWriter(w)
	rec := make([]string, 0, len(cols)+1)
	rec = append(rec, t.Corner)
	for _, j := range cols {
		rec = append(rec, t.Cols[j])
	}
	if err := cw.Write(rec); err != nil {
		return err
	}
	// Column by column is how the table is stored; build each row from the
	// column-major residuals, one row at a time through a dense buffer of
	// the row's cells.
	pos := make([]int, len(t.Cols)) // next cell of each column
	for j := range t.Cols {
		pos[j] = res.colStart[j]
	}
	for _, i := range rows {
		rec = rec[:0]
		rec = append(rec, t.Rows[i])
		for _, j := range cols {
			o := 0.0
			k := pos[j]
			for k < res.colStart[j+1] && int(t.cells[k].Row) < i {
				k++
			}
			pos[j] = k
			nonzero := k < res.colStart[j+1] && int(t.cells[k].Row) == i
			if nonzero {
				o = t.cells[k].Count
			}
			switch {
			case !res.rowPass[i] || !res.colPass[j] || (nonzero && !res.shown[k]):
				rec = append(rec, "")
			case !nonzero && (res.rowSum[i] == 0 || res.colSum[j] == 0):
				rec = append(rec, "NA")
			case !nonzero && !res.zerosShown():
				rec = append(rec, "")
			default:
				_, z, _ := res.cellStats(o, res.rowSum[i], res.colSum[j])
				rec = append(rec, FormatFloat(z))
			}
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// WriteText writes a result's summary and top associations for reading.
func WriteText(w io.Writer, title string, s Summary, contexts []Context) error {
	bw := bufio.NewWriter(w)
	if title != "" {
		fmt.Fprintf(bw, "%s\n", title)
	}
	fmt.Fprintf(bw, "table: %d values x %d contexts, n = %s, %d non-zero cells", s.Rows, s.Cols, FormatFloat(s.N), s.NonZero)
	if s.EmptyRows+s.EmptyCols > 0 {
		fmt.Fprintf(bw, " (%d empty rows, %d empty contexts: left out of the test)", s.EmptyRows, s.EmptyCols)
	}
	fmt.Fprintln(bw)
	if s.DF > 0 {
		fmt.Fprintf(bw, "chi-square = %.4g, df = %d, p = %.4g, Cramér's V = %.4g\n", float64(s.ChiSquare), s.DF, float64(s.P), float64(s.CramersV))
	} else {
		fmt.Fprintln(bw, "chi-square: no test (fewer than two non-empty rows or contexts)")
	}
	if s.MonteCarlo > 0 {
		fmt.Fprintf(bw, "Monte Carlo p = %.4g (%d random tables with the observed margins)\n", float64(s.MonteCarloP), s.MonteCarlo)
	}
	if w := s.SmallExpected.String(); w != "" {
		fmt.Fprintln(bw, w)
	}
	family := "per context"
	if s.Family == WholeTable {
		family = "over the whole table"
	}
	stated := ""
	if s.TestsStated {
		stated = " stated"
	}
	if s.Tests > 0 {
		of := ""
		if s.Method == Exact {
			of = " of the normal approximation; the exact test's p-values decide"
		}
		fmt.Fprintf(bw, "Bonferroni threshold |r| >= %.2f (alpha %g two-sided, %d%s tests %s)%s\n", float64(s.BonferroniThreshold), s.Alpha, s.Tests, stated, family, of)
	} else {
		fmt.Fprintln(bw, "no tests: no cell has a defined residual")
	}
	thr := "none significant"
	if t := float64(s.Threshold); t == t {
		thr = fmt.Sprintf("smallest significant |r| = %.3f", t)
	}
	fmt.Fprintf(bw, "per-cell test %s, correction %s over %d families: %d significant positive, %d negative associations reported; %s\n",
		s.Method, s.Correction, s.Families, s.SignificantPositive, s.SignificantNegative, thr)
	fmt.Fprintln(bw, s.Suppressed.String())
	for _, c := range contexts {
		fmt.Fprintf(bw, "\n%s (count %s, %d significant)\n", c.Context, FormatFloat(c.Count), c.Significant)
		line := func(sign string, a Association) {
			mark := ""
			if a.Significant {
				mark = " *"
			}
			fmt.Fprintf(bw, "  %s %-40s r = %7.2f  count %s, expected %.3g%s\n", sign, a.Value, float64(a.Residual), FormatFloat(a.Count), float64(a.Expected), mark)
		}
		for _, a := range c.Positive {
			line("+", a)
		}
		for _, a := range c.Negative {
			line("-", a)
		}
	}
	return bw.Flush()
}
