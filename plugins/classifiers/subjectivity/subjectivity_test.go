package subjectivity_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/valuescope/valuescope/plugins/classifiers/subjectivity"
	"github.com/valuescope/valuescope/plugins/internal/modelplugin"
	"github.com/valuescope/valuescope/plugins/internal/plugintest"
	"github.com/valuescope/valuescope/sdk/protocol"
)

func TestParse(t *testing.T) {
	cases := []plugintest.ParseCase{
		{Name: "good", Answer: `{"reasoning": "Advice on a friendship.", "level": 4}`, Want: level("4")},
		{Name: "fenced", Answer: "```json\n{\"reasoning\": \"A lookup.\", \"level\": 1}\n```", Want: level("1")},
		{Name: "key order free", Answer: `{"level": 3, "reasoning": ""}`, Want: level("3")},
		{Name: "level out of range", Answer: `{"reasoning": "x", "level": 5}`, Err: `"level": 5 is not one of 1, 2, 3, 4`},
		{Name: "level zero", Answer: `{"reasoning": "x", "level": 0}`, Err: "not one of"},
		{Name: "level as string", Answer: `{"reasoning": "x", "level": "3"}`, Err: `"level": expected an integer, got a JSON string`},
		{Name: "level fractional", Answer: `{"reasoning": "x", "level": 3.5}`, Err: `"level": expected an integer`},
		{Name: "level null", Answer: `{"reasoning": "x", "level": null}`, Err: `missing key "level"`},
		{Name: "missing reasoning", Answer: `{"level": 2}`, Err: `missing key "reasoning"`},
		{Name: "unknown key", Answer: `{"reasoning": "x", "level": 2, "confidence": 0.9}`, Err: `unknown key "confidence"`},
		{Name: "prose around", Answer: `Sure! {"reasoning": "x", "level": 2}`, Err: "not a JSON object"},
		{Name: "text after", Answer: `{"reasoning": "x", "level": 2} I hope this helps`, Err: "text after the JSON object"},
		{Name: "two objects", Answer: `{"reasoning": "x", "level": 2}{"reasoning": "y", "level": 3}`, Err: "text after"},
		{Name: "cut off", Answer: `{"reasoning": "x", "lev`, Err: "cut off"},
		{Name: "array", Answer: `[{"reasoning": "x", "level": 2}]`, Err: "not a JSON object"},
		{Name: "empty", Answer: ``, Err: "empty"},
	}
	plugintest.Parse(t, subjectivity.Parse, cases)
}

func level(label string) []protocol.Annotation {
	return []protocol.Annotation{{Field: "subjectivity", Label: label}}
}

// The default prompt is the one in configs/prompts, byte for byte.
func TestDefaultPromptIsConfigFile(t *testing.T) {
	plugintest.PromptIsConfigFile(t, "subjectivity.md", subjectivity.DefaultPrompt)
}

func TestConfigure(t *testing.T) {
	cases := []struct{ config, prompt, err string }{
		{``, ``, ""},
		{`{"max_tokens": 100, "temperature": 0.5, "max_conversation_chars": 0, "include_system": true}`, ``, ""},
		{`{"max_tokens": 0}`, ``, "max_tokens: want 1 to 65536"},
		{`{"temperature": 3}`, ``, "temperature: want 0 to 2"},
		{`{"max_conversation_chars": -1}`, ``, "max_conversation_chars"},
		{`{"labels": ["1"]}`, ``, `unknown field "labels"`},
		{`{"max_tokens": "many"}`, ``, "config:"},
		{``, `Rate {{conversation}}.`, ""},
		{``, `Rate this.`, "must use {{conversation}}"},
		{``, `Rate {{conversation}} with {{labels}}.`, "unknown placeholder {{labels}}"},
	}
	for _, c := range cases {
		err := subjectivity.New().Configure(protocol.ConfigureRequest{ConfigJSON: c.config, Prompt: c.prompt})
		if (err == nil) != (c.err == "") || err != nil && !strings.Contains(err.Error(), c.err) {
			t.Errorf("config %s prompt %q: %v; want %q", c.config, c.prompt, err, c.err)
		}
	}
}

func TestRounds(t *testing.T) {
	p := subjectivity.New()
	if err := p.Configure(protocol.ConfigureRequest{
		ConfigJSON: `{"max_tokens": 123, "temperature": 0.25}`,
		Prompt:     "System text.\n<!-- user -->\n<!-- a note -->\nRate:\n{{conversation}}",
	}); err != nil {
		t.Fatal(err)
	}
	c := plugintest.Conversation
	r0 := p.Process(&protocol.ProcessRequest{Conversation: c})
	if r0.Error != "" || len(r0.ModelCalls) != 1 {
		t.Fatalf("round 0: %+v", r0)
	}
	call := r0.ModelCalls[0]
	wantUser := "Rate:\nUser: I value honesty above everything. Should I tell my friend her business plan has a serious flaw?\n\n" +
		"Assistant: I think honesty is the kinder choice here, as long as you share it with care: point to the flaw, suggest a fix, and leave the decision to her."
	if call.System != "System text." || len(call.Messages) != 1 || call.Messages[0].Content != wantUser ||
		call.MaxTokens != 123 || call.Temperature != 0.25 || call.SchemaJSON != subjectivity.Schema || call.ID != "answer" {
		t.Fatalf("call: %+v", call)
	}
	// Deterministic: the same conversation gives the same call.
	if again := p.Process(&protocol.ProcessRequest{Conversation: c}); !reflect.DeepEqual(again, r0) {
		t.Fatal("round 0 is not deterministic")
	}

	// A bad answer gets a repair round quoting it and saying what was wrong.
	r1 := p.Process(&protocol.ProcessRequest{Conversation: c, Round: 1, State: r0.State,
		ModelResponses: []protocol.ModelResponse{{ID: "answer", Text: `{"level": 9, "reasoning": "x"}`}}})
	if r1.Error != "" || len(r1.ModelCalls) != 1 {
		t.Fatalf("round 1: %+v", r1)
	}
	rep := r1.ModelCalls[0]
	if rep.ID != "repair" || len(rep.Messages) != 3 || rep.Messages[0].Content != wantUser ||
		rep.Messages[1].Role != "assistant" || rep.Messages[1].Content != `{"level": 9, "reasoning": "x"}` ||
		!strings.Contains(rep.Messages[2].Content, `"level": 9 is not one of 1, 2, 3, 4`) || rep.System != "System text." {
		t.Fatalf("repair call: %+v", rep)
	}
	// A good repaired answer finishes.
	r2 := p.Process(&protocol.ProcessRequest{Conversation: c, Round: 2, State: r1.State,
		ModelResponses: []protocol.ModelResponse{{ID: "repair", Text: `{"reasoning": "x", "level": 3}`}}})
	if r2.Error != "" || len(r2.Annotations) != 1 || r2.Annotations[0].Label != "3" {
		t.Fatalf("round 2: %+v", r2)
	}
	// A bad repaired answer is an error quoting it.
	r2 = p.Process(&protocol.ProcessRequest{Conversation: c, Round: 2, State: r1.State,
		ModelResponses: []protocol.ModelResponse{{ID: "repair", Text: `level three`}}})
	if !strings.Contains(r2.Error, "did not parse after a repair round") || !strings.Contains(r2.Error, `"level three"`) {
		t.Fatalf("round 2 error: %+v", r2)
	}
	// A failed model call is an error, without repair.
	r1 = p.Process(&protocol.ProcessRequest{Conversation: c, Round: 1,
		ModelResponses: []protocol.ModelResponse{{ID: "answer", Error: "HTTP 500 after 5 tries"}}})
	if !strings.Contains(r1.Error, "model call failed: HTTP 500") {
		t.Fatalf("failed call: %+v", r1)
	}
	// A truncated answer says so.
	r1 = p.Process(&protocol.ProcessRequest{Conversation: c, Round: 1,
		ModelResponses: []protocol.ModelResponse{{ID: "answer", Text: `{"reasoning": "a long`, StopReason: "max_tokens"}}})
	if len(r1.ModelCalls) != 1 || !strings.Contains(r1.ModelCalls[0].Messages[2].Content, "cut off at max_tokens = 123") {
		t.Fatalf("truncated: %+v", r1)
	}
	// No answer to the call, or an unexpected round.
	if r := p.Process(&protocol.ProcessRequest{Conversation: c, Round: 1}); !strings.Contains(r.Error, `no response to model call "answer"`) {
		t.Fatalf("no response: %+v", r)
	}
	if r := p.Process(&protocol.ProcessRequest{Conversation: c, Round: 3, State: "repair"}); r.Error == "" {
		t.Fatalf("round 3: %+v", r)
	}
	// Nothing to read.
	empty := &protocol.Conversation{ID: "e", Turns: []protocol.Turn{{Role: "system", Content: "hi"}, {Role: "user", Content: "  "}}}
	if r := p.Process(&protocol.ProcessRequest{Conversation: empty}); r.Error != modelplugin.ErrNoText.Error() {
		t.Fatalf("empty: %+v", r)
	}
}

func TestThroughHost(t *testing.T) {
	mod := plugintest.Module(t, "subjectivity")
	p, err := plugintest.Load(t, mod, `{"max_tokens": 200}`, subjectivity.DefaultPrompt)
	if err != nil {
		t.Fatal(err)
	}
	m := p.Manifest()
	if m.Name != "subjectivity" || m.Kind != "classifier" || m.Field != "subjectivity" ||
		!reflect.DeepEqual(m.Labels, []string{"1", "2", "3", "4"}) || !reflect.DeepEqual(m.Needs, []string{"model"}) {
		t.Fatalf("manifest %+v", m)
	}
	good := `{"reasoning": "Honesty versus kindness.", "level": 4}`
	plugintest.Rounds(t, p, plugintest.Conversation, []plugintest.RoundCase{
		{Name: "good", Answers: []string{good}, Calls: 1, Want: level("4")},
		{Name: "malformed then good", Answers: []string{"Level 4.", good}, Calls: 2, Want: level("4")},
		{Name: "always malformed", Answers: []string{`{"level": "4"}`}, Calls: 2, Err: "did not parse after a repair round"},
	}, func(t *testing.T, _ plugintest.RoundCase, model *plugintest.Model) {
		if sys := model.Calls[0].System; !strings.Contains(sys, "four-level scale") || strings.Contains(sys, "<!--") {
			t.Errorf("system prompt: %q", sys)
		}
	})
	if _, err := plugintest.Load(t, mod, `{"keep": ["3"]}`, ""); err == nil || !strings.Contains(err.Error(), `unknown field "keep"`) {
		t.Fatalf("bad config: %v", err)
	}
}
