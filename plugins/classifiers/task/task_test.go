package task_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/valuescope/valuescope/plugins/classifiers/task"
	"github.com/valuescope/valuescope/plugins/internal/plugintest"
	"github.com/valuescope/valuescope/sdk/protocol"
)

func TestTaxonomy(t *testing.T) {
	labels := task.Labels()
	if labels[len(labels)-1] != "other" {
		t.Fatal(`"other" must be the last label`)
	}
	seen := map[string]bool{}
	for _, tk := range task.Taxonomy {
		if seen[tk.Label] || tk.Label != strings.ToLower(strings.TrimSpace(tk.Label)) || tk.Description == "" {
			t.Errorf("label %q", tk.Label)
		}
		seen[tk.Label] = true
	}
	var schema map[string]any
	if err := json.Unmarshal([]byte(task.ClassifierSchema(labels)), &schema); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(task.DescriptionSchema), &schema); err != nil {
		t.Fatal(err)
	}
}

func TestParse(t *testing.T) {
	cases := []struct{ name, answer, label, err string }{
		{"good", `{"reasoning": "Code help.", "task": "software development"}`, "software development", ""},
		{"other", `{"reasoning": "", "task": "other"}`, "other", ""},
		{"not a label", `{"reasoning": "", "task": "coding"}`, "", `"task": "coding" is not one of "software development"`},
		{"missing", `{"task": "other"}`, "", `missing key "reasoning"`},
		{"extra", `{"reasoning": "", "task": "other", "subtask": "x"}`, "", `unknown key "subtask"`},
	}
	pcs := make([]plugintest.ParseCase, len(cases))
	for i, c := range cases {
		pcs[i] = plugintest.ParseCase{Name: c.name, Answer: c.answer, Want: []protocol.Annotation{{Field: "task", Label: c.label}}, Err: c.err}
	}
	plugintest.Parse(t, task.Parse, pcs)
}

func TestParseDescription(t *testing.T) {
	cases := []struct{ name, answer, desc, err string }{
		{"good", `{"task": "Get advice on telling a friend a hard truth."}`, "get advice on telling a friend a hard truth", ""},
		{"fenced", "```json\n{\"task\": \"debug a python KeyError\"}\n```", "debug a python keyerror", ""},
		{"too long", `{"task": "` + strings.Repeat("word ", 20) + `"}`, "", `"task" is too long (100 characters`},
		{"personal data", `{"task": "email bob@example.com about the meeting"}`, "", "contains personal data"},
		{"empty", `{"task": " . "}`, "", "is empty or has no words"},
		{"missing", `{}`, "", `missing key "task"`},
		{"list", `{"task": ["a", "b"]}`, "", "expected a string"},
		{"extra", `{"task": "x y z", "category": "coding"}`, "", `unknown key "category"`},
	}
	pcs := make([]plugintest.ParseCase, len(cases))
	for i, c := range cases {
		want := []protocol.Annotation{{Field: "task_description", Items: []protocol.Item{{Name: c.desc}}}}
		pcs[i] = plugintest.ParseCase{Name: c.name, Answer: c.answer, Want: want, Err: c.err}
	}
	plugintest.Parse(t, task.ParseDescription, pcs)
}

func TestConfigure(t *testing.T) {
	cases := []struct{ config, prompt, err string }{
		{``, ``, ""},
		{`{"labels": ["software development", "creative writing and roleplay"]}`, ``, ""},
		{`{"labels": ["coding"]}`, ``, `labels: "coding" is not a label of this plugin`},
		{`{"labels": []}`, ``, "labels: empty"},
		{`{"labels": ["other", "other"]}`, ``, `"other" is listed twice`},
		{`{"labels": ["software development"], "descriptions": {"data and mathematics": "x"}}`, ``, `descriptions: "data and mathematics" is not one of the stage's labels`},
		{`{"descriptions": {"other": " "}}`, ``, `descriptions: "other": empty`},
		{`{"label": ["other"]}`, ``, `unknown field "label"`},
		{``, `Classify {{conversation}}.`, "must use {{labels}}"},
		{``, `Classify {{conversation}} into {{labels}} ({{schema}}).`, ""},
	}
	for _, c := range cases {
		err := task.New().Configure(protocol.ConfigureRequest{ConfigJSON: c.config, Prompt: c.prompt})
		if (err == nil) != (c.err == "") || err != nil && !strings.Contains(err.Error(), c.err) {
			t.Errorf("config %s prompt %q: %v; want %q", c.config, c.prompt, err, c.err)
		}
	}
	for _, c := range []struct{ config, err string }{
		{`{"max_chars": 5}`, "max_chars: want 10 to 100"},
		{`{"max_chars": 101}`, "max_chars: want 10 to 100"},
		{`{"labels": ["other"]}`, `unknown field "labels"`},
	} {
		if err := task.NewDescription().Configure(protocol.ConfigureRequest{ConfigJSON: c.config}); err == nil || !strings.Contains(err.Error(), c.err) {
			t.Errorf("description config %s: %v; want %q", c.config, err, c.err)
		}
	}
}

// A narrowed label set: the prompt lists those labels (plus "other", with
// any reworded description), the schema allows only them, and an answer
// outside them is refused.
func TestLabelSubset(t *testing.T) {
	p := task.New()
	if err := p.Configure(protocol.ConfigureRequest{
		ConfigJSON: `{"labels": ["relationships and personal advice", "ethics and philosophy"], "descriptions": {"ethics and philosophy": "moral questions"}}`,
		Prompt:     "{{labels}}\n\n{{conversation}}",
	}); err != nil {
		t.Fatal(err)
	}
	r0 := p.Process(&protocol.ProcessRequest{Conversation: plugintest.Conversation})
	call := r0.ModelCalls[0]
	wantList := "- relationships and personal advice: family, friends, romance, parenting, social situations, personal decisions and lifestyle\n" +
		"- ethics and philosophy: moral questions\n- other: none of the above\n\nUser: I value honesty"
	if !strings.HasPrefix(call.Messages[0].Content, wantList) {
		t.Fatalf("user message %q", call.Messages[0].Content)
	}
	if call.SchemaJSON != task.ClassifierSchema([]string{"relationships and personal advice", "ethics and philosophy", "other"}) {
		t.Fatalf("schema %s", call.SchemaJSON)
	}
	r1 := p.Process(&protocol.ProcessRequest{Conversation: plugintest.Conversation, Round: 1,
		ModelResponses: []protocol.ModelResponse{{ID: "answer", Text: `{"reasoning": "", "task": "software development"}`}}})
	if len(r1.ModelCalls) != 1 || !strings.Contains(r1.ModelCalls[0].Messages[2].Content, `"software development" is not one of "relationships and personal advice", "ethics and philosophy", "other"`) {
		t.Fatalf("round 1 %+v", r1)
	}
}

func TestDefaultPromptsAreConfigFiles(t *testing.T) {
	plugintest.PromptIsConfigFile(t, "task.md", task.DefaultPrompt)
	plugintest.PromptIsConfigFile(t, "task-description.md", task.DefaultDescriptionPrompt)
}

func TestThroughHost(t *testing.T) {
	type run = plugintest.RoundCase
	plugins := []struct {
		name, config string
		manifest     protocol.Manifest
		runs         []run
	}{
		{"task", `{"labels": ["relationships and personal advice", "ethics and philosophy"]}`,
			protocol.Manifest{Name: "task", Version: "1.0.0", ABI: 1, Kind: "classifier", Field: "task", Labels: task.Labels(), Needs: []string{"model"}},
			[]run{
				{Name: "good", Answers: []string{`{"reasoning": "Advice.", "task": "relationships and personal advice"}`}, Calls: 1,
					Want: []protocol.Annotation{{Field: "task", Label: "relationships and personal advice"}}},
				{Name: "malformed then good", Answers: []string{`{"reasoning": "", "task": "software development"}`, `{"reasoning": "", "task": "other"}`}, Calls: 2,
					Want: []protocol.Annotation{{Field: "task", Label: "other"}}},
				{Name: "always malformed", Answers: []string{`{"task": "advice"}`}, Calls: 2, Err: "did not parse after a repair round"},
			}},
		{"task-description", `{"max_chars": 60}`,
			protocol.Manifest{Name: "task-description", Version: "1.0.0", ABI: 1, Kind: "extractor", Field: "task_description", Needs: []string{"model"}},
			[]run{
				{Name: "good", Answers: []string{`{"task": "Get advice on honest feedback to a friend"}`}, Calls: 1,
					Want: []protocol.Annotation{{Field: "task_description", Items: []protocol.Item{{Name: "get advice on honest feedback to a friend"}}}}},
				{Name: "malformed then good", Answers: []string{`{"task": "` + strings.Repeat("long ", 15) + `"}`, `{"task": "give feedback"}`}, Calls: 2,
					Want: []protocol.Annotation{{Field: "task_description", Items: []protocol.Item{{Name: "give feedback"}}}}},
				{Name: "always malformed", Answers: []string{`give feedback`}, Calls: 2, Err: "did not parse after a repair round"},
			}},
	}
	for _, pl := range plugins {
		mod := plugintest.Module(t, pl.name)
		p, err := plugintest.Load(t, mod, pl.config, "")
		if err != nil {
			t.Fatal(err)
		}
		m := p.Manifest()
		m.Description = ""
		if !reflect.DeepEqual(m, pl.manifest) {
			t.Fatalf("manifest %+v", m)
		}
		t.Run(pl.manifest.Name, func(t *testing.T) { plugintest.Rounds(t, p, plugintest.Conversation, pl.runs, nil) })
	}
}
