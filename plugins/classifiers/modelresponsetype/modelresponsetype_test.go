package modelresponsetype_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/valuescope/valuescope/host/plugin"
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
	cases := []struct{ name, answer, label, err string }{
		{"good", `{"reasoning": "It helps with care.", "response_type": "mild support"}`, "mild support", ""},
		{"every label", `{"reasoning": "", "response_type": "no values"}`, "no values", ""},
		{"reframing", "```\n{\"reasoning\": \"\", \"response_type\": \"reframing\"}\n```", "reframing", ""},
		{"wrong case", `{"reasoning": "", "response_type": "Strong Support"}`, "", `"response_type": "Strong Support" is not one of "strong support", "mild support"`},
		{"outside the set", `{"reasoning": "", "response_type": "support"}`, "", "is not one of"},
		{"missing", `{"reasoning": ""}`, "", `missing key "response_type"`},
		{"not a string", `{"reasoning": "", "response_type": 1}`, "", "expected a string"},
		{"unknown key", `{"reasoning": "", "response_type": "neutral", "confidence": "high"}`, "", `unknown key "confidence"`},
		{"unclosed fence", "```json\n{\"reasoning\": \"\", \"response_type\": \"neutral\"}", "", "does not close it"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			anns, err := modelresponsetype.Parse(c.answer)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("got %+v, %v; want %q", anns, err, c.err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(anns, []protocol.Annotation{{Field: "response_type", Label: c.label}}) {
				t.Fatalf("got %+v, %v", anns, err)
			}
		})
	}
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
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "configs", "prompts", "response-type.md"))
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != modelresponsetype.DefaultPrompt {
		t.Fatal("configs/prompts/response-type.md differs from the built-in prompt.md; copy one onto the other")
	}
}

func TestThroughHost(t *testing.T) {
	mod := plugintest.Module(t, "./plugins/classifiers/modelresponsetype/wasm")
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
	cases := []struct {
		name    string
		answers []string
		calls   int
		err     string
	}{
		{"good", []string{good}, 1, ""},
		{"malformed then good", []string{`{"reasoning": "", "response_type": "supportive"}`, good}, 2, ""},
		{"always malformed", []string{`mild support`}, 2, "did not parse after a repair round"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			model := &plugintest.Model{Answers: c.answers}
			anns, err := plugin.Annotate(context.Background(), p, plugintest.Conversation, model, 0)
			if len(model.Calls) != c.calls {
				t.Errorf("%d model calls, want %d", len(model.Calls), c.calls)
			}
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("got %+v, %v; want %q", anns, err, c.err)
				}
				return
			}
			if err != nil || len(anns) != 1 || anns[0].Label != "mild support" {
				t.Fatalf("got %+v, %v", anns, err)
			}
			if u := model.Calls[0].Messages[0].Content; !strings.Contains(u, "- strong resistance\n- no values") {
				t.Errorf("labels not rendered: %q", u)
			}
		})
	}
}
