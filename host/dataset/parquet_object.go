package dataset

import (
	"strconv"
	"unicode/utf8"

	"github.com/parquet-go/parquet-go"
)

// Parquet rows straight to Go values: the fast path.
//
// object builds, for a row, the map[string]any that JSON-decoding the row's
// JSON (convert) would give — numbers as float64, timestamps as their RFC
// 3339 strings, nulls as nil — without writing and parsing the JSON. A format
// with a decodeObject takes it from there. Whatever this path does not mirror
// exactly (invalid UTF-8, JSON columns, non-string map keys, duplicate names,
// a malformed row) makes object report false, and the record goes the JSON
// way, so that both ways give the same conversations by construction; a test
// checks they do.

// fastParquet turns the fast path off, for the tests that compare it with
// the JSON way.
var fastParquet = true

// object returns the current row as a JSON-shaped Go value, or false.
func (c *rowConverter) object(row parquet.Row) (m map[string]any, ok bool) {
	if c.noObjects || !fastParquet {
		return nil, false
	}
	defer func() {
		if recover() != nil {
			m, ok = nil, false
		}
	}()
	if c.load(row) != nil || !c.loadText(row) {
		return nil, false
	}
	c.ok = true
	v := c.any(c.root)
	if !c.ok || c.err != nil || !c.consumed() {
		return nil, false
	}
	m, ok = v.(map[string]any)
	return m, ok
}

func (c *rowConverter) any(n *pqNode) any {
	if !c.ok || c.err != nil {
		return nil
	}
	v, ok := c.peek(n.first)
	if !ok {
		return nil
	}
	if n.optional && v.DefinitionLevel() < n.def {
		c.skip(n)
		return nil
	}
	switch n.kind {
	case pqLeaf:
		at := c.start[n.first] + c.pos[n.first]
		c.pos[n.first]++
		if n.leaf == lkRaw && c.offs[at] >= 0 {
			return c.text[c.offs[at] : int(c.offs[at])+len(v.ByteArray())]
		}
		return c.anyLeaf(n, v)
	case pqObject:
		m := make(map[string]any, len(n.fields))
		for _, f := range n.fields {
			m[f.name] = c.any(f)
		}
		return m
	case pqList:
		if v.DefinitionLevel() < n.rdef {
			c.skip(n)
			return []any{}
		}
		list := c.anys(c.count(n))
		for i := range list {
			list[i] = c.any(n.elem)
			if c.repeats(n) != (i < len(list)-1) {
				c.ok = false // levels that do not add up: the JSON way says why
			}
			if !c.ok || c.err != nil {
				break
			}
		}
		return list
	case pqMap:
		if v.DefinitionLevel() < n.rdef {
			c.skip(n)
			return map[string]any{}
		}
		m := map[string]any{}
		for c.ok && c.err == nil {
			k, isString := c.any(n.mkey).(string)
			if _, dup := m[k]; !isString || dup {
				c.ok = false // JSON keys from other types, or rejected duplicates: the JSON way
				break
			}
			var val any
			if n.mval != nil {
				val = c.any(n.mval)
			}
			m[k] = val
			if !c.repeats(n) {
				break
			}
		}
		return m
	}
	return nil
}

// loadText copies the text of the row's string columns into one string,
// so that each value is a slice of it rather than an allocation of its own:
// offs holds, per value of the row, where its text starts, or -1. It reports
// false on invalid UTF-8, which goes the JSON way.
func (c *rowConverter) loadText(row parquet.Row) bool {
	c.buf = c.buf[:0]
	c.offs = c.offs[:0]
	for i := range row {
		v := &row[i]
		col := v.Column()
		if c.leaves[col].leaf != lkRaw || v.IsNull() || (v.Kind() != parquet.ByteArray && v.Kind() != parquet.FixedLenByteArray) {
			c.offs = append(c.offs, -1)
			continue
		}
		b := v.ByteArray()
		if !utf8.Valid(b) {
			return false
		}
		c.offs = append(c.offs, int32(len(c.buf)))
		c.buf = append(c.buf, b...)
	}
	c.text = string(c.buf)
	if cap(c.buf) > 1<<20 {
		c.buf = nil // keep no large buffer after a large row
	}
	return true
}

// count returns how many elements the list or map n has, at least one.
func (c *rowConverter) count(n *pqNode) int {
	vs, k := c.cols[n.first], 1
	for i := c.pos[n.first] + 1; i < len(vs); i++ {
		r := vs[i].RepetitionLevel()
		if r < n.rrep {
			break
		}
		if r == n.rrep {
			k++
		}
	}
	return k
}

// anys returns a list of k values, cut from a block shared by many lists
// instead of an allocation of its own.
func (c *rowConverter) anys(k int) []any {
	if len(c.slab)+k > cap(c.slab) {
		c.slab = make([]any, 0, max(k, 1024))
	}
	n := len(c.slab)
	c.slab = c.slab[:n+k]
	return c.slab[n : n+k : n+k]
}

// repeats reports whether list or map n has another element.
func (c *rowConverter) repeats(n *pqNode) bool {
	return c.pos[n.first] < len(c.cols[n.first]) && c.cols[n.first][c.pos[n.first]].RepetitionLevel() == n.rrep
}

func (c *rowConverter) anyLeaf(n *pqNode, v parquet.Value) any {
	if v.IsNull() {
		return nil
	}
	switch n.leaf {
	case lkRaw:
		if k := v.Kind(); k == parquet.ByteArray || k == parquet.FixedLenByteArray {
			b := v.ByteArray()
			if !utf8.Valid(b) {
				c.ok = false
				return nil
			}
			return string(b)
		}
	case lkBool:
		return v.Boolean()
	case lkInt:
		return float64(intValue(v))
	case lkUint32:
		return float64(v.Uint32())
	case lkUint64:
		return float64(v.Uint64())
	case lkDouble:
		if f := v.Double(); f == f && f-f == 0 { // not NaN or infinite
			return f
		}
		return nil
	case lkNull:
		return nil
	case lkJSON, lkMeta:
		c.ok = false
		return nil
	}
	// Everything else as convert writes it: a string without escapes (dates,
	// times, UUIDs), a number (float, float16, decimal) or null.
	c.scratch = c.leaf(c.scratch[:0], n, v)
	s := c.scratch
	switch {
	case len(s) >= 2 && s[0] == '"':
		body := s[1 : len(s)-1]
		for _, x := range body {
			if x == '\\' || x >= utf8.RuneSelf {
				c.ok = false
				return nil
			}
		}
		return string(body)
	case string(s) == "null":
		return nil
	}
	f, err := strconv.ParseFloat(string(s), 64)
	if err != nil {
		c.ok = false
		return nil
	}
	return f
}
