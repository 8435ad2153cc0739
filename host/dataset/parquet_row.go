package dataset

import (
	"bytes"
	stdjson "encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"
)

// Parquet rows to JSON objects.
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
	name     string
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
	// For object (parquet_object.go): whether the row is still on the fast
	// path, scratch for a leaf's JSON, and whether the schema keeps every
	// row off it (two fields of a group with one name).
	ok        bool
	scratch   []byte
	noObjects bool
	leaves    []*pqNode // by column
	start     []int     // where each column's values start in the row
	buf       []byte    // the row's text (loadText)
	text      string
	offs      []int32
	slab      []any
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
	c.noObjects = duplicateNames(n)
	c.leaves = make([]*pqNode, leaves)
	c.start = make([]int, leaves)
	var walk func(*pqNode)
	walk = func(n *pqNode) {
		if n.kind == pqLeaf {
			c.leaves[n.first] = n
		}
		for _, f := range n.fields {
			walk(f)
		}
		for _, f := range []*pqNode{n.elem, n.mkey, n.mval} {
			if f != nil {
				walk(f)
			}
		}
	}
	walk(n)
	return c, nil
}

// duplicateNames reports whether a group under n has two fields of one name,
// which JSON decoding rejects.
func duplicateNames(n *pqNode) bool {
	seen := map[string]bool{}
	for _, f := range n.fields {
		if seen[f.name] || duplicateNames(f) {
			return true
		}
		seen[f.name] = true
	}
	for _, f := range []*pqNode{n.elem, n.mkey, n.mval} {
		if f != nil && duplicateNames(f) {
			return true
		}
	}
	return false
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
		return &pqNode{kind: pqList, name: name, key: jsonKey(name), def: def, rdef: def + 1, rrep: rep + 1,
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
	node := &pqNode{name: name, key: jsonKey(name), optional: optional, def: def, first: *leaves}
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
	if err := c.load(row); err != nil {
		return b, err
	}
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

// load splits row into its columns' values, for convert or object to
// consume from the start.
func (c *rowConverter) load(row parquet.Row) error {
	clear(c.cols)
	for start := 0; start < len(row); {
		col := row[start].Column()
		end := start + 1
		for end < len(row) && row[end].Column() == col {
			end++
		}
		if col < 0 || col >= len(c.cols) || c.cols[col] != nil {
			return fmt.Errorf("malformed row: unexpected values for column %d", col)
		}
		c.cols[col] = row[start:end]
		c.start[col] = start
		start = end
	}
	clear(c.pos)
	c.err = nil
	return nil
}

// consumed reports whether the last conversion used every value of the row.
func (c *rowConverter) consumed() bool {
	for i, vs := range c.cols {
		if c.pos[i] != len(vs) {
			return false
		}
	}
	return true
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
// appendJSONString and needEscape write JSON strings for the row converter.
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
