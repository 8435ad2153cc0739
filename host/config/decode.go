package config

import (
	"cmp"
	"encoding"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/BurntSushi/toml"
)

// validator is implemented by section types with rules beyond their Go
// types. validate runs after the section is decoded (children first), may
// fill in defaults and resolve paths, and reports problems through v.
type validator interface {
	validate(v scope)
}

// checker holds the state of one Load: what the rules need (the config, its
// folder, the caller's options) and what has been found so far.
type checker struct {
	cfg  *Config
	dir  string
	opts Options

	file    string
	lines   map[string]int  // key -> line, from indexLines
	defined map[string]bool // keys present in the file
	bad     map[string]bool // keys whose value did not decode
	errs    Errors
}

// scope is a position in the config (a key) during decoding and validation.
type scope struct {
	c *checker
	p path
}

func (v scope) field(name string) scope { return scope{v.c, v.p.key(name)} }
func (v scope) elem(i int) scope        { return scope{v.c, v.p.index(i)} }

// line is the line of the key, or of its nearest ancestor written in the
// file (a missing key is reported at its table's header), or 0.
func (v scope) line() int {
	for p := v.p; len(p) > 0; p = p[:len(p)-1] {
		if l, ok := v.c.lines[p.String()]; ok {
			return l
		}
	}
	return 0
}

// errorf reports a problem with the key, unless the key or one of its
// ancestors failed to decode: its value is then a zero stand-in, and rules
// about it would only repeat the type error in other words.
func (v scope) errorf(format string, args ...any) {
	for p := v.p; len(p) > 0; p = p[:len(p)-1] {
		if v.c.bad[p.String()] {
			return
		}
	}
	v.c.add(v, fmt.Sprintf(format, args...))
}

// failed reports whether the key's value did not decode.
func (v scope) failed() bool { return v.c.bad[v.p.String()] }

// missing reports a required key that is absent or empty; want says what
// belongs there.
func (v scope) missing(want string) {
	if v.c.defined[v.p.String()] {
		v.errorf("must not be empty (want %s)", want)
	} else {
		v.errorf("required (want %s)", want)
	}
}

// fail reports a value that cannot be decoded and marks the key bad.
func (v scope) fail(msg string) {
	v.c.bad[v.p.String()] = true
	v.c.add(v, msg)
}

func (c *checker) add(v scope, msg string) {
	c.errs = append(c.errs, &Error{File: c.file, Line: v.line(), Key: v.p.String(), Msg: msg})
}

// decode parses src and decodes it into cfg, collecting every problem.
func decode(file string, src []byte, cfg *Config, c *checker) Errors {
	return decodeWith(file, src, c, func(root map[string]any) {
		c.value(scope{c: c}, root, reflect.ValueOf(cfg).Elem())
	})
}

// decodeWith parses src and hands the tree to walk, which decodes what it
// wants of it through c; it returns every problem, in file order.
func decodeWith(file string, src []byte, c *checker, walk func(root map[string]any)) Errors {
	// Nesting is bounded before the TOML library sees the text (see
	// indexLines).
	lines, tooDeep := indexLines(src)
	if tooDeep != nil {
		tooDeep.File = file
		return Errors{tooDeep}
	}
	var root map[string]any
	if _, err := toml.Decode(string(src), &root); err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return Errors{{File: file, Line: pe.Position.Line, Msg: "syntax error: " + pe.Message}}
		}
		return Errors{{File: file, Msg: "syntax error: " + err.Error()}}
	}
	c.file = file
	c.lines = lines
	c.defined = map[string]bool{}
	c.bad = map[string]bool{}
	walk(root)
	// Report in file order; problems with no line (a missing section) first.
	slices.SortStableFunc(c.errs, func(a, b *Error) int { return cmp.Compare(a.Line, b.Line) })
	return c.errs
}

var textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()

// value decodes data, a value from the parsed TOML tree, into rv, which must
// be addressable.
func (c *checker) value(v scope, data any, rv reflect.Value) {
	c.defined[v.p.String()] = true
	if reflect.PointerTo(rv.Type()).Implements(textUnmarshaler) {
		s, ok := data.(string)
		if !ok {
			v.fail("expected " + want(v.p, rv.Type()) + ", got " + describe(data))
			return
		}
		if err := rv.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(s)); err != nil {
			v.fail(err.Error())
		}
		return
	}
	ok := true
	switch rv.Kind() {
	case reflect.String:
		var s string
		if s, ok = data.(string); ok {
			rv.SetString(s)
		}
	case reflect.Bool:
		var b bool
		if b, ok = data.(bool); ok {
			rv.SetBool(b)
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		var n int64
		if n, ok = data.(int64); ok {
			if rv.OverflowInt(n) {
				v.fail(fmt.Sprintf("%d is out of range", n))
				return
			}
			rv.SetInt(n)
		}
	case reflect.Float32, reflect.Float64:
		switch f := data.(type) {
		case float64:
			rv.SetFloat(f)
		case int64:
			rv.SetFloat(float64(f))
		default:
			ok = false
		}
	case reflect.Interface:
		if ok = data != nil && reflect.TypeOf(data).AssignableTo(rv.Type()); ok {
			rv.Set(reflect.ValueOf(data))
		}
	case reflect.Slice:
		var elems []any
		switch d := data.(type) {
		case []any:
			elems = d
		case []map[string]any: // an array of tables, [[key]]
			for _, m := range d {
				elems = append(elems, m)
			}
		default:
			ok = false
		}
		if ok {
			s := reflect.MakeSlice(rv.Type(), len(elems), len(elems))
			for i, e := range elems {
				c.value(v.elem(i), e, s.Index(i))
			}
			rv.Set(s)
		}
	case reflect.Map:
		var m map[string]any
		if m, ok = data.(map[string]any); ok && rv.Type().Key().Kind() == reflect.String {
			out := reflect.MakeMapWithSize(rv.Type(), len(m))
			for _, k := range sortedKeys(m) {
				e := reflect.New(rv.Type().Elem()).Elem()
				c.value(v.field(k), m[k], e)
				out.SetMapIndex(reflect.ValueOf(k).Convert(rv.Type().Key()), e)
			}
			rv.Set(out)
		}
	case reflect.Struct:
		var m map[string]any
		if m, ok = data.(map[string]any); ok {
			c.structure(v, m, rv)
		}
	case reflect.Pointer: // set or not: nil when the key is absent
		e := reflect.New(rv.Type().Elem())
		c.value(v, data, e.Elem())
		rv.Set(e)
		return
	default:
		// A field type this decoder does not know: a bug in this package,
		// reported rather than panicking.
		v.fail(fmt.Sprintf("internal error: cannot decode into Go type %s", rv.Type()))
		return
	}
	if !ok {
		v.fail("expected " + want(v.p, rv.Type()) + ", got " + describe(data))
	}
}

// structure decodes a table into a struct, reports keys that are not fields,
// then runs the struct's validate method. Absent struct fields are still
// visited so that their defaults and required keys are checked.
func (c *checker) structure(v scope, m map[string]any, rv reflect.Value) {
	fields := fieldsOf(rv.Type())
	for _, f := range fields {
		fv := rv.FieldByIndex(f.index)
		if d, ok := m[f.name]; ok {
			c.value(v.field(f.name), d, fv)
		} else if fv.Kind() == reflect.Struct && !reflect.PointerTo(fv.Type()).Implements(textUnmarshaler) {
			c.structure(v.field(f.name), nil, fv)
		}
	}
	for _, k := range sortedKeys(m) {
		if !slices.ContainsFunc(fields, func(f field) bool { return f.name == k }) {
			v.field(k).fail(unknownKey(k, fields))
		}
	}
	if val, ok := rv.Addr().Interface().(validator); ok {
		val.validate(v)
	}
}

// field is a struct field as the TOML file names it.
type field struct {
	name  string
	index []int
}

// fieldsOf lists the fields of a struct type that a file may set: exported,
// not tagged "-", named by their toml tag (or Go name without one).
func fieldsOf(t reflect.Type) []field {
	var out []field
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
		switch name {
		case "-":
			continue
		case "":
			name = f.Name
		}
		out = append(out, field{name, f.Index})
	}
	return out
}

func unknownKey(k string, fields []field) string {
	names := make([]string, len(fields))
	best, bestDist := "", -1
	for i, f := range fields {
		names[i] = f.name
		if d := editDistance(k, f.name); bestDist < 0 || d < bestDist {
			best, bestDist = f.name, d
		}
	}
	if bestDist >= 0 && bestDist <= max(1, min(2, utf8.RuneCountInString(k)/3)) {
		return fmt.Sprintf("unknown key, did you mean %q?", best)
	}
	if len(names) == 0 {
		return "unknown key"
	}
	return "unknown key (valid: " + list(names) + ")"
}

// editDistance is the optimal string alignment distance: Levenshtein plus
// transposition of neighbours, the commonest typo ("pahts").
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}

// want describes, for an error message, what TOML value fits Go type t.
func want(p path, t reflect.Type) string {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch n := noun(t); {
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Struct:
		var names []string
		for _, s := range p {
			if !strings.HasPrefix(s, "[") {
				names = append(names, s)
			}
		}
		return "an array of tables ([[" + strings.Join(names, ".") + "]])"
	case t.Kind() == reflect.Slice:
		return "an array of " + noun(t.Elem()) + "s"
	case t == reflect.TypeFor[Duration]():
		return `a duration string such as "60s"`
	case strings.IndexByte("aeiou", n[0]) >= 0:
		return "an " + n
	default:
		return "a " + n
	}
}

// noun names the TOML type that fits Go type t.
func noun(t reflect.Type) string {
	if reflect.PointerTo(t).Implements(textUnmarshaler) {
		return "string"
	}
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "integer"
	case reflect.Float32, reflect.Float64:
		return "number"
	case reflect.Slice:
		return "array"
	case reflect.Map, reflect.Struct:
		return "table"
	}
	return "value"
}

// describe names a parsed TOML value for an error message.
func describe(data any) string {
	switch d := data.(type) {
	case string:
		if len(d) > 40 {
			d = d[:37] + "..."
		}
		return "string " + strconv.Quote(d)
	case int64:
		return fmt.Sprintf("integer %d", d)
	case float64:
		return fmt.Sprintf("float %v", d)
	case bool:
		return fmt.Sprintf("boolean %v", d)
	case time.Time:
		return "date-time " + d.Format(time.RFC3339)
	case []map[string]any:
		return "an array of tables"
	case []any:
		return "an array"
	case map[string]any:
		return "a table"
	case nil:
		return "nothing"
	}
	return fmt.Sprintf("%T", data)
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// path is a key in the form Error.Key prints, one element per step: a table
// key, quoted if it is not bare ("stages", `"my model"`), or an index ("[1]").
type path []string

// key and index return a new path; the receiver is never modified, so paths
// can be shared between scopes.
func (p path) key(k string) path { return append(p[:len(p):len(p)], formatKey(k)) }
func (p path) index(i int) path  { return append(p[:len(p):len(p)], "["+strconv.Itoa(i)+"]") }

func (p path) String() string {
	var b strings.Builder
	for i, s := range p {
		if i > 0 && !strings.HasPrefix(s, "[") {
			b.WriteByte('.')
		}
		b.WriteString(s)
	}
	return b.String()
}

// formatKey writes a key the way TOML would: bare if it can be, else quoted.
func formatKey(k string) string {
	if k == "" {
		return `""`
	}
	for _, r := range k {
		if !isBareKeyChar(r) {
			return strconv.Quote(k)
		}
	}
	return k
}

func isBareKeyChar(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-'
}
