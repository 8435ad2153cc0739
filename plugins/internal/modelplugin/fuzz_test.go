package modelplugin

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/valuescope/valuescope/sdk/protocol"
)

// A prompt file either is refused or renders, the conversation substituted
// exactly once per use and never expanded again.
func FuzzTemplate(f *testing.F) {
	for _, s := range []string{"sys\n<!-- user -->\n{{conversation}}", "<!-- x -->{{ labels }} {{conversation}}", "{{conversation", "{{conversation}}<!--"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		tmpl, err := ParseTemplate(text, []string{"labels"}, nil)
		if err != nil {
			return
		}
		system, user := tmpl.Render(map[string]string{PConversation: "\x00{{labels}}\x00", "labels": "L"})
		if user == "" || strings.Count(system+user, "\x00{{labels}}\x00") == 0 {
			t.Fatalf("system %q user %q", system, user)
		}
	})
}

// The transcript keeps at most the budget of the turns' text, plus fixed
// overhead per turn (role label, separator, omission marker).
func FuzzTranscript(f *testing.F) {
	f.Add("hello", "a long answer that goes on", "more", 10, false)
	f.Add("", "\xff\xfe", "é", 0, true)
	f.Fuzz(func(t *testing.T, a, b, c string, budget int, system bool) {
		if budget < 0 || budget > 1<<16 {
			return
		}
		conv := &protocol.Conversation{Turns: []protocol.Turn{{Role: "system", Content: a}, {Role: "user", Content: b}, {Role: "assistant", Content: c}}}
		got := Transcript(conv, budget, system)
		if !utf8.ValidString(got) {
			t.Fatalf("invalid UTF-8: %q", got)
		}
		if budget > 0 && utf8.RuneCountInString(got) > budget+3*(len("Assistant: ")+2+len("\n[…  characters omitted …]\n")+20) {
			t.Fatalf("budget %d, got %d runes: %q", budget, utf8.RuneCountInString(got), got)
		}
		if Transcript(conv, budget, system) != got {
			t.Fatal("not deterministic")
		}
	})
}

// A name NormalizeName accepts passes the host's rule: a model's odd output
// is tidied or dropped, never sent to fail the conversation.
func FuzzNormalizeName(f *testing.F) {
	for _, s := range []string{"Epistemic Humility", "hon\u200besty", "a\x07b", "\ufeffcare\u202e", " x_y. ", "İstanbul", "ǅemal", "\xffhonesty"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		name, ok := NormalizeName(s, 60)
		if !ok {
			return
		}
		if err := protocol.CheckItemName(name); err != nil {
			t.Fatalf("NormalizeName(%q) = %q: %v", s, name, err)
		}
	})
}
