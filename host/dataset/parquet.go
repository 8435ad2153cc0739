package dataset

// Parquet reading and writing.
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
	"bytes"
	stdjson "encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"os"
	"strconv"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress/zstd"
	"github.com/parquet-go/parquet-go/format"
	"github.com/valuescope/valuescope/host/conversation"
)

// parquetBatch is how many rows are read from a row group at a time.
const parquetBatch = 32

type parquetSource struct {
	path   string
	groups []parquet.RowGroup
	g      int          // next row group
	rows   parquet.Rows // rows of the current row group, or nil
	eof    bool         // rows has no more after the batch
	batch  []parquet.Row
	n, i   int   // rows in batch, next to convert
	row    int64 // rows handed out so far
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
	pf, err := parquet.OpenFile(f, st.Size(), parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true),
		parquet.ReadBufferSize(64<<10))
	if err != nil {
		return nil, fmt.Errorf("%s: parquet: unreadable file: %w", path, err)
	}
	conv, err := newRowConverter(pf.Root())
	if err != nil {
		return nil, fmt.Errorf("%s: parquet: %w", path, err)
	}
	return &parquetSource{
		path:   path,
		groups: pf.RowGroups(),
		batch:  make([]parquet.Row, parquetBatch),
		conv:   conv,
	}, nil
}

func (s *parquetSource) container() string { return "parquet" }

func (s *parquetSource) next() (record, error) {
	for {
		if s.failed != nil {
			return record{}, s.failed
		}
		if s.i < s.n {
			row := s.batch[s.i]
			s.i++
			s.row++
			loc := Location{File: s.path, Record: s.row, Parquet: true}
			data, err := s.conv.convert(s.buf[:0], row)
			s.buf = data
			if err != nil {
				return record{}, &BadRecord{loc, err.Error()}
			}
			return record{data: data, loc: loc}, nil
		}
		if s.rows != nil && s.eof {
			s.rows.Close()
			s.rows = nil
		}
		if s.rows == nil {
			if s.g >= len(s.groups) {
				s.failed = io.EOF
				continue
			}
			s.rows, s.eof = s.groups[s.g].Rows(), false
			s.g++
		}
		s.i, s.n = 0, 0
		n, err := s.readRows()
		switch {
		case err == io.EOF || (err == nil && n == 0):
			s.eof = true
		case err != nil:
			s.failed = fmt.Errorf("%s: parquet: reading row group %d at row %d: %w", s.path, s.g-1, s.row, err)
			continue
		}
		s.n = n
	}
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

// Row to JSON.
//
// The schema is compiled once into a tree of pqNodes. A row is the values of
// every leaf column in column order, each with its repetition and definition
// levels; convert walks the tree with one cursor per leaf column, consuming
// the values each node owns (the usual Dremel record assembly).

type pqKind uint8

const (
	pqLeaf pqKind = iota
	pqObject
	pqList
	pqMap
)

type leafKind uint8

const (
	lkRaw leafKind = iota // byte arrays and anything unrecognised: a string
	lkBool
	lkInt    // signed integers
	lkUint32 // unsigned INT32
	lkUint64 // unsigned INT64
	lkFloat
	lkDouble
	lkJSON      // JSON logical type: embedded when valid
	lkMeta      // a string column named "meta": see the package comment
	lkDate      // days since 1970-01-01
	lkTime      // time of day
	lkTimestamp // since the Unix epoch, in unit
	lkInt96     // legacy INT96 timestamps
	lkDecimal
	lkUUID
	lkFloat16
	lkNull
)

type pqNode struct {
	kind     pqKind
	key      []byte // `"name":`
	optional bool   // null when the definition level is below def
	def      int
	// list and map: the repeated group's levels; below rdef the list is empty.
	rdef, rrep  int
	first, last int // leaf columns [first, last)
	fields      []*pqNode
	elem        *pqNode // list element
	mkey, mval  *pqNode // map key and value (mval may be nil)
	// leaves
	leaf  leafKind
	unit  int64 // time units per second, for time and timestamps
	scale int   // decimal scale
}

type rowConverter struct {
	root *pqNode
	cols [][]parquet.Value
	pos  []int
	err  error
	big  big.Int
}

func newRowConverter(root *parquet.Column) (*rowConverter, error) {
	c := &rowConverter{}
	leaves := 0
	n := &pqNode{kind: pqObject}
	for _, f := range root.Fields() {
		child, err := compileField(f, f.Name(), 0, 0, &leaves)
		if err != nil {
			return nil, err
		}
		n.fields = append(n.fields, child)
	}
	n.last = leaves
	c.root = n
	c.cols = make([][]parquet.Value, leaves)
	c.pos = make([]int, leaves)
	return c, nil
}

// compileField compiles a field under a parent at definition level def and
// repetition level rep. A repeated field outside a LIST becomes a list of it.
func compileField(f parquet.Node, name string, def, rep int, leaves *int) (*pqNode, error) {
	if f.Repeated() {
		first := *leaves
		elem, err := compileValue(f, name, false, def+1, rep+1, leaves)
		if err != nil {
			return nil, err
		}
		return &pqNode{kind: pqList, key: jsonKey(name), def: def, rdef: def + 1, rrep: rep + 1,
			first: first, last: *leaves, elem: elem}, nil
	}
	if f.Optional() {
		def++
	}
	return compileValue(f, name, f.Optional(), def, rep, leaves)
}

// compileValue compiles the value of node n, present at definition level def.
func compileValue(n parquet.Node, name string, optional bool, def, rep int, leaves *int) (*pqNode, error) {
	if def > parquet.MaxColumnDepth {
		return nil, fmt.Errorf("column %q: schema nested too deeply", name)
	}
	node := &pqNode{key: jsonKey(name), optional: optional, def: def, first: *leaves}
	if n.Leaf() {
		node.kind = pqLeaf
		compileLeaf(node, n.Type(), name)
		*leaves++
		node.last = *leaves
		return node, nil
	}
	fields := n.Fields()
	var lt *format.LogicalType
	if t := n.Type(); t != nil {
		lt = t.LogicalType()
	}
	// LIST: <opt> group (LIST) { repeated group list { <opt> element } },
	// or one of the older two-level shapes, where the repeated child is itself
	// the element.
	if lt != nil && len(fields) == 1 && fields[0].Repeated() {
		r := fields[0]
		switch lt.Value.(type) {
		case *format.ListType:
			node.kind, node.rdef, node.rrep = pqList, def+1, rep+1
			var err error
			if r.Leaf() || len(r.Fields()) != 1 || r.Name() == "array" || r.Name() == name+"_tuple" {
				node.elem, err = compileValue(r, "", false, def+1, rep+1, leaves)
			} else {
				e := r.Fields()[0]
				node.elem, err = compileField(e, e.Name(), def+1, rep+1, leaves)
			}
			node.last = *leaves
			return node, err
		case *format.MapType:
			kv := r.Fields()
			if r.Leaf() || len(kv) == 0 || len(kv) > 2 {
				break
			}
			node.kind, node.rdef, node.rrep = pqMap, def+1, rep+1
			var err error
			if node.mkey, err = compileField(kv[0], kv[0].Name(), def+1, rep+1, leaves); err != nil {
				return nil, err
			}
			if len(kv) == 2 {
				if node.mval, err = compileField(kv[1], kv[1].Name(), def+1, rep+1, leaves); err != nil {
					return nil, err
				}
			}
			node.last = *leaves
			return node, nil
		}
	}
	node.kind = pqObject
	for _, f := range fields {
		child, err := compileField(f, f.Name(), def, rep, leaves)
		if err != nil {
			return nil, err
		}
		node.fields = append(node.fields, child)
	}
	node.last = *leaves
	if node.last == node.first {
		return nil, fmt.Errorf("column %q: group with no columns", name)
	}
	return node, nil
}

func compileLeaf(n *pqNode, t parquet.Type, name string) {
	kind := t.Kind()
	n.leaf = lkRaw
	switch kind {
	case parquet.Boolean:
		n.leaf = lkBool
	case parquet.Int32, parquet.Int64:
		n.leaf = lkInt
	case parquet.Float:
		n.leaf = lkFloat
	case parquet.Double:
		n.leaf = lkDouble
	case parquet.Int96:
		n.leaf = lkInt96
		n.unit = 1e9
	}
	lt := t.LogicalType()
	if lt == nil {
		return
	}
	switch v := lt.Value.(type) {
	case *format.StringType:
		if name == "meta" {
			n.leaf = lkMeta
		}
	case *format.JsonType:
		n.leaf = lkJSON
	case *format.IntType:
		switch {
		case v.IsSigned:
		case kind == parquet.Int64:
			n.leaf = lkUint64
		default:
			n.leaf = lkUint32
		}
	case *format.DateType:
		n.leaf = lkDate
	case *format.TimeType:
		n.leaf, n.unit = lkTime, unitsPerSecond(&v.Unit)
	case *format.TimestampType:
		n.leaf, n.unit = lkTimestamp, unitsPerSecond(&v.Unit)
	case *format.DecimalType:
		n.leaf, n.scale = lkDecimal, int(v.Scale)
	case *format.UUIDType:
		if kind == parquet.FixedLenByteArray {
			n.leaf = lkUUID
		}
	case *format.Float16Type:
		if kind == parquet.FixedLenByteArray {
			n.leaf = lkFloat16
		}
	case *format.NullType:
		n.leaf = lkNull
	}
}

func unitsPerSecond(u *format.TimeUnit) int64 {
	switch u.Value.(type) {
	case *format.MilliSeconds:
		return 1e3
	case *format.MicroSeconds:
		return 1e6
	}
	return 1e9
}

func jsonKey(name string) []byte {
	if name == "" {
		return nil
	}
	return append(appendJSONString(nil, []byte(name)), ':')
}

var errMalformedRow = errors.New("malformed row: fewer values than the schema needs")

// convert appends the JSON object for row to b.
func (c *rowConverter) convert(b []byte, row parquet.Row) (out []byte, err error) {
	defer func() {
		if p := recover(); p != nil {
			out, err = b, fmt.Errorf("cannot convert row: %v", p)
		}
	}()
	clear(c.cols)
	for start := 0; start < len(row); {
		col := row[start].Column()
		end := start + 1
		for end < len(row) && row[end].Column() == col {
			end++
		}
		if col < 0 || col >= len(c.cols) || c.cols[col] != nil {
			return b, fmt.Errorf("malformed row: unexpected values for column %d", col)
		}
		c.cols[col] = row[start:end]
		start = end
	}
	clear(c.pos)
	c.err = nil
	b = c.value(b, c.root)
	if c.err != nil {
		return b, c.err
	}
	for i, vs := range c.cols {
		if c.pos[i] != len(vs) {
			return b, fmt.Errorf("malformed row: %d values left over in column %d", len(vs)-c.pos[i], i)
		}
	}
	return b, nil
}

// peek returns the next value of column i.
func (c *rowConverter) peek(i int) (parquet.Value, bool) {
	if c.pos[i] >= len(c.cols[i]) {
		if c.err == nil {
			c.err = errMalformedRow
		}
		return parquet.Value{}, false
	}
	return c.cols[i][c.pos[i]], true
}

// skip consumes the single value each column of n holds when n is null or
// empty.
func (c *rowConverter) skip(n *pqNode) {
	for i := n.first; i < n.last; i++ {
		c.pos[i]++
	}
}

func (c *rowConverter) value(b []byte, n *pqNode) []byte {
	if c.err != nil {
		return b
	}
	v, ok := c.peek(n.first)
	if !ok {
		return b
	}
	if n.optional && v.DefinitionLevel() < n.def {
		c.skip(n)
		return append(b, "null"...)
	}
	switch n.kind {
	case pqLeaf:
		c.pos[n.first]++
		return c.leaf(b, n, v)
	case pqObject:
		b = append(b, '{')
		for i, f := range n.fields {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, f.key...)
			b = c.value(b, f)
		}
		return append(b, '}')
	case pqList, pqMap:
		if v.DefinitionLevel() < n.rdef {
			c.skip(n)
			if n.kind == pqMap {
				return append(b, "{}"...)
			}
			return append(b, "[]"...)
		}
		open, close := byte('['), byte(']')
		if n.kind == pqMap {
			open, close = '{', '}'
		}
		b = append(b, open)
		for first := true; c.err == nil; first = false {
			if !first {
				b = append(b, ',')
			}
			if n.kind == pqList {
				b = c.value(b, n.elem)
			} else {
				b = c.mapEntry(b, n)
			}
			if c.pos[n.first] >= len(c.cols[n.first]) || c.cols[n.first][c.pos[n.first]].RepetitionLevel() != n.rrep {
				break
			}
		}
		return append(b, close)
	}
	return b
}

func (c *rowConverter) mapEntry(b []byte, n *pqNode) []byte {
	start := len(b)
	b = c.value(b, n.mkey)
	if len(b) > start && b[start] != '"' { // JSON keys are strings
		key := bytes.Clone(b[start:])
		b = appendJSONString(b[:start], key)
	}
	b = append(b, ':')
	if n.mval == nil {
		return append(b, "null"...)
	}
	return c.value(b, n.mval)
}

func (c *rowConverter) leaf(b []byte, n *pqNode, v parquet.Value) []byte {
	if v.IsNull() {
		return append(b, "null"...)
	}
	switch n.leaf {
	case lkBool:
		return strconv.AppendBool(b, v.Boolean())
	case lkInt:
		if v.Kind() == parquet.Int32 {
			return strconv.AppendInt(b, int64(v.Int32()), 10)
		}
		return strconv.AppendInt(b, v.Int64(), 10)
	case lkUint32:
		return strconv.AppendUint(b, uint64(v.Uint32()), 10)
	case lkUint64:
		return strconv.AppendUint(b, v.Uint64(), 10)
	case lkFloat:
		return appendFloat(b, float64(v.Float()), 32)
	case lkDouble:
		return appendFloat(b, v.Double(), 64)
	case lkJSON, lkMeta:
		s := v.ByteArray()
		if n.leaf == lkMeta && len(s) == 0 {
			return append(b, "null"...)
		}
		if len(s) > 0 && (n.leaf == lkJSON || s[0] == '{') && stdjson.Valid(s) {
			return append(b, s...)
		}
		return appendJSONString(b, s)
	case lkDate:
		t := time.Unix(int64(v.Int32())*86400, 0).UTC()
		return t.AppendFormat(append(b, '"'), `2006-01-02"`)
	case lkTime:
		d := intValue(v)
		t := time.Unix(d/n.unit, d%n.unit*(1e9/n.unit)).UTC()
		return t.AppendFormat(append(b, '"'), `15:04:05.999999999"`)
	case lkTimestamp:
		d := intValue(v)
		sec, frac := d/n.unit, d%n.unit
		if frac < 0 {
			sec, frac = sec-1, frac+n.unit
		}
		t := time.Unix(sec, frac*(1e9/n.unit)).UTC()
		return t.AppendFormat(append(b, '"'), `2006-01-02T15:04:05.999999999Z07:00"`)
	case lkInt96:
		i := v.Int96()
		nanos := int64(uint64(i[1])<<32 | uint64(i[0]))
		days := int64(i[2]) - 2440588 // Julian day of 1970-01-01
		t := time.Unix(days*86400, nanos).UTC()
		return t.AppendFormat(append(b, '"'), `2006-01-02T15:04:05.999999999Z07:00"`)
	case lkDecimal:
		return c.decimal(b, n, v)
	case lkUUID:
		u := v.ByteArray()
		if len(u) != 16 {
			return appendJSONString(b, u)
		}
		const hex = "0123456789abcdef"
		b = append(b, '"')
		for i, x := range u {
			if i == 4 || i == 6 || i == 8 || i == 10 {
				b = append(b, '-')
			}
			b = append(b, hex[x>>4], hex[x&15])
		}
		return append(b, '"')
	case lkFloat16:
		if h := v.ByteArray(); len(h) == 2 {
			return appendFloat(b, float16(uint16(h[0])|uint16(h[1])<<8), 32)
		}
	case lkNull:
		return append(b, "null"...)
	}
	switch v.Kind() {
	case parquet.ByteArray, parquet.FixedLenByteArray:
		return appendJSONString(b, v.ByteArray())
	case parquet.Boolean:
		return strconv.AppendBool(b, v.Boolean())
	case parquet.Int32:
		return strconv.AppendInt(b, int64(v.Int32()), 10)
	case parquet.Int64:
		return strconv.AppendInt(b, v.Int64(), 10)
	}
	return appendJSONString(b, []byte(v.String()))
}

func intValue(v parquet.Value) int64 {
	if v.Kind() == parquet.Int32 {
		return int64(v.Int32())
	}
	return v.Int64()
}

// decimal writes a DECIMAL as a JSON number.
func (c *rowConverter) decimal(b []byte, n *pqNode, v parquet.Value) []byte {
	var digits []byte
	switch v.Kind() {
	case parquet.Int32, parquet.Int64:
		digits = strconv.AppendInt(nil, intValue(v), 10)
	default: // big-endian two's complement
		raw := v.ByteArray()
		c.big.SetBytes(raw)
		if len(raw) > 0 && raw[0]&0x80 != 0 {
			c.big.Sub(&c.big, new(big.Int).Lsh(big.NewInt(1), uint(8*len(raw))))
		}
		digits = c.big.Append(nil, 10)
	}
	if digits[0] == '-' {
		b = append(b, '-')
		digits = digits[1:]
	}
	if n.scale <= 0 {
		b = append(b, digits...)
		for range -n.scale {
			b = append(b, '0')
		}
		return b
	}
	if len(digits) <= n.scale {
		b = append(b, "0."...)
		for range n.scale - len(digits) {
			b = append(b, '0')
		}
		return append(b, digits...)
	}
	k := len(digits) - n.scale
	b = append(b, digits[:k]...)
	b = append(b, '.')
	return append(b, digits[k:]...)
}

// appendFloat writes f as a JSON number; NaN and infinities, which JSON cannot
// hold, as null.
func appendFloat(b []byte, f float64, bits int) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(b, "null"...)
	}
	return strconv.AppendFloat(b, f, 'g', -1, bits)
}

func float16(h uint16) float64 {
	sign := 1.0
	if h&0x8000 != 0 {
		sign = -1
	}
	exp, frac := int(h>>10&0x1f), float64(h&0x3ff)
	switch exp {
	case 0:
		return sign * math.Ldexp(frac, -24)
	case 0x1f:
		if frac != 0 {
			return math.NaN()
		}
		return sign * math.Inf(1)
	}
	return sign * math.Ldexp(1+frac/1024, exp-15)
}

// needEscape marks the bytes a JSON string must escape. Bytes of invalid UTF-8
// are copied as they are: the reader detects and flags them as it does for
// JSONL.
var needEscape = func() (t [256]bool) {
	for i := range 0x20 {
		t[i] = true
	}
	t['"'], t['\\'] = true, true
	return t
}()

func appendJSONString(b, s []byte) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		x := s[i]
		if !needEscape[x] {
			continue
		}
		b = append(b, s[start:i]...)
		switch x {
		case '"', '\\':
			b = append(b, '\\', x)
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			b = append(b, '\\', 'u', '0', '0', hex[x>>4], hex[x&15])
		}
		start = i + 1
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// Writing.

// parquetConversation is the written schema; see the package comment.
type parquetConversation struct {
	ID     string        `parquet:"id"`
	Source string        `parquet:"source,dict"`
	Turns  []parquetTurn `parquet:"turns,list"`
	Meta   string        `parquet:"meta"`
}

type parquetTurn struct {
	Role    string `parquet:"role,dict"`
	Content string `parquet:"content"`
	Meta    string `parquet:"meta"`
}

const (
	// A row group is cut at whichever comes first, so that the writer's
	// memory stays bounded whatever the size of the conversations.
	parquetRowGroupBytes = 64 << 20
	parquetRowGroupRows  = 100_000
	parquetWriteBatch    = 64
)

type parquetEncoder struct {
	w          *parquet.GenericWriter[parquetConversation]
	batch      []parquetConversation
	groupBytes int
	groupRows  int
}

func newParquetEncoder(w *os.File) encoder {
	return &parquetEncoder{
		w: parquet.NewGenericWriter[parquetConversation](w,
			parquet.Compression(&zstd.Codec{Level: zstd.SpeedDefault}),
			parquet.CreatedBy("valuescope", "", ""),
		),
		batch: make([]parquetConversation, 0, parquetWriteBatch),
	}
}

func (e *parquetEncoder) write(c *conversation.Conversation) error {
	meta, err := metaText(c.Meta)
	if err != nil {
		return fmt.Errorf("meta: %w", err)
	}
	pc := parquetConversation{ID: c.ID, Source: c.Source, Meta: meta, Turns: make([]parquetTurn, len(c.Turns))}
	size := len(c.ID) + len(c.Source) + len(meta)
	for i, t := range c.Turns {
		m, err := metaText(t.Meta)
		if err != nil {
			return fmt.Errorf("turns[%d].meta: %w", i, err)
		}
		pc.Turns[i] = parquetTurn{Role: t.Role, Content: t.Content, Meta: m}
		size += len(t.Role) + len(t.Content) + len(m)
	}
	e.batch = append(e.batch, pc)
	e.groupBytes += size
	e.groupRows++
	if len(e.batch) == cap(e.batch) {
		if err := e.flushBatch(); err != nil {
			return err
		}
	}
	if e.groupBytes >= parquetRowGroupBytes || e.groupRows >= parquetRowGroupRows {
		if err := e.flushBatch(); err != nil {
			return err
		}
		e.groupBytes, e.groupRows = 0, 0
		return e.w.Flush()
	}
	return nil
}

func (e *parquetEncoder) flushBatch() error {
	if len(e.batch) == 0 {
		return nil
	}
	_, err := e.w.Write(e.batch)
	clear(e.batch)
	e.batch = e.batch[:0]
	return err
}

func (e *parquetEncoder) close() error {
	return errors.Join(e.flushBatch(), e.w.Close())
}

// metaText is a Meta map as JSON object text, "" when empty.
func metaText(m map[string]any) (string, error) {
	if len(m) == 0 {
		return "", nil
	}
	b, err := json.Marshal(m, json.Deterministic(true))
	return string(b), err
}
