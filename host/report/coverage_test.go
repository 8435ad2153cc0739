package report

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/valuescope/valuescope/host/analysis"
	"github.com/valuescope/valuescope/host/conversation"
	"github.com/valuescope/valuescope/host/runfolder"
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

// The dataset gone, or changed since the run: the report says so and
// still stands; a conversation not found is not counted as covered.
func TestCoverageDatasetGoneOrChanged(t *testing.T) {
	ctx := t.Context()
	runConvs := map[[2]string]*analysis.Conversation{}
	find := func(source, id string) (*analysis.Conversation, error) { return runConvs[[2]string{source, id}], nil }
	m := &runfolder.Manifest{Dataset: runfolder.DatasetInfo{Paths: []string{filepath.Join(t.TempDir(), "gone.jsonl")}},
		Stages: []runfolder.StageInfo{{Name: "values", Plugin: runfolder.PluginInfo{Ref: "builtin:cue-values"}}}}
	cv, err := coverageOf(ctx, find, 1, false, m)
	if err != nil {
		t.Fatal(err)
	}
	if cv.Read != 0 || !strings.Contains(cv.Note, "languages not checked") || len(cv.Warnings) != 1 || !strings.Contains(cv.Warnings[0], "offline heuristic") {
		t.Errorf("dataset gone: %+v", cv)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "d.jsonl")
	lines := `{"id":"a","messages":[{"role":"user","content":"你好，请介绍一下长城"},{"role":"assistant","content":"长城是中国古代的军事防御工程。"}]}
{"id":"b","messages":[{"role":"user","content":"Hello"}]}
`
	if err := os.WriteFile(path, []byte(lines), 0o644); err != nil {
		t.Fatal(err)
	}
	m.Dataset.Paths = []string{path}
	runConvs[[2]string{"d.jsonl", "a"}] = &analysis.Conversation{Seq: 0, Source: "d.jsonl", ID: "a", ContentSHA: "not-its-hash", Meta: map[string]string{}}
	runConvs[[2]string{"d.jsonl", "b"}] = &analysis.Conversation{Seq: 1, Source: "d.jsonl", ID: "b", Meta: map[string]string{}}
	// A third conversation of the run is not in the file.
	cv, err = coverageOf(ctx, find, 3, false, m)
	if err != nil {
		t.Fatal(err)
	}
	if cv.Read != 2 || cv.NoAssistant != 1 || cv.Methods[0].Uncovered != 1 ||
		!strings.Contains(cv.Note, "1 of the run's 3 conversations were not found") || !strings.Contains(cv.Note, "1 conversations changed") {
		t.Errorf("changed dataset: %+v", cv)
	}
	// Metadata language wins over the script.
	runConvs[[2]string{"d.jsonl", "a"}].Meta[MetaLanguage] = "English"
	if cv, err = coverageOf(ctx, find, 3, true, m); err != nil || cv.Methods[0].Uncovered != 0 {
		t.Errorf("metadata English: %+v, %v", cv, err)
	}
}
