package report

import (
	"fmt"
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
// metadata that says otherwise. Text without letters is in no language:
// not counted against a plugin (Coverage.NoLetters counts it apart).
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
		{"no letters", conv("123 + 456", "579"), "no letters", true},
		{"empty", &conversation.Conversation{}, "no letters", true},
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
	cv, err := coverageOf(ctx, find, 1, false, m, analysis.Floor{}, false)
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
	cv, err = coverageOf(ctx, find, 3, false, m, analysis.Floor{}, false)
	if err != nil {
		t.Fatal(err)
	}
	if cv.Read != 2 || cv.NoAssistant != 1 || cv.Methods[0].Uncovered != 1 ||
		!strings.Contains(cv.Note, "1 of the run's 3 conversations were not found") || !strings.Contains(cv.Note, "1 conversations changed") {
		t.Errorf("changed dataset: %+v", cv)
	}
	// Metadata language wins over the script.
	runConvs[[2]string{"d.jsonl", "a"}].Meta[MetaLanguage] = "English"
	if cv, err = coverageOf(ctx, find, 3, true, m, analysis.Floor{}, false); err != nil || cv.Methods[0].Uncovered != 0 {
		t.Errorf("metadata English: %+v, %v", cv, err)
	}
}

// The coverage section is shareable: with the floor at 5, one Cyrillic
// conversation among Chinese and English ones is folded into "other
// languages" with the smallest shown label (so that Read less the shown
// counts gives no count under 5), the plugin's uncovered count says "at
// least" when its part in the folded languages is under the floor, and one
// conversation without an assistant turn is "fewer than 5".
func TestCoverageFloor(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	path := filepath.Join(dir, "d.jsonl")
	runConvs := map[[2]string]*analysis.Conversation{}
	var b strings.Builder
	add := func(id, line string) {
		b.WriteString(line + "\n")
		runConvs[[2]string{"d.jsonl", id}] = &analysis.Conversation{Seq: int64(len(runConvs)), Source: "d.jsonl", ID: id, Meta: map[string]string{}}
	}
	for k := range 30 {
		add(fmt.Sprint("en", k), fmt.Sprintf(`{"id":"en%d","messages":[{"role":"user","content":"Hello"},{"role":"assistant","content":"Hello, how can I help you today?"}]}`, k))
	}
	for k := range 20 {
		add(fmt.Sprint("zh", k), fmt.Sprintf(`{"id":"zh%d","messages":[{"role":"user","content":"你好"},{"role":"assistant","content":"长城是中国古代的军事防御工程。"}]}`, k))
	}
	for k := range 6 {
		add(fmt.Sprint("ko", k), fmt.Sprintf(`{"id":"ko%d","messages":[{"role":"user","content":"안녕하세요"},{"role":"assistant","content":"무엇을 도와드릴까요?"}]}`, k))
	}
	add("ru", `{"id":"ru","messages":[{"role":"user","content":"Привет"},{"role":"assistant","content":"Привет, чем могу помочь?"}]}`)
	add("q", `{"id":"q","messages":[{"role":"user","content":"A question nobody answered"}]}`)
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	m := &runfolder.Manifest{Dataset: runfolder.DatasetInfo{Paths: []string{path}},
		Stages: []runfolder.StageInfo{{Name: "values", Plugin: runfolder.PluginInfo{Ref: "builtin:cue-values"}}}}
	find := func(source, id string) (*analysis.Conversation, error) { return runConvs[[2]string{source, id}], nil }
	cv, err := coverageOf(ctx, find, len(runConvs), false, m, analysis.Floor{MinConversations: 5}, false)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, c := range cv.Languages {
		got[c.Value] = c.Count
	}
	// Latin 31 (30 + the unanswered question), Han 20, other: Korean 6 + Cyrillic 1.
	if len(got) != 3 || got["Latin script"] != 31 || got["Chinese (Han script)"] != 20 || got[OtherLanguages] != 7 {
		t.Errorf("languages: %+v", cv.Languages)
	}
	// Uncovered: Han 20 shown, 7 folded (at the floor: exact).
	if me := cv.Methods[0]; me.Uncovered != 27 || me.UncoveredNote != "" {
		t.Errorf("uncovered: %d %q", me.Uncovered, me.UncoveredNote)
	}
	all := strings.Join(cv.Warnings, " ")
	if cv.NoAssistant != 0 || cv.NoAssistantNote != "fewer than 5" || !strings.Contains(all, "Fewer than 5 of the 58 conversations read have no assistant turn") {
		t.Errorf("no assistant: %d %q; %s", cv.NoAssistant, cv.NoAssistantNote, all)
	}
	for _, bad := range []string{"Cyrillic", "Korean", " 1 ", "(1)"} {
		if strings.Contains(all, bad) {
			t.Errorf("warnings show %q: %s", bad, all)
		}
	}
	// With six Korean conversations gone from the run's reach, the
	// Cyrillic one alone would be "other languages 1": the smallest shown
	// label joins it instead (here Han, 20).
	for k := range 6 {
		delete(runConvs, [2]string{"d.jsonl", fmt.Sprint("ko", k)})
	}
	cv, err = coverageOf(ctx, find, len(runConvs), false, m, analysis.Floor{MinConversations: 5}, false)
	if err != nil {
		t.Fatal(err)
	}
	got = map[string]int{}
	for _, c := range cv.Languages {
		got[c.Value] = c.Count
	}
	if len(got) != 2 || got["Latin script"] != 31 || got[OtherLanguages] != 21 {
		t.Errorf("languages, Cyrillic alone: %+v", cv.Languages)
	}
	if me := cv.Methods[0]; me.Uncovered != 21 || me.UncoveredNote != "" || strings.Contains(strings.Join(cv.Warnings, " "), "Cyrillic") {
		t.Errorf("uncovered, Cyrillic alone: %d %q %v", me.Uncovered, me.UncoveredNote, cv.Warnings)
	}
	// Four conversations without letters join the Cyrillic one in "other
	// languages" (5: at the floor), but the uncovered part of it is the
	// one Cyrillic conversation: the plugin's count says "at least 20".
	for k := range 4 {
		id := fmt.Sprint("n", k)
		b.WriteString(fmt.Sprintf(`{"id":"%s","messages":[{"role":"user","content":"1+1"},{"role":"assistant","content":"2"}]}`, id) + "\n")
		runConvs[[2]string{"d.jsonl", id}] = &analysis.Conversation{Seq: int64(100 + k), Source: "d.jsonl", ID: id, Meta: map[string]string{}}
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	cv, err = coverageOf(ctx, find, len(runConvs), false, m, analysis.Floor{MinConversations: 5}, false)
	if err != nil {
		t.Fatal(err)
	}
	got = map[string]int{}
	for _, c := range cv.Languages {
		got[c.Value] = c.Count
	}
	if len(got) != 3 || got[OtherLanguages] != 5 || got["Chinese (Han script)"] != 20 {
		t.Errorf("languages, with no letters: %+v", cv.Languages)
	}
	all = strings.Join(cv.Warnings, " ")
	if me := cv.Methods[0]; me.Uncovered != 20 || me.UncoveredNote != "at least 20" || !strings.Contains(all, "at least 20 of the 56 conversations are in languages it does not cover (Chinese (Han script) 20)") {
		t.Errorf("uncovered, with no letters: %d %q %s", me.Uncovered, me.UncoveredNote, all)
	}

	// Fewer conversations read than the floor: no languages at all.
	few := map[[2]string]*analysis.Conversation{{"d.jsonl", "ru"}: {Seq: 0, Source: "d.jsonl", ID: "ru", Meta: map[string]string{}}}
	cv, err = coverageOf(ctx, func(s, id string) (*analysis.Conversation, error) { return few[[2]string{s, id}], nil }, 1, false, m, analysis.Floor{MinConversations: 5}, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(cv.Languages) != 0 || cv.Methods[0].UncoveredNote != "fewer than 5" || !strings.Contains(cv.Note, "Languages not shown") {
		t.Errorf("one conversation: %+v", cv)
	}
}

// Heatmap cell text keeps its contrast with the fill: white on the deep
// blue of a strong negative residual, where the dark text's contrast is
// under 2.
func TestCellInkContrast(t *testing.T) {
	for r := -8.0; r <= 8; r += 0.25 {
		l := luminance(colorRGB(r))
		ink := inkDark
		if lightInk(r) {
			ink = 1
		}
		hi, lo := max(l, ink), min(l, ink)
		if c := (hi + 0.05) / (lo + 0.05); c < 3.5 {
			t.Errorf("residual %.2f: fill %s, contrast %.2f", r, color(r), c)
		}
	}
	if s := string(heat(&Heatmap{Values: []string{"a", "b"}, ValueCounts: []float64{2, 2}, Contexts: []string{"x", "y"}, ContextCounts: []float64{2, 2},
		Cells:   [][]*Cell{{{Count: 1, Residual: -7}, {Count: 1, Residual: 7}}, {{Count: 1, Residual: 0}, {Count: 1, Residual: 1}}},
		Summary: analysis.Summary{Rows: 2, Cols: 2, DF: 1}})); !strings.Contains(s, `class="cell light">-7.0</text>`) {
		t.Errorf("a deep blue cell without white text: %s", s)
	}
}
