package report

import (
	"strings"
	"testing"

	"github.com/valuescope/valuescope/host/conversation"
)

// The detector reads what the extractor reads: the assistant's turns, code
// left out. Code-heavy Chinese and Russian are not "Latin"; a Chinese
// request answered in English is (cue-values reads the English answer);
// code alone is no language, not one the plugin "does not cover".
func TestDetectScriptCode(t *testing.T) {
	goCode := "```go\npackage main\n\nimport \"fmt\"\n\nfunc main() {\n\tfor i := 0; i < 10; i++ {\n\t\tfmt.Println(\"hello world, counting\", i)\n\t}\n}\n```\n"
	inline := "调用 `strings.Builder` 和 `fmt.Fprintf(os.Stdout, format)` 即可。"
	for _, c := range []struct {
		name  string
		conv  *conversation.Conversation
		label string
		en    bool
	}{
		{"code-heavy chinese", conv("写一个程序", "下面是例子："+strings.Repeat(goCode, 6)+inline), "Chinese (Han script)", false},
		{"russian and code", conv("Напиши программу", "Вот пример:\n"+strings.Repeat(goCode, 8)+"Готово."), "Cyrillic script", false},
		{"chinese request, english answer", conv("请解释一下什么是递归，并举一个简单的例子说明它在编程中的用途。", "Recursion is when a function calls itself to solve a smaller instance of the same problem."), "Latin script", true},
		{"english request, chinese answer", conv("Explain recursion with an example please.", "递归是函数调用自身。"), "Chinese (Han script)", false},
		{"code only", conv("fix this", "```\nx = 1\ny = x + 1\n```"), "no letters", true},
		{"unterminated fence", conv("写代码", "好的：\n```python\nprint('hello world, this is a long program')\nprint('more and more english words here')"), "Chinese (Han script)", false},
		{"no assistant turn", &conversation.Conversation{Turns: []conversation.Turn{{Role: conversation.User, Content: "Привет, как дела?"}}}, "Cyrillic script", false},
	} {
		l := detectScript(c.conv)
		if l.Label != c.label || covers([]string{"en"}, l) != c.en {
			t.Errorf("%s: %+v, covered by English %v; want %s, %v", c.name, l, covers([]string{"en"}, l), c.label, c.en)
		}
	}
}

// Metadata languages in the forms datasets write them.
func TestMetaLanguageForms(t *testing.T) {
	for v, want := range map[string]string{
		"zh_CN": "zh", "zh-Hans": "zh", "EN_us": "en", "eng": "en", "zho": "zh", "rus": "ru",
		"Chinese": "zh", "en": "en", "pt-BR": "pt", "Klingon": "", "": "",
	} {
		if got := metaLanguage(v).Code; got != want {
			t.Errorf("%q: %q, want %q", v, got, want)
		}
	}
	if covers([]string{"en"}, metaLanguage("zh_CN")) || !covers([]string{"en"}, metaLanguage("EN_us")) {
		t.Error("zh_CN covered by English, or EN_us not")
	}
}
