package config

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// indexLines maps every key written in src, in Error.Key form
// ("stages[1].config.depth"), to the line where it first appears. Implicit
// tables (models in [models.claude]) get the line of their first mention;
// array elements the line where the element starts.
//
// The TOML library keeps key positions to itself, so this is a small scanner
// of its own. It runs only on text the library has already parsed, so it
// need not diagnose anything: it only has to follow the structure (headers,
// dotted and quoted keys, strings of all four kinds, arrays and inline tables
// across lines, comments) closely enough to count lines. Whatever it cannot
// place, errors fall back to the nearest ancestor's line.
//
// It also bounds nesting (see [MaxDepth]), and so runs before the TOML
// library, which takes memory and time far beyond the file's size on deep
// input (a 200 KB line of nested inline tables or dotted keys: over 10 GB).
// A key nested deeper is returned as tooDeep, and the scan stops there.
func indexLines(src []byte) (lines map[string]int, tooDeep *Error) {
	s := &lineScanner{
		src:    bytes.TrimPrefix(src, []byte("\xef\xbb\xbf")),
		line:   1,
		lines:  map[string]int{},
		arrays: map[string]int{},
	}
	for {
		s.skipSpace(true)
		if s.eof() {
			return s.lines, s.tooDeep
		}
		if s.peek() == '[' {
			s.header()
		} else {
			s.keyValue(s.table)
		}
		s.skipLine()
	}
}

type lineScanner struct {
	src   []byte
	pos   int
	line  int
	lines map[string]int
	// arrays counts the elements of each array of tables so far, keyed by
	// its resolved key, so that [[stages]] can become stages[2] and a later
	// [stages.config] can find that element.
	arrays map[string]int
	table  path // the table the following key/value lines belong to
	// tooDeep is the first key nested deeper than MaxDepth; the scan ends
	// at it.
	tooDeep *Error
}

// MaxDepth bounds the nesting of a config: the steps of a key's path
// (tables, dotted keys, array elements and inline tables all count), so
// "stages[0].config.depth" is 4 deep. Real configs stay under ten; past the
// bound Load reports the key instead of spending memory on it.
const MaxDepth = 64

// deep reports whether p is too deep and, if so, records it and ends the
// scan: every loop of the scanner stops at the end of the input.
func (s *lineScanner) deep(p path) bool {
	if len(p) <= MaxDepth {
		return false
	}
	if s.tooDeep == nil {
		key := p[:8].String() + "..."
		s.tooDeep = &Error{Line: s.line, Key: key,
			Msg: fmt.Sprintf("nested more than %d levels deep (arrays, tables, inline tables and dotted keys all count)", MaxDepth)}
	}
	s.pos = len(s.src)
	return true
}

func (s *lineScanner) eof() bool { return s.pos >= len(s.src) }

func (s *lineScanner) peek() byte {
	if s.eof() {
		return 0
	}
	return s.src[s.pos]
}

func (s *lineScanner) hasPrefix(p string) bool {
	return bytes.HasPrefix(s.src[s.pos:], []byte(p))
}

// set records the current line for p unless p was seen before.
func (s *lineScanner) set(p path) {
	if s.deep(p) {
		return
	}
	k := p.String()
	if _, ok := s.lines[k]; !ok {
		s.lines[k] = s.line
	}
}

// skipSpace skips blanks and comments, and newlines too if newlines is set.
func (s *lineScanner) skipSpace(newlines bool) {
	for !s.eof() {
		switch s.peek() {
		case ' ', '\t', '\r':
			s.pos++
		case '\n':
			if !newlines {
				return
			}
			s.line++
			s.pos++
		case '#':
			for !s.eof() && s.peek() != '\n' {
				s.pos++
			}
		default:
			return
		}
	}
}

// skipLine moves past the end of the current line.
func (s *lineScanner) skipLine() {
	for !s.eof() {
		c := s.src[s.pos]
		s.pos++
		if c == '\n' {
			s.line++
			return
		}
	}
}

// header reads [a.b] or [[a.b]] and makes it the current table.
func (s *lineScanner) header() {
	double := s.hasPrefix("[[")
	s.pos++
	if double {
		s.pos++
	}
	keys := s.keys()
	var p path
	for i, k := range keys {
		p = p.key(k)
		if s.deep(p) {
			return
		}
		if double && i == len(keys)-1 {
			s.set(p)
			n := s.arrays[p.String()]
			s.arrays[p.String()] = n + 1
			p = p.index(n)
		} else if n, ok := s.arrays[p.String()]; ok && n > 0 {
			p = p.index(n - 1)
		}
		s.set(p)
	}
	s.table = p
}

// keyValue reads key = value, the key relative to base.
func (s *lineScanner) keyValue(base path) {
	p := base
	for _, k := range s.keys() {
		p = p.key(k)
		if s.deep(p) {
			return
		}
		s.set(p)
	}
	s.skipSpace(false)
	if s.peek() != '=' {
		return
	}
	s.pos++
	s.skipSpace(false)
	s.value(p)
}

// keys reads a possibly dotted key, of at most MaxDepth+1 parts (enough
// for the caller to see that it is too deep).
func (s *lineScanner) keys() []string {
	var out []string
	for len(out) <= MaxDepth {
		s.skipSpace(false)
		switch s.peek() {
		case '"':
			out = append(out, unescape(s.quoted('"', true)))
		case '\'':
			out = append(out, s.quoted('\'', false))
		default:
			start := s.pos
			for !s.eof() && isBareKeyChar(rune(s.peek())) {
				s.pos++
			}
			if s.pos == start {
				return out
			}
			out = append(out, string(s.src[start:s.pos]))
		}
		s.skipSpace(false)
		if s.peek() != '.' {
			return out
		}
		s.pos++
	}
	return out
}

// value skips one value, recording the keys inside arrays and inline tables.
func (s *lineScanner) value(p path) {
	switch {
	case s.hasPrefix(`"""`):
		s.multiline(`"""`, true)
	case s.hasPrefix(`'''`):
		s.multiline(`'''`, false)
	case s.peek() == '"':
		s.quoted('"', true)
	case s.peek() == '\'':
		s.quoted('\'', false)
	case s.peek() == '[':
		s.pos++
		for i := 0; ; {
			s.skipSpace(true)
			switch s.peek() {
			case 0:
				return
			case ']':
				s.pos++
				return
			case ',':
				s.pos++
				continue
			}
			start := s.pos
			e := p.index(i)
			if s.deep(e) {
				return
			}
			s.set(e)
			s.value(e)
			i++
			if s.pos == start {
				s.pos++ // cannot happen in valid TOML; never loop forever
			}
		}
	case s.peek() == '{':
		s.pos++
		for {
			s.skipSpace(true)
			switch s.peek() {
			case 0:
				return
			case '}':
				s.pos++
				return
			case ',':
				s.pos++
				continue
			}
			start := s.pos
			s.keyValue(p)
			if s.pos == start {
				s.pos++
			}
		}
	default: // number, boolean, date-time (which may hold a space)
		for !s.eof() && !strings.ContainsRune(",]}#\n", rune(s.peek())) {
			s.pos++
		}
	}
}

// quoted reads a one-line string and returns its raw text between quotes.
func (s *lineScanner) quoted(q byte, escapes bool) string {
	s.pos++
	start := s.pos
	for !s.eof() {
		switch c := s.src[s.pos]; {
		case c == '\\' && escapes:
			s.pos += 2
		case c == q:
			s.pos++
			return string(s.src[start : s.pos-1])
		case c == '\n':
			return string(s.src[start:s.pos])
		default:
			s.pos++
		}
	}
	return string(s.src[start:min(s.pos, len(s.src))])
}

// multiline skips a multi-line string closed by delim, counting its lines.
func (s *lineScanner) multiline(delim string, escapes bool) {
	s.pos += len(delim)
	for !s.eof() {
		if s.hasPrefix(delim) {
			s.pos += len(delim)
			// Up to two quotes right before the closing delimiter belong
			// to the string: """a""""" ends after five.
			for i := 0; i < 2 && s.peek() == delim[0]; i++ {
				s.pos++
			}
			return
		}
		c := s.src[s.pos]
		s.pos++
		if c == '\\' && escapes && !s.eof() {
			c = s.src[s.pos]
			s.pos++
		}
		if c == '\n' {
			s.line++
		}
	}
}

// unescape decodes the escapes of a TOML basic string, for quoted keys.
func unescape(raw string) string {
	if !strings.Contains(raw, `\`) {
		return raw
	}
	var b strings.Builder
	for i := 0; i < len(raw); i++ {
		if raw[i] != '\\' || i+1 >= len(raw) {
			b.WriteByte(raw[i])
			continue
		}
		i++
		switch c := raw[i]; c {
		case 'b':
			b.WriteByte('\b')
		case 't':
			b.WriteByte('\t')
		case 'n':
			b.WriteByte('\n')
		case 'f':
			b.WriteByte('\f')
		case 'r':
			b.WriteByte('\r')
		case 'e':
			b.WriteByte(0x1b)
		case 'x', 'u', 'U':
			n := map[byte]int{'x': 2, 'u': 4, 'U': 8}[c]
			if i+n >= len(raw) {
				b.WriteString(raw[i-1:])
				return b.String()
			}
			r, err := strconv.ParseUint(raw[i+1:i+1+n], 16, 32)
			if err != nil || !utf8.ValidRune(rune(r)) {
				b.WriteString(raw[i-1 : i+1+n])
			} else {
				b.WriteRune(rune(r))
			}
			i += n
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
