package modelplugin

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/valuescope/valuescope/sdk"
	"github.com/valuescope/valuescope/sdk/protocol"
)

func TestTemplate(t *testing.T) {
	vars := map[string]string{"conversation": "User: {{labels}} hi", "labels": "- a\n- b", "schema": "{}"}
	cases := []struct {
		name, text        string
		known, required   []string
		system, user, err string
	}{
		{name: "user only", text: "Read:\n{{conversation}}\n", user: "Read:\nUser: {{labels}} hi"},
		{name: "split", text: "Be careful.\n<!-- user -->\n{{conversation}}", system: "Be careful.", user: "User: {{labels}} hi"},
		{name: "split marker with spaces", text: "S\n  <!-- user -->  \r\nU {{conversation}}", system: "S", user: "U User: {{labels}} hi"},
		{name: "comments removed", text: "<!-- doc\n{{nope}} -->A<!-- x -->B {{conversation}}", user: "AB User: {{labels}} hi"},
		{name: "single pass", text: "{{labels}} / {{conversation}}", known: []string{"labels"}, user: "- a\n- b / User: {{labels}} hi"},
		{name: "inner spaces", text: "{{ conversation }}", user: "User: {{labels}} hi"},
		{name: "schema known", text: "{{conversation}} {{schema}}", user: "User: {{labels}} hi {}"},
		{name: "json braces untouched", text: `{"a": {"b": 1}} {{conversation}} {{Not-A-Name}} {{}}`, user: `{"a": {"b": 1}} User: {{labels}} hi {{Not-A-Name}} {{}}`},
		{name: "placeholder in system", text: "{{labels}}\n<!-- user -->\n{{conversation}}", known: []string{"labels"}, required: []string{"labels"}, system: "- a\n- b", user: "User: {{labels}} hi"},
		{name: "unknown", text: "{{conversation}} {{label}} {{x}} {{label}}", known: []string{"labels"}, err: "unknown placeholder {{label}}, {{x}} (this plugin knows {{conversation}}, {{schema}}, {{labels}})"},
		{name: "missing conversation", text: "Hello", err: "must use {{conversation}}"},
		{name: "missing required", text: "{{conversation}}", known: []string{"labels"}, required: []string{"labels"}, err: "must use {{labels}}"},
		{name: "conversation only in a comment", text: "<!-- {{conversation}} --> text", err: "must use {{conversation}}"},
		{name: "two markers", text: "a\n<!-- user -->\nb\n<!-- user -->\n{{conversation}}", err: "more than one"},
		{name: "empty user", text: "{{conversation}}\n<!-- user -->\n<!-- nothing -->\n", err: "user message is empty"},
		{name: "unclosed comment", text: "{{conversation}} <!-- oops", err: "not closed"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tmpl, err := ParseTemplate(c.text, c.known, c.required)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("got %v; want %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			system, user := tmpl.Render(vars)
			if system != c.system || user != c.user {
				t.Fatalf("got system %q user %q", system, user)
			}
		})
	}
}

func conv(turns ...string) *protocol.Conversation {
	c := &protocol.Conversation{ID: "x"}
	for i := 0; i+1 < len(turns); i += 2 {
		c.Turns = append(c.Turns, protocol.Turn{Role: turns[i], Content: turns[i+1]})
	}
	return c
}

func TestTranscript(t *testing.T) {
	c := conv("system", "Be nice.", "user", "  Hi\r\nthere ", "assistant", "", "assistant", "Hello \xff!", "tool", "{}", "developer", "x")
	if got, want := Transcript(c, 0, false), "User: Hi\r\nthere\n\nAssistant: Hello \uFFFD!\n\nTool: {}\n\nDeveloper: x"; got != want {
		t.Errorf("got %q\nwant %q", got, want)
	}
	if got := Transcript(c, 0, true); !strings.HasPrefix(got, "System: Be nice.\n\nUser: Hi") {
		t.Errorf("include system: %q", got)
	}
	// Over budget: the short turn whole, the long one cut around its middle.
	long := strings.Repeat("a", 500) + strings.Repeat("é", 500)
	c = conv("user", "short turn", "assistant", long)
	got := Transcript(c, 110, false)
	want := "User: short turn\n\nAssistant: " + strings.Repeat("a", 50) + "\n[… 900 characters omitted …]\n" + strings.Repeat("é", 50)
	if got != want {
		t.Errorf("got %q\nwant %q", got, want)
	}
	// Three long turns share the budget equally; the kept text fits it.
	c = conv("user", strings.Repeat("u", 1000), "assistant", strings.Repeat("v", 1000), "user", strings.Repeat("w", 1000))
	got = Transcript(c, 300, false)
	kept := strings.Count(got, "u") + strings.Count(got, "v") + strings.Count(got, "w")
	if kept != 300 || strings.Count(got, "[… 900 characters omitted …]") != 3 {
		t.Errorf("kept %d: %q", kept, got)
	}
	// Deterministic.
	if Transcript(c, 300, false) != got {
		t.Error("not deterministic")
	}
	if !HasText(c, "assistant") || HasText(conv("user", " "), "") || HasDialogue(conv("system", "x")) {
		t.Error("HasText")
	}
}

func TestDecode(t *testing.T) {
	type answer struct {
		A *int     `json:"a"`
		B []string `json:"b"`
	}
	cases := []struct{ text, err string }{
		{`{"a": 1, "b": ["x"]}`, ""},
		{" \n```json\n{\"a\": 1}\n```\n", ""},
		{"```\n{\"a\": 1}\n```", ""},
		{``, "empty"},
		{`{"a": 1`, "cut off"},
		{`{"a": 1,}`, "not valid JSON"},
		{`{"a": "1"}`, `"a": expected an integer, got a JSON string`},
		{`{"b": "x"}`, `"b": expected an array`},
		{`{"c": 1}`, `unknown key "c"`},
		{`{"a": 1} {"a": 2}`, "text after"},
		{`{"a": 1}]`, "text after"},
		{"```json\n{\"a\": 1}", "does not close"},
		{"Here: {\"a\": 1}", "not a JSON object"},
		{`"a"`, "not a JSON object"},
	}
	for _, c := range cases {
		var a answer
		err := Decode(c.text, &a)
		if (err == nil) != (c.err == "") || err != nil && !strings.Contains(err.Error(), c.err) {
			t.Errorf("%q: %v; want %q", c.text, err, c.err)
		}
	}
	if err := Missing("a", true, "b", false, "c", false); err == nil || !strings.HasPrefix(err.Error(), `missing key "b", "c"`) {
		t.Error(err)
	}
	if Missing("a", true) != nil {
		t.Error("nothing missing")
	}
}

func TestNormalizeName(t *testing.T) {
	cases := []struct{ in, want string }{
		{"Epistemic Humility", "epistemic humility"},
		{"  harm_prevention.  ", "harm prevention"},
		{"\"User Autonomy\"", "user autonomy"},
		{"- self-determination;", "self-determination"},
		{"(transparency)", "transparency"},
		{"children's wellbeing", "children's wellbeing"},
		{"Ehrlichkeit", "ehrlichkeit"},
		{"诚实", "诚实"},
		{"web 3.0 literacy", "web 3.0 literacy"},
		{"honesty\n\tand   care", "honesty and care"},
		{"hon\u200besty", "honesty"},
		{"\ufeffhonesty\u200b", "honesty"},
		{"care\u202e", "care"},
		{"fair\x07play", "fair play"},
		{"İstanbul pride", "istanbul pride"},
		{"", ""},
		{"...", ""},
		{"2024", ""},
		{"42%", ""},
		{"jane@example.com", ""},
		{"respect for @jdoe", ""},
		{"https://example.org", ""},
		{"www.example.org values", ""},
		{"example.com loyalty", ""},
		{"call +44 20 7946 0958", ""},
		{"555-123-4567", ""},
		{strings.Repeat("a", 60), strings.Repeat("a", 60)},
		{strings.Repeat("a", 61), ""},
		{strings.Repeat("é", 51), ""}, // 102 bytes
	}
	for _, c := range cases {
		got, ok := NormalizeName(c.in, 60)
		if got != c.want || ok != (c.want != "") {
			t.Errorf("%q: got %q, %v; want %q", c.in, got, ok, c.want)
		}
	}
}

func TestEvidence(t *testing.T) {
	cases := []struct {
		in   string
		max  int
		want string
	}{
		{"  I want to be\nhonest  ", 100, "I want to be honest"},
		{"write to jane.doe@mail.example.com today", 100, "write to [redacted] today"},
		{"see https://x.example/a?b=c, ok", 100, "see [redacted] ok"},
		{"ping @jdoe_99 now", 100, "ping [redacted] now"},
		{"call (555) 123-4567", 100, "call ([redacted]"},
		{"it costs 12 dollars in 2024", 100, "it costs 12 dollars in 2024"},
		{"one two three four five", 10, "one two…"},
		{"onetwothreefour", 10, "onetwothr…"},
		{"bad \xff byte", 100, "bad byte"},
	}
	for _, c := range cases {
		if got := Evidence(c.in, c.max); got != c.want {
			t.Errorf("%q: got %q, want %q", c.in, got, c.want)
		}
		if got := Evidence(c.in, c.max); utf8.RuneCountInString(got) > c.max || !utf8.ValidString(got) {
			t.Errorf("%q: %q too long or invalid", c.in, got)
		}
	}
}

func TestLabels(t *testing.T) {
	if got := LabelList([]string{"a", "b"}, map[string]string{"b": "bee"}); got != "- a\n- b: bee" {
		t.Error(got)
	}
	if got := EnumJSON([]string{`say "hi"`, "a\\b", "\n"}); got != `["say \"hi\"","a\\b","\u000a"]` {
		t.Error(got)
	}
	if err := CheckLabel("k", "c", []string{"a", "b"}); err == nil || err.Error() != `"k": "c" is not one of "a", "b" (spell it exactly)` {
		t.Error(err)
	}
}

func TestSettings(t *testing.T) {
	ok := Settings{Generation: Generation{MaxTokens: 1}}
	if ok.Check() != nil {
		t.Error("valid settings refused")
	}
	bad := Settings{Generation: Generation{MaxTokens: 0, Temperature: -1}, MaxConversationChars: -5}
	err := bad.Check()
	for _, want := range []string{"max_tokens", "temperature", "max_conversation_chars"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%v: want %q", err, want)
		}
	}
}

// A prompt that reads no conversation: its placeholders are the plugin's own.
func TestParsePrompt(t *testing.T) {
	tmpl, err := ParsePrompt("{{members}}\n<!-- user -->\n{{schema}} {{level}}", []string{"members", "level", PSchema}, []string{"members"})
	if err != nil {
		t.Fatal(err)
	}
	if system, user := tmpl.Render(map[string]string{"members": "- a", "level": "1", "schema": "{}"}); system != "- a" || user != "{} 1" {
		t.Errorf("system %q user %q", system, user)
	}
	if _, err := ParsePrompt("{{level}}", []string{"members", "level"}, []string{"members"}); err == nil || !strings.Contains(err.Error(), "must use {{members}}") {
		t.Errorf("missing required: %v", err)
	}
	if _, err := ParsePrompt("{{members}} {{conversation}}", []string{"members"}, nil); err == nil || !strings.Contains(err.Error(), "unknown placeholder {{conversation}} (this plugin knows {{members}})") {
		t.Errorf("conversation unknown: %v", err)
	}
	if err := (Generation{MaxTokens: 70000}).Check(); err == nil || !strings.Contains(err.Error(), "max_tokens: want 1 to 65536") {
		t.Errorf("generation: %v", err)
	}
}

func TestAnswerRepairQuotesAndClips(t *testing.T) {
	tmpl, err := ParseTemplate("{{conversation}}", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	a := &Asker{Template: tmpl, Settings: Settings{Generation: Generation{MaxTokens: 10}}, Schema: `{"type":"object"}`}
	vars0 := a.Vars(conv("user", "hi", "assistant", "hello"))
	vars := func() map[string]string { return vars0 }
	if vars0["schema"] != "{\n  \"type\": \"object\"\n}" {
		t.Errorf("schema %q", vars0["schema"])
	}
	fail := func(string) ([]protocol.Annotation, error) { return nil, errors.New("nope") }
	huge := strings.Repeat("x", MaxQuoted+10)
	res := a.Answer(1, []protocol.ModelResponse{{ID: AnswerID, Text: huge}}, "", vars, fail)
	if len(res.Calls) != 1 || res.State != "repair" || utf8.RuneCountInString(res.Calls[0].Messages[1].Content) != MaxQuoted+1 {
		t.Fatalf("%+v", res.Err)
	}
	res = a.Answer(1, []protocol.ModelResponse{{ID: AnswerID, Text: " "}}, "", vars, fail)
	if res.Calls[0].Messages[1].Content != "(empty answer)" {
		t.Fatalf("%+v", res.Calls[0].Messages)
	}
	res = a.Answer(2, []protocol.ModelResponse{{ID: RepairID, Text: huge}}, "repair", vars, fail)
	if res.Err == nil || !strings.Contains(res.Err.Error(), "nope") || len(res.Err.Error()) > MaxErrorQuoted+200 {
		t.Fatalf("%v", res.Err)
	}
	// The answer to another call ID is not taken for this one.
	res = a.Answer(2, []protocol.ModelResponse{{ID: AnswerID, Text: "{}"}}, "repair", vars, fail)
	if res.Err == nil || !strings.Contains(res.Err.Error(), `no response to model call "repair"`) {
		t.Fatalf("%v", res.Err)
	}
}

func TestShortcut(t *testing.T) {
	p := &Shortcut{
		Rounds: &sdk.Rounds{Info: protocol.Manifest{Name: "x"},
			Ask: func(c *protocol.Conversation) ([]protocol.ModelCall, string, error) {
				return []protocol.ModelCall{{ID: "answer"}}, "", nil
			}},
		Skip: func(c *protocol.Conversation) ([]protocol.Annotation, bool) {
			if c.ID == "panic" {
				panic("boom")
			}
			return []protocol.Annotation{{Label: "skipped"}}, c.ID == "skip"
		},
	}
	if r := p.Process(&protocol.ProcessRequest{Conversation: &protocol.Conversation{ID: "skip"}}); len(r.Annotations) != 1 || len(r.ModelCalls) != 0 {
		t.Errorf("skip: %+v", r)
	}
	if r := p.Process(&protocol.ProcessRequest{Conversation: &protocol.Conversation{ID: "ask"}}); len(r.ModelCalls) != 1 {
		t.Errorf("ask: %+v", r)
	}
	if r := p.Process(&protocol.ProcessRequest{Conversation: &protocol.Conversation{ID: "panic"}}); !strings.Contains(r.Error, "boom") {
		t.Errorf("panic: %+v", r)
	}
	if r := p.Process(&protocol.ProcessRequest{}); r.Error == "" {
		t.Errorf("no conversation: %+v", r)
	}
}

// Every prompt in configs/prompts parses, and no comment leaks into what the
// model reads.
func TestConfigPrompts(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "..", "..", "configs", "prompts", "*.md"))
	if err != nil || len(files) == 0 {
		t.Fatalf("%v %v", files, err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		// The conversation plugins' placeholders, or the namer's.
		known, main := []string{PConversation, PSchema, "labels", "max_values", "max_chars"}, PConversation
		if filepath.Base(f) == "cluster-names.md" {
			known, main = []string{"members", "contrast", "kind", "level", PSchema}, "members"
		}
		tmpl, err := ParsePrompt(string(b), known, []string{main})
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		system, user := tmpl.Render(map[string]string{main: "User: hi"})
		for _, s := range []string{system, user} {
			if strings.Contains(s, "<!--") || strings.Contains(s, "-->") || strings.Contains(s, "{{") {
				t.Errorf("%s: leftover comment or placeholder in %q", f, s)
			}
		}
		if !strings.Contains(user, "User: hi") {
			t.Errorf("%s: the conversation is not in the user message", f)
		}
	}
}
