package explore

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// TestHighlightReplacementChar: a U+FFFD written in the text (three
// bytes, valid UTF-8) and an invalid byte before the quote must not shift
// the highlight off the quote or cut a character.
func TestHighlightReplacementChar(t *testing.T) {
	for _, c := range []struct{ text, quote string }{
		{"before \uFFFD\uFFFD then honesty matters here", "honesty matters"},
		{"before \xff\xfe then honesty matters here", "honesty matters"},
		{"\uFFFD  \xff honesty\u00a0matters here \uFFFD", "honesty matters"},
		{"it said honesty matters\uFFFD\uFFFD and more", "honesty matters\uFFFD\uFFFD"},
		{"it said \uFFFDhonesty matters and more", "\uFFFDhonesty matters"},
	} {
		text := c.text
		want := strings.Join(strings.Fields(c.quote), " ")
		segs, found := highlight(text, []quote{{n: 1, side: "a", text: c.quote}}, map[int]bool{})
		if !found[1] {
			t.Fatalf("%q: quote not found", text)
		}
		var joined strings.Builder
		for _, s := range segs {
			joined.WriteString(s.Text)
			if utf8.ValidString(text) && !utf8.ValidString(s.Text) {
				t.Errorf("%q: segment %q cuts a character", text, s.Text)
			}
			if len(s.Marks) > 0 && strings.Join(strings.Fields(s.Text), " ") != want {
				t.Errorf("%q: highlighted %q, want the quote", text, s.Text)
			}
		}
		if joined.String() != text {
			t.Errorf("segments %q do not make the text %q", joined.String(), text)
		}
	}
}
