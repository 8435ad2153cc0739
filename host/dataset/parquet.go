package dataset

// Parquet reading and writing: the record source here; checking damaged files
// in parquet_check.go, rows to JSON in parquet_row.go, writing in
// parquet_write.go.
//
// Reading turns every row of any Parquet file into a JSON object — the file's
// column names as keys, groups as objects, LIST as arrays, MAP as objects,
// timestamps as RFC 3339 strings, byte arrays as strings, nulls as null — and
// hands it to the same format decoders as JSONL, so WildChat or LMSYS-Chat-1M
// read the same from either layout. Rows are read row group by row group, a
// small batch at a time; the file is never held in memory.
//
// Writing produces valuescope's normalised conversations with a flat schema
// that pandas, DuckDB and polars read directly:
//
//	id string, source string,
//	turns list<struct{role string, content string, meta string}>,
//	meta string
//
// where each meta is a JSON object as text ("" when there is none). The one
// special case on reading undoes this: a string column named "meta" whose
// value is a JSON object is read as that object, and an empty one as null.

import (
	"fmt"
	"io"
	"os"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"
)

// parquetBatch is how many rows are read from a row group at a time.
const parquetBatch = 32

type parquetSource struct {
	path   string
	meta   *format.FileMetaData // the footer as checkParquetFooter decoded it
	groups []parquet.RowGroup
	scan   pageScanner
	g      int          // next row group
	rows   parquet.Rows // rows of the current row group, or nil
	eof    bool         // rows has no more after the batch
	batch  []parquet.Row
	n, i   int         // rows in batch, next to hand out
	cur    parquet.Row // the row last handed out
	row    int64       // rows handed out (or set aside) so far
	end    int64       // row after the current row group's last
	lost   error       // why the rest of the current row group is set aside
	conv   *rowConverter
	buf    []byte
	failed error
}

// openParquet reads f (already known to start with "PAR1") row by row.
func openParquet(f *os.File, path string) (src recordSource, err error) {
	defer func() {
		if p := recover(); p != nil { // parquet-go panics on some malformed footers
			src, err = nil, fmt.Errorf("%s: parquet: unreadable file: %v", path, p)
		}
	}()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("%s: parquet: %w", path, err)
	}
	// parquet-go trusts what the footer declares; check it first (see
	// "Corrupt files" below).
	meta, err := checkParquetFooter(f, st.Size())
	if err != nil {
		return nil, fmt.Errorf("%s: parquet: unreadable file: %w", path, err)
	}
	pf, err := parquet.OpenFile(f, st.Size(), parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true),
		parquet.ReadBufferSize(64<<10))
	if err != nil {
		return nil, fmt.Errorf("%s: parquet: unreadable file: %w", path, err)
	}
	if len(pf.RowGroups()) != len(meta.RowGroups) {
		return nil, fmt.Errorf("%s: parquet: unreadable file: %d row groups, footer lists %d",
			path, len(pf.RowGroups()), len(meta.RowGroups))
	}
	conv, err := newRowConverter(pf.Root())
	if err != nil {
		return nil, fmt.Errorf("%s: parquet: %w", path, err)
	}
	return &parquetSource{
		path:   path,
		meta:   meta,
		groups: pf.RowGroups(),
		scan:   pageScanner{r: f},
		batch:  make([]parquet.Row, parquetBatch),
		conv:   conv,
	}, nil
}

func (s *parquetSource) container() string { return "parquet" }

// object returns the row last handed out as Go values, when the fast path
// can (see parquet_object.go).
func (s *parquetSource) object() (map[string]any, bool) { return s.conv.object(s.cur) }

// json returns the row last handed out as a JSON object, valid until the
// next call.
func (s *parquetSource) json() ([]byte, error) {
	data, err := s.conv.convert(s.buf[:0], s.cur)
	s.buf = data
	return data, err
}

func (s *parquetSource) where() Location {
	return Location{File: s.path, Record: s.row + 1, Parquet: true}
}

func (s *parquetSource) next() (record, error) {
	for {
		if s.failed != nil {
			return record{}, s.failed
		}
		if s.i < s.n {
			s.cur = s.batch[s.i]
			s.i++
			s.row++
			// Converted when the reader asks, as Go values or JSON.
			return record{parquet: s, loc: Location{File: s.path, Record: s.row, Parquet: true}}, nil
		}
		if s.lost != nil {
			// The rest of a damaged row group, after the rows read from it.
			bad := &BadRecord{Location: s.where(), Damaged: true,
				Reason: fmt.Sprintf("parquet: row group %d: rows %d to %d set aside: %v", s.g-1, s.row, s.end-1, s.lost)}
			s.lost, s.row = nil, s.end
			return record{}, bad
		}
		if s.rows != nil && s.eof {
			s.closeRows()
		}
		if s.rows == nil {
			if s.g >= len(s.groups) {
				s.failed = io.EOF
				continue
			}
			s.end = s.row + s.meta.RowGroups[s.g].NumRows
			s.g++
			// Check the row group's pages before parquet-go reads them.
			if err := s.scan.rowGroup(s.meta, s.g-1); err != nil {
				s.lost = err
				continue
			}
			s.rows, s.eof = s.groups[s.g-1].Rows(), false
		}
		s.i, s.n = 0, 0
		n, err := s.readRows()
		s.n = n
		switch {
		case err == io.EOF || (err == nil && n == 0):
			s.eof = true
		case err != nil:
			// Hand out the rows read before the damage, then set the rest
			// of the row group aside; the next row group may be whole.
			s.lost = fmt.Errorf("reading at row %d: %w", s.row+int64(n), err)
			s.closeRows()
		}
	}
}

// closeRows closes the current row group's rows, which parquet-go may panic
// on when its pages were damaged.
func (s *parquetSource) closeRows() {
	defer func() { recover() }()
	rows := s.rows
	s.rows = nil
	rows.Close()
}

// readRows reads the next batch, turning a panic on corrupt pages into an
// error.
func (s *parquetSource) readRows() (n int, err error) {
	defer func() {
		if p := recover(); p != nil {
			n, err = 0, fmt.Errorf("corrupt data: %v", p)
		}
	}()
	return s.rows.ReadRows(s.batch)
}
