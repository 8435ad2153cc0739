package explore

import (
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/valuescope/valuescope/host/conversation"
)

// Segment is a stretch of a turn's text, with the annotations whose
// evidence covers it (none: plain text).
type Segment struct {
	Text  string `json:"text"`
	Marks []int  `json:"marks,omitempty"` // annotation numbers (AnnView.N)
	// Anchors are set on the first segment of each annotation's evidence,
	// so that #ev-N scrolls to it.
	Anchors []string `json:"anchors,omitempty"`
	Side    string   `json:"side,omitempty"` // "a", "b" or "ab": whose evidence
}

// quote is an annotation's evidence to find.
type quote struct {
	n    int
	side string
	text string
	// role is the role of the turns the evidence is quoted from ("" any):
	// see quoteRole.
	role string
	// turn is the index of the turn an annotation records its evidence
	// from (attribute "turn"), or -1.
	turn int
}

// quoteRole is the role of the turns a field's evidence is quoted from, as
// the extractors decide it (plugins/extractors: cue-values and values
// quote ai_values from the assistant's turns, human_values from the
// user's): a field named ai_* is the assistant's, human_* or user_* the
// user's; any other field's evidence may be in any turn.
func quoteRole(field string) string {
	switch {
	case strings.HasPrefix(field, "ai_"):
		return "assistant"
	case strings.HasPrefix(field, "human_"), strings.HasPrefix(field, "user_"):
		return "user"
	}
	return ""
}

// placeQuotes assigns each quote to the one turn it is highlighted in: the
// turn the annotation records, else the first of its side's turns that
// holds it (cue-values quotes a value's first occurrence; a quote the
// user's text repeats is not the assistant's evidence). The result is the
// quotes of each turn.
func placeQuotes(turns []conversation.Turn, quotes []quote) [][]quote {
	out := make([][]quote, len(turns))
	cs := make([]*collapsed, len(turns))
	for _, q := range quotes {
		for i, t := range turns {
			if q.turn >= 0 && i != q.turn || q.role != "" && t.Role != q.role {
				continue
			}
			if cs[i] == nil {
				c := collapse(t.Content)
				cs[i] = &c
			}
			if _, _, ok := cs[i].find(q.text); ok {
				out[i] = append(out[i], q)
				break
			}
		}
	}
	return out
}

// span is where a quote was found in a text, in bytes.
type span struct{ from, to, n int }

// collapsed is a text with each run of white space made one space, and for
// each of its bytes the offset of the byte of the text it came from: the
// evidence of extractors is a quote with white space collapsed (cue-values,
// the model's quotes), so it is looked for in the text collapsed the same
// way and its place mapped back.
type collapsed struct {
	s   string
	off []int // len(s)+1 offsets into the original
}

func collapse(text string) collapsed {
	var b strings.Builder
	var off []int
	space := false
	for i := 0; i < len(text); {
		// The size decoded: 1 for an invalid byte, 3 for a U+FFFD written
		// in the text.
		r, n := utf8.DecodeRuneInString(text[i:])
		if unicode.IsSpace(r) {
			if !space {
				b.WriteByte(' ')
				off = append(off, i)
			}
			space = true
			i += n
			continue
		}
		space = false
		for k := range n {
			off = append(off, i+k)
		}
		b.WriteString(text[i : i+n])
		i += n
	}
	off = append(off, len(text))
	return collapsed{b.String(), off}
}

// find is where q occurs in c (byte offsets of the original text): exact,
// else ignoring case; ok false when it does not occur.
func (c collapsed) find(q string) (from, to int, ok bool) {
	q = collapse(strings.TrimSpace(q)).s
	if q == "" {
		return 0, 0, false
	}
	i := strings.Index(c.s, q)
	if i < 0 {
		// Lower-casing keeps byte offsets only where it keeps lengths.
		ls, lq := strings.ToLower(c.s), strings.ToLower(q)
		if len(ls) == len(c.s) && len(lq) == len(q) {
			i = strings.Index(ls, lq)
		}
	}
	if i < 0 {
		return 0, 0, false
	}
	// Runes map byte by byte and the quote ends in no space: its last
	// byte's offset, plus one, ends it in the original.
	return c.off[i], c.off[i+len(q)-1] + 1, true
}

// highlight splits text into segments marked by the quotes found in it,
// and reports which quotes were found.
func highlight(text string, quotes []quote, anchored map[int]bool) ([]Segment, map[int]bool) {
	c := collapse(text)
	found := map[int]bool{}
	side := map[int]string{}
	var spans []span
	for _, q := range quotes {
		if from, to, ok := c.find(q.text); ok {
			spans = append(spans, span{from, to, q.n})
			found[q.n] = true
			side[q.n] = q.side
		}
	}
	if len(spans) == 0 {
		return []Segment{{Text: text}}, found
	}
	// Cut the text at every span boundary; each piece is covered by the
	// spans around it.
	cuts := []int{0, len(text)}
	for _, s := range spans {
		cuts = append(cuts, s.from, s.to)
	}
	sort.Ints(cuts)
	var segs []Segment
	for k := 0; k+1 < len(cuts); k++ {
		from, to := cuts[k], cuts[k+1]
		if from == to {
			continue
		}
		seg := Segment{Text: text[from:to]}
		sides := ""
		for _, s := range spans {
			if s.from <= from && to <= s.to {
				seg.Marks = append(seg.Marks, s.n)
				if !strings.Contains(sides, side[s.n]) {
					sides += side[s.n]
				}
				if !anchored[s.n] {
					anchored[s.n] = true
					seg.Anchors = append(seg.Anchors, anchorOf(s.n))
				}
			}
		}
		if sides == "ba" {
			sides = "ab"
		}
		seg.Side = sides
		segs = append(segs, seg)
	}
	return segs, found
}

func anchorOf(n int) string { return "ev-" + strconv.Itoa(n) }
