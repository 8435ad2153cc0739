package values_test

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/valuescope/valuescope/plugins/extractors/values"
	"github.com/valuescope/valuescope/plugins/internal/plugintest"
	"github.com/valuescope/valuescope/sdk/protocol"
)

func item(name, expr, evidence string) protocol.Item {
	attrs := map[string]string{"expression": expr}
	if evidence != "" {
		attrs["evidence"] = evidence
	}
	return protocol.Item{Name: name, Attrs: attrs}
}

func anns(ai, human []protocol.Item) []protocol.Annotation {
	return []protocol.Annotation{{Field: "ai_values", Items: ai}, {Field: "human_values", Items: human}}
}

func TestParse(t *testing.T) {
	cases := []struct {
		name, answer string
		want         []protocol.Annotation
		err          string
	}{
		{"good", `{"ai_values": [
			{"name": "honesty", "expression": "explicit", "evidence": "I think honesty is the kinder choice"},
			{"name": "user autonomy", "expression": "implicit", "evidence": "leave the decision to her"}],
		  "human_values": [{"name": "honesty", "evidence": "I value honesty above everything"}]}`,
			anns([]protocol.Item{
				item("honesty", "explicit", "I think honesty is the kinder choice"),
				item("user autonomy", "implicit", "leave the decision to her"),
			}, []protocol.Item{item("honesty", "explicit", "I value honesty above everything")}), ""},
		{"none", `{"ai_values": [], "human_values": []}`, anns(nil, nil), ""},
		{"normalised, merged, sorted", `{"ai_values": [
			{"name": "  Epistemic   Humility. ", "expression": "implicit", "evidence": ""},
			{"name": "harm_prevention", "expression": "implicit", "evidence": "be  careful\nwith   that"},
			{"name": "\"epistemic humility\"", "expression": "explicit", "evidence": "I may be wrong"},
			{"name": "- Self-Determination!", "expression": "implicit", "evidence": ""}],
		  "human_values": []}`,
			anns([]protocol.Item{
				item("epistemic humility", "explicit", "I may be wrong"),
				item("harm prevention", "implicit", "be careful with that"),
				item("self-determination", "implicit", ""),
			}, nil), ""},
		{"personal data and bad names dropped", `{"ai_values": [
			{"name": "contact jane.doe@example.com", "expression": "implicit", "evidence": ""},
			{"name": "@janedoe", "expression": "implicit", "evidence": ""},
			{"name": "see https://example.org/x", "expression": "implicit", "evidence": ""},
			{"name": "example.com loyalty", "expression": "implicit", "evidence": ""},
			{"name": "call 555-123-4567", "expression": "implicit", "evidence": ""},
			{"name": "2024", "expression": "implicit", "evidence": ""},
			{"name": "...", "expression": "implicit", "evidence": ""},
			{"name": "", "expression": "implicit", "evidence": ""},
			{"name": "a value name that goes on and on well past the sixty character limit", "expression": "implicit", "evidence": ""},
			{"name": "web 3.0 literacy", "expression": "implicit", "evidence": "mail me at a@b.io or call +1 (555) 123-4567, @bob"}],
		  "human_values": []}`,
			anns([]protocol.Item{item("web 3.0 literacy", "implicit", "mail me at [redacted] or call [redacted], [redacted]")}, nil), ""},
		{"bad expression", `{"ai_values": [{"name": "x", "expression": "stated", "evidence": ""}], "human_values": []}`, nil,
			`ai_values[0].expression: "stated" is not "explicit" or "implicit"`},
		{"missing list", `{"ai_values": []}`, nil, `missing key "human_values"`},
		{"null list", `{"ai_values": null, "human_values": []}`, nil, `missing key "ai_values"`},
		{"missing item key", `{"ai_values": [{"name": "x", "expression": "implicit"}], "human_values": []}`, nil,
			`ai_values[0]: missing key "evidence"`},
		{"human value with expression", `{"ai_values": [], "human_values": [{"name": "x", "evidence": "", "expression": "explicit"}]}`, nil,
			`unknown key "expression"`},
		{"name not a string", `{"ai_values": [{"name": 3, "expression": "implicit", "evidence": ""}], "human_values": []}`, nil,
			`"ai_values.name": expected a string, got a JSON number`},
		{"list of strings", `{"ai_values": ["honesty"], "human_values": []}`, nil, "expected an object"},
		{"extra key", `{"ai_values": [], "human_values": [], "notes": ""}`, nil, `unknown key "notes"`},
		{"prose", `The values are honesty and care.`, nil, "not a JSON object"},
	}
	pcs := make([]plugintest.ParseCase, len(cases))
	for i, c := range cases {
		pcs[i] = plugintest.ParseCase{Name: c.name, Answer: c.answer, Want: c.want, Err: c.err}
	}
	plugintest.Parse(t, values.Parse, pcs)
}

func TestConfig(t *testing.T) {
	p := values.New()
	if err := p.Configure(protocol.ConfigureRequest{
		ConfigJSON: `{"max_values": 2, "evidence": false}`,
		Prompt:     "At most {{max_values}} values in {{conversation}}",
	}); err != nil {
		t.Fatal(err)
	}
	r0 := p.Process(&protocol.ProcessRequest{Conversation: plugintest.Conversation})
	if len(r0.ModelCalls) != 1 || !strings.HasPrefix(r0.ModelCalls[0].Messages[0].Content, "At most 2 values in User: I value") ||
		r0.ModelCalls[0].SchemaJSON != values.Schema || r0.ModelCalls[0].MaxTokens != 1500 {
		t.Fatalf("round 0: %+v", r0)
	}
	// Only the first max_values (in the model's order) are kept, then sorted;
	// evidence = false leaves it out.
	r1 := p.Process(&protocol.ProcessRequest{Conversation: plugintest.Conversation, Round: 1, ModelResponses: []protocol.ModelResponse{{ID: "answer", Text: `{"ai_values": [
		{"name": "zeal", "expression": "implicit", "evidence": "z"},
		{"name": "care", "expression": "implicit", "evidence": "c"},
		{"name": "zeal", "expression": "implicit", "evidence": "z"},
		{"name": "accuracy", "expression": "implicit", "evidence": "a"}], "human_values": []}`}}})
	want := anns([]protocol.Item{item("care", "implicit", ""), item("zeal", "implicit", "")}, nil)
	if r1.Error != "" || !reflect.DeepEqual(r1.Annotations, want) {
		t.Fatalf("round 1: %+v", r1)
	}
	for _, c := range []struct{ config, err string }{
		{`{"max_values": 0}`, "max_values: want 1 to 50"},
		{`{"evidence_chars": 5}`, "evidence_chars: want 20 to 1000"},
		{`{"evidence": "yes"}`, "config:"},
		{`{"max_value": 3}`, `unknown field "max_value"`},
	} {
		if err := values.New().Configure(protocol.ConfigureRequest{ConfigJSON: c.config}); err == nil || !strings.Contains(err.Error(), c.err) {
			t.Errorf("%s: %v; want %q", c.config, err, c.err)
		}
	}
	// Evidence is cut to evidence_chars.
	p = values.New()
	if err := p.Configure(protocol.ConfigureRequest{ConfigJSON: `{"evidence_chars": 20}`}); err != nil {
		t.Fatal(err)
	}
	r1 = p.Process(&protocol.ProcessRequest{Conversation: plugintest.Conversation, Round: 1, ModelResponses: []protocol.ModelResponse{{ID: "answer",
		Text: `{"ai_values": [{"name": "care", "expression": "implicit", "evidence": "one two three four five six seven"}], "human_values": []}`}}})
	if ev := r1.Annotations[0].Items[0].Attrs["evidence"]; ev != "one two three four…" {
		t.Fatalf("evidence %q", ev)
	}
}

// A conversation without assistant text needs no model call.
func TestNoAssistant(t *testing.T) {
	c := &protocol.Conversation{ID: "u", Turns: []protocol.Turn{{Role: "user", Content: "I value honesty."}, {Role: "assistant", Content: " "}}}
	r := values.New().Process(&protocol.ProcessRequest{Conversation: c})
	if len(r.ModelCalls) != 0 || r.Error != "" || !reflect.DeepEqual(r.Annotations, anns(nil, nil)) {
		t.Fatalf("%+v", r)
	}
}

func TestDefaultPromptIsConfigFile(t *testing.T) {
	plugintest.PromptIsConfigFile(t, "values.md", values.DefaultPrompt)
}

// The A/B prompt is a valid prompt for this plugin too.
func TestAlternativePrompt(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "configs", "prompts", "values-concise.md"))
	if err != nil {
		t.Fatal(err)
	}
	if err := values.New().Configure(protocol.ConfigureRequest{Prompt: string(b)}); err != nil {
		t.Fatal(err)
	}
}

func TestThroughHost(t *testing.T) {
	mod := plugintest.Module(t, "values")
	p, err := plugintest.Load(t, mod, `{"max_values": 5}`, values.DefaultPrompt)
	if err != nil {
		t.Fatal(err)
	}
	m := p.Manifest()
	if m.Name != "values" || m.Kind != "extractor" || m.Field != "ai_values" || !reflect.DeepEqual(m.Fields, []string{"human_values"}) ||
		!reflect.DeepEqual(m.Needs, []string{"model"}) {
		t.Fatalf("manifest %+v", m)
	}
	good := `{"ai_values": [{"name": "Honesty", "expression": "explicit", "evidence": "honesty is the kinder choice"},
		{"name": "user autonomy", "expression": "implicit", "evidence": "leave the decision to her"}],
		"human_values": [{"name": "honesty", "evidence": "I value honesty"}]}`
	want := anns([]protocol.Item{
		item("honesty", "explicit", "honesty is the kinder choice"),
		item("user autonomy", "implicit", "leave the decision to her"),
	}, []protocol.Item{item("honesty", "explicit", "I value honesty")})
	plugintest.Rounds(t, p, plugintest.Conversation, []plugintest.RoundCase{
		{Name: "good", Answers: []string{good}, Calls: 1, Want: want},
		{Name: "malformed then good", Answers: []string{`{"ai_values": ["honesty"], "human_values": []}`, good}, Calls: 2, Want: want},
		{Name: "always malformed", Answers: []string{"```json\n{\"ai_values\": []"}, Calls: 2, Err: "did not parse after a repair round"},
	}, func(t *testing.T, _ plugintest.RoundCase, model *plugintest.Model) {
		if u := model.Calls[0].Messages[0].Content; !strings.Contains(u, "<conversation>\nUser: I value honesty") {
			t.Errorf("user message: %q", u)
		}
	})
}
