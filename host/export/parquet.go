package export

// annotations.parquet: the columns of annotations.csv, in the same order, as
// UTF-8 strings — the fixed columns required, the metadata columns optional
// (null when the conversation has no such key). zstd, with row groups cut by
// size and row count so that the writer's memory stays bounded.
//
// The metadata columns are only known at run time, and parquet.Group orders
// its fields by name; columnsNode is a group that keeps them in the order
// given, and rows are built value by value for parquet.Writer.WriteRows.

import (
	"errors"
	"os"
	"reflect"
	"strconv"
	"strings"
	"unsafe"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"
	"github.com/parquet-go/parquet-go/compress/zstd"
	"github.com/parquet-go/parquet-go/encoding"
)

const (
	// A row group is cut at whichever comes first.
	parquetRowGroupBytes = 64 << 20
	parquetRowGroupRows  = 100_000
	parquetWriteBatch    = 256
)

// dictColumns are the fixed columns with few distinct values, dictionary
// encoded.
var dictColumns = map[string]bool{"source": true, "stage": true, "field": true, "kind": true}

type parquetWriter struct {
	w          *parquet.Writer
	fixed      int           // number of required columns
	batch      []parquet.Row // rows waiting for WriteRows; their values are reused
	n          int           // rows in batch
	groupBytes int
	groupRows  int
}

func newParquetWriter(f *os.File, meta []string) *parquetWriter {
	fields := make([]parquet.Field, 0, len(annotationColumns)+len(meta))
	for _, c := range annotationColumns {
		var n parquet.Node = parquet.String()
		if dictColumns[c] {
			n = parquet.Encoded(n, &parquet.RLEDictionary)
		}
		fields = append(fields, &columnField{Node: n, name: c, index: len(fields)})
	}
	for _, c := range meta {
		fields = append(fields, &columnField{Node: parquet.Optional(parquet.String()), name: c, index: len(fields)})
	}
	schema := parquet.NewSchema("annotation", &columnsNode{fields: fields})
	return &parquetWriter{
		w: parquet.NewWriter(f, schema,
			parquet.Compression(&zstd.Codec{Level: zstd.SpeedDefault}),
			parquet.CreatedBy("valuescope", "", ""),
		),
		fixed: len(annotationColumns),
		batch: make([]parquet.Row, parquetWriteBatch),
	}
}

// write appends a row: rec holds the fixed columns then the metadata columns,
// present tells which metadata values are there (the others are null).
func (p *parquetWriter) write(rec []string, present []bool) error {
	row := p.batch[p.n][:0]
	size := 0
	for i, s := range rec {
		size += len(s)
		switch {
		case i < p.fixed:
			row = append(row, stringValue(s).Level(0, 0, i))
		case present[i-p.fixed]:
			row = append(row, stringValue(s).Level(0, 1, i))
		default:
			row = append(row, parquet.NullValue().Level(0, 0, i))
		}
	}
	p.batch[p.n] = row
	p.n++
	p.groupBytes += size
	p.groupRows++
	if p.n == len(p.batch) {
		if err := p.flushBatch(); err != nil {
			return err
		}
	}
	if p.groupBytes >= parquetRowGroupBytes || p.groupRows >= parquetRowGroupRows {
		if err := p.flushBatch(); err != nil {
			return err
		}
		p.groupBytes, p.groupRows = 0, 0
		return p.w.Flush()
	}
	return nil
}

// stringValue is s as a BYTE_ARRAY value without copying it (as parquet-go
// does for the strings of Go values): the writer copies the bytes into its
// column buffers and never writes to them.
func stringValue(s string) parquet.Value {
	return parquet.ByteArrayValue(unsafe.Slice(unsafe.StringData(s), len(s)))
}

func (p *parquetWriter) flushBatch() error {
	if p.n == 0 {
		return nil
	}
	_, err := p.w.WriteRows(p.batch[:p.n])
	for i := range p.batch[:p.n] {
		clear(p.batch[i]) // drop the references to the values' bytes
	}
	p.n = 0
	return err
}

func (p *parquetWriter) close() error {
	return errors.Join(p.flushBatch(), p.w.Close())
}

// columnsNode is a parquet group whose fields keep the order they are given
// in (parquet.Group sorts them by name).
type columnsNode struct{ fields []parquet.Field }

func (n *columnsNode) ID() int { return 0 }
func (n *columnsNode) String() string {
	var b strings.Builder
	parquet.PrintSchema(&b, "", n)
	return b.String()
}
func (n *columnsNode) Type() parquet.Type          { return parquet.Group{}.Type() }
func (n *columnsNode) Optional() bool              { return false }
func (n *columnsNode) Repeated() bool              { return false }
func (n *columnsNode) Required() bool              { return true }
func (n *columnsNode) Leaf() bool                  { return false }
func (n *columnsNode) Fields() []parquet.Field     { return n.fields }
func (n *columnsNode) Encoding() encoding.Encoding { return nil }
func (n *columnsNode) Compression() compress.Codec { return nil }
func (n *columnsNode) GoType() reflect.Type        { return goTypeOfColumns(n.fields) }

// columnField is a column of columnsNode. Its Go representation is the
// field of index in the struct type goTypeOfColumns builds.
type columnField struct {
	parquet.Node
	name  string
	index int
}

func (f *columnField) Name() string                           { return f.name }
func (f *columnField) Value(base reflect.Value) reflect.Value { return base.Field(f.index) }

// goTypeOfColumns is a struct with a field per column (C0, C1, ...): string
// for required columns, *string for optional ones.
func goTypeOfColumns(fields []parquet.Field) reflect.Type {
	sf := make([]reflect.StructField, len(fields))
	for i, f := range fields {
		sf[i] = reflect.StructField{Name: "C" + strconv.Itoa(i), Type: f.GoType()}
	}
	return reflect.StructOf(sf)
}
