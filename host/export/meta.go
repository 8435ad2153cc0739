package export

import (
	"fmt"
	"slices"
	"strings"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/valuescope/valuescope/host/store"
)

// metaSchema is the metadata columns: the scalar top-level keys of the
// conversations' metadata, sorted, and the column each is written to.
type metaSchema struct {
	keys    []string       // sorted
	columns []string       // the column name of each key
	index   map[string]int // key -> position
}

// metaValues is one conversation's metadata laid out as the columns.
type metaValues struct {
	text    []string // "" when missing
	present []bool
}

// collectMeta reads every conversation's metadata for its scalar keys.
// fixed are the names of the other columns of the exported files.
func collectMeta(tx *store.Snapshot, fixed []string) (*metaSchema, error) {
	rows := tx.ConversationsWithoutHash()
	defer rows.Close()
	seen := map[string]bool{}
	for rows.Next() {
		c := rows.Row()
		if c.MetaJSON == "" {
			continue
		}
		err := scanMeta(c.MetaJSON, func(key, _ string) { seen[key] = true })
		if err != nil {
			return nil, fmt.Errorf("conversation %s: %w", c.ID, err)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return newMetaSchema(seen, fixed), nil
}

// newMetaSchema names a column for each key: the key itself, prefixed with
// "meta." (as often as needed) while that collides with a fixed column or
// another key's column.
func newMetaSchema(keys map[string]bool, fixed []string) *metaSchema {
	m := &metaSchema{index: make(map[string]int, len(keys))}
	for k := range keys {
		m.keys = append(m.keys, k)
	}
	slices.Sort(m.keys)
	taken := map[string]bool{}
	for _, f := range fixed {
		taken[f] = true
	}
	// Keys named as they are come first, so that a key "meta.value" keeps its
	// name and a key "value" moves aside to "meta.meta.value".
	for _, k := range m.keys {
		taken[k] = true
	}
	for i, k := range m.keys {
		m.index[k] = i
		name := k
		if slices.Contains(fixed, k) {
			name = "meta." + k
			for taken[name] {
				name = "meta." + name
			}
			taken[name] = true
		}
		m.columns = append(m.columns, name)
	}
	return m
}

// values lays out the metadata js, reusing buf.
func (m *metaSchema) values(js string, buf metaValues) (metaValues, error) {
	if buf.text == nil {
		buf = metaValues{text: make([]string, len(m.keys)), present: make([]bool, len(m.keys))}
	}
	clear(buf.text)
	clear(buf.present)
	err := scanMeta(js, func(key, value string) {
		if i, ok := m.index[key]; ok {
			buf.text[i], buf.present[i] = validUTF8(value), true
		}
	})
	return buf, err
}

// scanMeta calls fn with each top-level key of the JSON object js whose value
// is a scalar, and the value as text: a string as it is, a number as its JSON
// text, a bool as "true" or "false". Nulls, objects and arrays are skipped, as
// is metadata that is not an object (or is "").
func scanMeta(js string, fn func(key, value string)) error {
	if js == "" {
		return nil
	}
	d := jsontext.NewDecoder(strings.NewReader(js),
		jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true))
	if d.PeekKind() != jsontext.KindBeginObject {
		_, err := d.ReadValue()
		return err
	}
	if _, err := d.ReadToken(); err != nil {
		return err
	}
	for d.PeekKind() != jsontext.KindEndObject {
		name, err := d.ReadToken()
		if err != nil {
			return err
		}
		key := name.String()
		switch d.PeekKind() {
		case jsontext.KindString:
			v, err := d.ReadToken()
			if err != nil {
				return err
			}
			fn(key, v.String())
		case jsontext.KindNumber:
			v, err := d.ReadValue()
			if err != nil {
				return err
			}
			fn(key, string(v))
		case jsontext.KindTrue, jsontext.KindFalse:
			v, err := d.ReadToken()
			if err != nil {
				return err
			}
			fn(key, v.String())
		default: // null, object, array (or invalid: SkipValue reports it)
			if err := d.SkipValue(); err != nil {
				return err
			}
		}
	}
	_, err := d.ReadToken()
	return err
}
