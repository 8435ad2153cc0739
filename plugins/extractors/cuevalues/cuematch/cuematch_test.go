package cuematch

import (
	"math/rand"
	"reflect"
	"sort"
	"strings"
	"testing"
)

func TestExpand(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
		err  bool
	}{
		{in: "plain", want: []string{"plain"}},
		{in: "a {b|c} d", want: []string{"a b d", "a c d"}},
		{in: "{x|y}{1|2}", want: []string{"x1", "x2", "y1", "y2"}},
		{in: "is {really |}important", want: []string{"is really important", "is important"}},
		{in: "pre*", want: []string{"pre*"}},
		{in: "a {b", err: true},
		{in: "a b}", err: true},
		{in: "a|b", err: true},
		{in: "{a{b}}", err: true},
		{in: "a* b", err: true},
	} {
		got, err := Expand(tc.in)
		if tc.err {
			if err == nil {
				t.Errorf("Expand(%q) = %q, want an error", tc.in, got)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Expand(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestCompileErrors(t *testing.T) {
	for _, p := range []string{"", "   ", "{a|}", "a {b", strings.Repeat("x", MaxPatternLen+1)} {
		if _, err := Compile([]string{p}); err == nil {
			t.Errorf("Compile(%q): no error", p)
		}
	}
}

func all(m *Matcher, text string) []Match {
	var out []Match
	m.Scan(text, func(x Match) bool { out = append(out, x); return true })
	return out
}

func TestScan(t *testing.T) {
	m := MustCompile([]string{
		"honest",             // 0
		"i can't help with",  // 1
		"transparen*",        // 2
		"```",                // 3
		"academic integrity", // 4
		"integrity",          // 5
		"privatsphäre",       // 6
		`"hello"`,            // 7
	})
	for _, tc := range []struct {
		text string
		want []Match
	}{
		{"To be HONEST, no.", []Match{{0, 6, 12}}},
		{"that was dishonest", nil},
		{"honesty matters", nil},
		{"I can’t help with that", []Match{{1, 0, 19}}},
		{"I  can't\n\thelp   with it", []Match{{1, 0, 21}}},
		{"Transparency first", []Match{{2, 0, 10}}}, // a prefix cue matches its prefix,
		{"intransparent", nil},
		{"x```go\n", []Match{{3, 1, 4}}},
		{"academic integrity.", []Match{{4, 0, 18}, {5, 9, 18}}},
		{"Ihre Privatsphäre!", []Match{{6, 5, 18}}},
		{"say “hello” now", []Match{{7, 4, 15}}},
		{"", nil},
		{"\xff\xfehonest\xff", []Match{{0, 2, 8}}},
	} {
		if got := all(m, tc.text); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Scan(%q) = %v, want %v", tc.text, got, tc.want)
		}
	}
}

func TestScanStops(t *testing.T) {
	m := MustCompile([]string{"a"})
	n := 0
	m.Scan("a a a a", func(Match) bool { n++; return n < 2 })
	if n != 2 {
		t.Fatalf("callback ran %d times after returning false, want 2", n)
	}
}

// naive is the obvious quadratic matcher the automaton must agree with.
func naive(pats []string, text string) []Match {
	low := []byte(strings.ToLower(text))
	var out []Match
	for id, p := range pats {
		prefix := strings.HasSuffix(p, "*")
		p = strings.TrimSuffix(p, "*")
		for s := 0; s+len(p) <= len(low); s++ {
			if string(low[s:s+len(p)]) != p {
				continue
			}
			e := s + len(p)
			if isWordByte(p[0]) && s > 0 && isWordByte(low[s-1]) {
				continue
			}
			if !prefix && isWordByte(p[len(p)-1]) && e < len(low) && isWordByte(low[e]) {
				continue
			}
			out = append(out, Match{id, s, e})
		}
	}
	return out
}

func sortMatches(ms []Match) {
	sort.Slice(ms, func(i, j int) bool {
		if ms[i].End != ms[j].End {
			return ms[i].End < ms[j].End
		}
		if ms[i].Start != ms[j].Start {
			return ms[i].Start < ms[j].Start
		}
		return ms[i].ID < ms[j].ID
	})
}

// TestAgainstNaive compares the automaton with the quadratic matcher on
// random texts over a small alphabet (single spaces, ASCII only, so that the
// two agree on what a symbol is).
func TestAgainstNaive(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	const alpha = "abAB .'"
	word := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = "ab.'"[rng.Intn(4)]
		}
		return string(b)
	}
	for round := 0; round < 200; round++ {
		var pats []string
		for i := 0; i < 1+rng.Intn(12); i++ {
			p := word(1 + rng.Intn(4))
			if rng.Intn(3) == 0 {
				p += " " + word(1+rng.Intn(3))
			}
			if rng.Intn(4) == 0 {
				p += "*"
			}
			pats = append(pats, p)
		}
		m, err := Compile(pats)
		if err != nil {
			t.Fatal(err)
		}
		b := make([]byte, rng.Intn(200))
		for i := range b {
			b[i] = alpha[rng.Intn(len(alpha))]
			if b[i] == ' ' && i > 0 && b[i-1] == ' ' {
				b[i] = 'a'
			}
		}
		text := strings.TrimLeft(string(b), " ")
		got, want := all(m, text), naive(pats, text)
		sortMatches(got)
		sortMatches(want)
		// The automaton reports a duplicated pattern once per ID and
		// expansion; the naive one likewise, so the lists must be equal.
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("patterns %q\ntext %q\ngot  %v\nwant %v", pats, text, got, want)
		}
	}
}

func BenchmarkScan1MB(b *testing.B) {
	var pats []string
	for i := 0; i < 500; i++ {
		pats = append(pats, "cue phrase number "+strings.Repeat("x", i%7)+string(rune('a'+i%26)))
	}
	m := MustCompile(pats)
	text := strings.Repeat("The quick brown fox jumps over the lazy dog, and I can't help with that. ", 1<<20/72)
	b.SetBytes(int64(len(text)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		m.Scan(text, func(Match) bool { return true })
	}
}
