// Package cuematch finds many short cue phrases in a text in one pass.
//
// It is the matching engine of the cue-based built-in plugins (the
// cue-values extractor and the response-type classifier). A Matcher is an
// Aho–Corasick automaton compiled once, at package init, from a list of cue
// patterns; Scan then walks a message byte by byte, whatever the number of
// cues, so that a 1 MB message with a thousand cues costs a few milliseconds
// and no allocation.
//
// # Pattern syntax
//
// A pattern is lower-case text, matched case-insensitively (ASCII letters are
// folded) at word boundaries:
//
//   - "{a|b|c}" is an alternation; several groups multiply out, and an empty
//     alternative is allowed: "is {really |very |}important to me".
//   - A trailing "*" drops the right word boundary, so that "transparen*"
//     matches "transparent", "transparency" and "transparently".
//   - A single space matches any run of white space (spaces, tabs, newlines).
//   - A straight apostrophe or double quote also matches the typographic
//     ones (’ ‘ “ ”), so "i can't" matches "I can’t".
//   - A pattern that begins (ends) with a letter or digit must begin (end) at
//     a word boundary: "honest" does not match inside "dishonest". Patterns
//     that begin or end with punctuation ("```") have no such constraint.
//
// Matching is byte-oriented: it never fails on invalid UTF-8, and patterns
// may contain non-ASCII letters, which then match only in the case written.
package cuematch

import (
	"fmt"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxPatternLen bounds a pattern's length in symbols (bytes after folding).
const MaxPatternLen = 128

// MaxStates bounds the automaton (states are 16-bit, which halves the
// transition table; about 20 states per cue of 20 characters).
const MaxStates = 1 << 16

const ringMask = MaxPatternLen - 1

// Match is one occurrence of a pattern: text[Start:End] in the scanned text
// (for a prefix pattern, "transparen*", the prefix only).
// ID is the index of the pattern in the list given to Compile (all the
// expansions of one pattern share its ID).
type Match struct {
	ID, Start, End int
}

// variant is one expansion of a pattern, as it sits in the automaton.
type variant struct {
	id          int32
	n           int32 // length in symbols
	left, right bool  // word boundary required at the start / the end
}

// Matcher is a compiled set of patterns. It is immutable and safe for
// concurrent use.
type Matcher struct {
	class    [256]uint8 // byte -> symbol class; 0 is "no pattern has it"
	space    uint8      // class of white space
	apos     uint8      // class of '\''
	quote    uint8      // class of '"'
	nclass   int
	out      [][]int32 // state -> variants ending there, longest first
	next     []uint16  // the final DFA: state*nclass+class -> next state
	firstOut int       // states >= firstOut have variants ending there
	variants []variant
	patterns int
}

// MustCompile is Compile for tables written in source: it panics on a
// malformed pattern, which a test of the table then catches.
func MustCompile(patterns []string) *Matcher {
	m, err := Compile(patterns)
	if err != nil {
		panic(err)
	}
	return m
}

// Compile builds a Matcher from patterns (see the package comment).
func Compile(patterns []string) (*Matcher, error) {
	type exp struct {
		id     int32
		text   string
		prefix bool
	}
	var exps []exp
	for id, p := range patterns {
		alts, err := Expand(p)
		if err != nil {
			return nil, fmt.Errorf("cue %q: %w", p, err)
		}
		for _, a := range alts {
			prefix := strings.HasSuffix(a, "*")
			a = strings.TrimSuffix(a, "*")
			a = normalize(a)
			if a == "" {
				return nil, fmt.Errorf("cue %q: empty expansion", p)
			}
			if len(a) > MaxPatternLen {
				return nil, fmt.Errorf("cue %q: longer than %d bytes", p, MaxPatternLen)
			}
			exps = append(exps, exp{int32(id), a, prefix})
		}
	}

	m := &Matcher{patterns: len(patterns)}
	// Symbol classes: one per distinct byte used by the patterns, plus 0.
	next := uint8(1)
	for _, e := range exps {
		for i := 0; i < len(e.text); i++ {
			b := e.text[i]
			if m.class[b] == 0 {
				if next == 255 {
					return nil, fmt.Errorf("too many distinct pattern bytes")
				}
				m.class[b] = next
				next++
			}
		}
	}
	for _, b := range []byte{' ', '\'', '"'} {
		if m.class[b] == 0 {
			m.class[b] = next
			next++
		}
	}
	for c := byte('A'); c <= 'Z'; c++ {
		m.class[c] = m.class[c+'a'-'A']
	}
	m.space = m.class[' ']
	for _, b := range []byte{'\t', '\n', '\r', '\v', '\f'} {
		m.class[b] = m.space
	}
	m.apos, m.quote = m.class['\''], m.class['"']
	m.nclass = int(next)
	nc := m.nclass

	// The trie, with sparse edges: the dense table is allocated once, at
	// the end, when the number of states is known.
	type edge struct {
		c  uint8
		to int32
	}
	var (
		edges [][]edge
		own   [][]int32 // variants ending at each state
	)
	child := func(s int32, c uint8) int32 {
		for _, e := range edges[s] {
			if e.c == c {
				return e.to
			}
		}
		return -1
	}
	newState := func() int32 {
		edges = append(edges, nil)
		own = append(own, nil)
		return int32(len(edges) - 1)
	}
	newState()
	for _, e := range exps {
		s := int32(0)
		for i := 0; i < len(e.text); i++ {
			c := m.class[e.text[i]]
			t := child(s, c)
			if t < 0 {
				t = newState()
				edges[s] = append(edges[s], edge{c, t})
			}
			s = t
		}
		v := variant{
			id:    e.id,
			n:     int32(len(e.text)),
			left:  isWordByte(e.text[0]),
			right: !e.prefix && isWordByte(e.text[len(e.text)-1]),
		}
		// The same expansion twice (from two alternations) is kept once.
		dup := false
		for _, vi := range own[s] {
			if m.variants[vi] == v {
				dup = true
			}
		}
		if !dup {
			m.variants = append(m.variants, v)
			own[s] = append(own[s], int32(len(m.variants)-1))
		}
	}
	n := len(edges)
	if n > MaxStates {
		return nil, fmt.Errorf("%d automaton states, more than %d", n, MaxStates)
	}

	// Failure links in breadth-first order; each state's outputs are its
	// own plus those of its failure state.
	fail := make([]int32, n)
	order := make([]int32, 0, n) // breadth-first, root first
	order = append(order, 0)
	out := own
	for q := 0; q < len(order); q++ {
		s := order[q]
		for _, e := range edges[s] {
			f := int32(0)
			if s != 0 {
				for f = fail[s]; ; f = fail[f] {
					if t := child(f, e.c); t >= 0 {
						f = t
						break
					}
					if f == 0 {
						break
					}
				}
			}
			fail[e.to] = f
			if len(out[f]) > 0 {
				merged := make([]int32, 0, len(out[e.to])+len(out[f]))
				merged = append(merged, out[e.to]...)
				merged = append(merged, out[f]...)
				out[e.to] = merged
			}
			order = append(order, e.to)
		}
	}
	for _, o := range out {
		sort.SliceStable(o, func(i, j int) bool { return m.variants[o[i]].n > m.variants[o[j]].n })
	}

	// Number the states so that those with outputs come last (Scan then
	// tests a state number instead of loading a flag), and fill the dense
	// table in breadth-first order: a missing edge takes the failure
	// state's transition, already filled since that state is shallower.
	perm := make([]int, n) // trie state -> final state
	k := 0
	for s := 0; s < n; s++ {
		if len(out[s]) == 0 {
			perm[s] = k
			k++
		}
	}
	m.firstOut = k
	for s := 0; s < n; s++ {
		if len(out[s]) > 0 {
			perm[s] = k
			k++
		}
	}
	m.out = make([][]int32, n)
	m.next = make([]uint16, n*nc)
	for _, s := range order {
		ns := perm[s]
		m.out[ns] = out[s]
		row := m.next[ns*nc : ns*nc+nc]
		if s != 0 {
			copy(row, m.next[perm[fail[s]]*nc:perm[fail[s]]*nc+nc])
		}
		for _, e := range edges[s] {
			row[e.c] = uint16(perm[e.to])
		}
	}
	return m, nil
}

// Patterns is the number of patterns the Matcher was compiled from.
func (m *Matcher) Patterns() int { return m.patterns }

// States is the number of automaton states (a measure of its size).
func (m *Matcher) States() int { return len(m.out) }

// Scan reports every match in text, in order of end position; matches that
// end at the same place come longest first. fn returns false to stop.
func (m *Matcher) Scan(text string, fn func(Match) bool) {
	var ring [MaxPatternLen]int // start offset of the last symbols
	nc := m.nclass
	next, firstOut := m.next, m.firstOut
	state := 0 // the root keeps number 0: it has no outputs
	sym := 0
	prevSpace := true // leading white space is skipped like repeated space
	for i := 0; i < len(text); {
		start := i
		b := text[i]
		var c uint8
		if b == 0xE2 && i+2 < len(text) && text[i+1] == 0x80 {
			switch text[i+2] {
			case 0x98, 0x99: // ‘ ’
				c, i = m.apos, i+3
			case 0x9C, 0x9D: // “ ”
				c, i = m.quote, i+3
			default:
				c, i = m.class[b], i+1
			}
		} else {
			c, i = m.class[b], i+1
		}
		if c == m.space {
			if prevSpace {
				continue
			}
			prevSpace = true
		} else {
			prevSpace = false
		}
		ring[sym&ringMask] = start
		sym++
		state = int(next[state*nc+int(c)])
		if state < firstOut {
			continue
		}
		for _, vi := range m.out[state] {
			v := &m.variants[vi]
			s := ring[(sym-int(v.n))&ringMask]
			if v.left && s > 0 && wordBefore(text, s) {
				continue
			}
			if v.right && i < len(text) && wordAt(text, i) {
				continue
			}
			if !fn(Match{ID: int(v.id), Start: s, End: i}) {
				return
			}
		}
	}
}

// Expand multiplies out the {a|b} alternations of a pattern.
func Expand(p string) ([]string, error) {
	out := []string{""}
	for len(p) > 0 {
		open := strings.IndexByte(p, '{')
		if open < 0 {
			if strings.ContainsAny(p, "|}") {
				return nil, fmt.Errorf("stray | or }")
			}
			for i := range out {
				out[i] += p
			}
			break
		}
		lit := p[:open]
		if strings.ContainsAny(lit, "|}") {
			return nil, fmt.Errorf("stray | or }")
		}
		end := strings.IndexByte(p[open:], '}')
		if end < 0 {
			return nil, fmt.Errorf("unclosed {")
		}
		group := p[open+1 : open+end]
		if strings.ContainsRune(group, '{') {
			return nil, fmt.Errorf("nested {")
		}
		alts := strings.Split(group, "|")
		next := make([]string, 0, len(out)*len(alts))
		for _, o := range out {
			for _, a := range alts {
				next = append(next, o+lit+a)
			}
		}
		out = next
		p = p[open+end+1:]
	}
	for _, o := range out {
		if i := strings.IndexByte(o, '*'); i >= 0 && i != len(o)-1 {
			return nil, fmt.Errorf("* only at the end")
		}
	}
	return out, nil
}

// normalize lower-cases ASCII, collapses white space and maps typographic
// quotes to straight ones, as Scan does to the text.
func normalize(s string) string {
	s = strings.NewReplacer("’", "'", "‘", "'", "“", `"`, "”", `"`).Replace(s)
	var b strings.Builder
	space := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			if !space {
				b.WriteByte(' ')
			}
			space = true
			continue
		case 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		}
		space = false
		b.WriteByte(c)
	}
	return strings.TrimRight(b.String(), " ")
}

func isWordByte(b byte) bool {
	return b >= 0x80 || b == '_' || ('a' <= b && b <= 'z') || ('A' <= b && b <= 'Z') || ('0' <= b && b <= '9')
}

func isWordRune(r rune) bool {
	return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r)
}

// wordBefore reports whether the rune ending at text[i] is a letter or digit.
func wordBefore(text string, i int) bool {
	if b := text[i-1]; b < utf8.RuneSelf {
		return isWordByte(b)
	}
	r, _ := utf8.DecodeLastRuneInString(text[:i])
	return isWordRune(r)
}

// wordAt reports whether the rune starting at text[i] is a letter or digit.
func wordAt(text string, i int) bool {
	if b := text[i]; b < utf8.RuneSelf {
		return isWordByte(b)
	}
	r, _ := utf8.DecodeRuneInString(text[i:])
	return isWordRune(r)
}
