package report

import (
	"strings"
	"testing"

	"github.com/valuescope/valuescope/host/analysis"
	"github.com/valuescope/valuescope/host/conversation"
)

func conv(turns ...string) *conversation.Conversation {
	c := &conversation.Conversation{}
	for i, t := range turns {
		role := conversation.User
		if i%2 == 1 {
			role = conversation.Assistant
		}
		c.Turns = append(c.Turns, conversation.Turn{Role: role, Content: t})
	}
	return c
}

// The script detector on the hard cases: code-heavy Chinese (more Latin
// letters than Han), Japanese (Han with kana), text without letters, and
// metadata that says otherwise.
func TestDetectScript(t *testing.T) {
	code := "```go\nfunc main() { fmt.Println(\"hello world\") }\n```\n"
	for _, c := range []struct {
		name  string
		conv  *conversation.Conversation
		label string
		en    bool
	}{
		{"english", conv("How do I sort a list?", "Use sorted(list)."), "Latin script", true},
		{"chinese with code", conv("用 Go 写一个程序", "这是一个例子："+code+code), "Chinese (Han script)", false},
		{"japanese", conv("和田光司さんについて教えてください", "和田光司は日本の歌手です。"), "Japanese (kana)", false},
		{"korean", conv("안녕하세요", "무엇을 도와드릴까요?"), "Korean (Hangul)", false},
		{"russian", conv("Привет, как дела?", "Хорошо, спасибо."), "Cyrillic script", false},
		{"no letters", conv("123 + 456", "579"), "no letters", false},
		{"empty", &conversation.Conversation{}, "no letters", false},
	} {
		l := detectScript(c.conv)
		if l.Label != c.label || covers([]string{"en"}, l) != c.en {
			t.Errorf("%s: %+v, covered by English %v; want %s, %v", c.name, l, covers([]string{"en"}, l), c.label, c.en)
		}
	}
	if l := metaLanguage("Chinese"); l.Code != "zh" || covers([]string{"en"}, l) {
		t.Errorf("metadata Chinese: %+v", l)
	}
	if l := metaLanguage("en-US"); l.Code != "en" || !covers([]string{"en"}, l) {
		t.Errorf("metadata en-US: %+v", l)
	}
	if l := metaLanguage("Klingon"); covers([]string{"en"}, l) {
		t.Errorf("an unknown language in metadata is covered: %+v", l)
	}
	if !covers(nil, Language{Label: "no letters"}) {
		t.Error("a plugin that declares no languages does not cover everything")
	}
}

// Degenerate tables are a sentence, not a heatmap: one column, one row,
// no degrees of freedom.
func TestDegenerateHeatmap(t *testing.T) {
	cell := []*Cell{{Count: 7}}
	one := &Heatmap{Cols: "response_type", Values: []string{"a", "b"}, Contexts: []string{"no values"}, Cells: [][]*Cell{cell, cell},
		Summary: analysis.Summary{Rows: 2, Cols: 1, DF: 0}}
	if s := degenerate(one); !strings.Contains(s, "Only one response_type (no values)") {
		t.Errorf("one column: %q", s)
	}
	row := &Heatmap{Cols: "response_type", Values: []string{"a"}, Contexts: []string{"x", "y"}, Cells: [][]*Cell{{cell[0], cell[0]}},
		Summary: analysis.Summary{Rows: 1, Cols: 2, DF: 0}}
	if s := degenerate(row); !strings.Contains(s, "Only one value") {
		t.Errorf("one row: %q", s)
	}
	ok := &Heatmap{Values: []string{"a", "b"}, ValueCounts: []float64{2, 2}, Contexts: []string{"x", "y"}, ContextCounts: []float64{2, 2}, Cells: [][]*Cell{{cell[0], cell[0]}, {cell[0], cell[0]}},
		Summary: analysis.Summary{Rows: 2, Cols: 2, DF: 1, ChiSquare: 3}}
	if s := degenerate(ok); s != "" {
		t.Errorf("2x2: %q", s)
	}
	if s := string(heat(ok)); !strings.Contains(s, `class="cell">0.0</text>`) {
		t.Errorf("cells without their residual: %s", s)
	}
}
