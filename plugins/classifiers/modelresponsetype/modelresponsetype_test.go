package modelresponsetype_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/valuescope/valuescope/plugins/classifiers/modelresponsetype"
	"github.com/valuescope/valuescope/plugins/classifiers/responsetype"
	"github.com/valuescope/valuescope/plugins/internal/plugintest"
	"github.com/valuescope/valuescope/sdk/protocol"
)

// Same field and labels as the offline heuristic, so that runs compare.
func TestSameLabelsAsHeuristic(t *testing.T) {
	if !reflect.DeepEqual(modelresponsetype.Labels, responsetype.Labels) || modelresponsetype.Field != responsetype.Field {
		t.Fatalf("labels %v / %v", modelresponsetype.Labels, responsetype.Labels)
	}
	var schema map[string]any
	if err := json.Unmarshal([]byte(modelresponsetype.Schema), &schema); err != nil {
		t.Fatal(err)
	}
}

func TestParse(t *testing.T) {
	cases := []plugintest.ParseCase{
		{Name: "good", Answer: `{"reasoning": "It helps with care.", "response_type": "mild support"}`, Want: responseType("mild support")},
		{Name: "every label", Answer: `{"reasoning": "", "response_type": "no values"}`, Want: responseType("no values")},
		{Name: "reframing", Answer: "```\n{\"reasoning\": \"\", \"response_type\": \"reframing\"}\n```", Want: responseType("reframing")},
		{Name: "wrong case", Answer: `{"reasoning": "", "response_type": "Strong Support"}`, Err: `"response_type": "Strong Support" is not one of "strong support", "mild support"`},
		{Name: "outside the set", Answer: `{"reasoning": "", "response_type": "support"}`, Err: "is not one of"},
		{Name: "missing", Answer: `{"reasoning": ""}`, Err: `missing key "response_type"`},
		{Name: "not a string", Answer: `{"reasoning": "", "response_type": 1}`, Err: "expected a string"},
		{Name: "unknown key", Answer: `{"reasoning": "", "response_type": "neutral", "confidence": "high"}`, Err: `unknown key "confidence"`},
		{Name: "unclosed fence", Answer: "```json\n{\"reasoning\": \"\", \"response_type\": \"neutral\"}", Err: "does not close it"},
	}
	plugintest.Parse(t, modelresponsetype.Parse, cases)
}

func responseType(label string) []protocol.Annotation {
	return []protocol.Annotation{{Field: "response_type", Label: label}}
}

func TestRender(t *testing.T) {
	p := modelresponsetype.New()
	if err := p.Configure(protocol.ConfigureRequest{Prompt: "{{labels}}\n--\n{{conversation}}", ConfigJSON: `{"include_system": true}`}); err != nil {
		t.Fatal(err)
	}
	r := p.Process(&protocol.ProcessRequest{Conversation: plugintest.Conversation})
	want := "- strong support\n- mild support\n- neutral\n- reframing\n- mild resistance\n- strong resistance\n- no values\n--\nSystem: You are a helpful assistant.\n\nUser: I value"
	if len(r.ModelCalls) != 1 || !strings.HasPrefix(r.ModelCalls[0].Messages[0].Content, want) || r.ModelCalls[0].System != "" {
		t.Fatalf("%+v", r)
	}
	// No assistant text: "no values", no model call.
	c := &protocol.Conversation{ID: "u", Turns: []protocol.Turn{{Role: "user", Content: "Hello?"}}}
	r = p.Process(&protocol.ProcessRequest{Conversation: c})
	if len(r.ModelCalls) != 0 || !reflect.DeepEqual(r.Annotations, []protocol.Annotation{{Field: "response_type", Label: "no values"}}) {
		t.Fatalf("%+v", r)
	}
	if err := p.Configure(protocol.ConfigureRequest{Prompt: "{{conversation}} {{max_values}}"}); err == nil || !strings.Contains(err.Error(), "unknown placeholder {{max_values}}") {
		t.Fatal(err)
	}
}

func TestDefaultPromptIsConfigFile(t *testing.T) {
	plugintest.PromptIsConfigFile(t, "response-type.md", modelresponsetype.DefaultPrompt)
}

func TestThroughHost(t *testing.T) {
	mod := plugintest.Module(t, "response-type-model")
	p, err := plugintest.Load(t, mod, ``, "")
	if err != nil {
		t.Fatal(err)
	}
	m := p.Manifest()
	if m.Name != "response-type-model" || m.Kind != "classifier" || m.Field != "response_type" ||
		!reflect.DeepEqual(m.Labels, responsetype.Labels) || !reflect.DeepEqual(m.Needs, []string{"model"}) {
		t.Fatalf("manifest %+v", m)
	}
	good := `{"reasoning": "Supports honesty, with care.", "response_type": "mild support"}`
	plugintest.Rounds(t, p, plugintest.Conversation, []plugintest.RoundCase{
		{Name: "good", Answers: []string{good}, Calls: 1, Want: responseType("mild support")},
		{Name: "malformed then good", Answers: []string{`{"reasoning": "", "response_type": "supportive"}`, good}, Calls: 2, Want: responseType("mild support")},
		{Name: "always malformed", Answers: []string{`mild support`}, Calls: 2, Err: "did not parse after a repair round"},
	}, func(t *testing.T, _ plugintest.RoundCase, model *plugintest.Model) {
		if u := model.Calls[0].Messages[0].Content; !strings.Contains(u, "- strong resistance\n- no values") {
			t.Errorf("labels not rendered: %q", u)
		}
	})
}
