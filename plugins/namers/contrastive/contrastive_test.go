package contrastive_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/valuescope/valuescope/plugins/internal/plugintest"
	"github.com/valuescope/valuescope/plugins/namers/contrastive"
	"github.com/valuescope/valuescope/sdk/naming"
	"github.com/valuescope/valuescope/sdk/protocol"
)

func named(name, desc string) []protocol.Annotation { return naming.Answer(name, desc) }

func TestParse(t *testing.T) {
	plugintest.Parse(t, contrastive.Parse, []plugintest.ParseCase{
		{Name: "good", Answer: `{"name": "Intellectual clarity", "description": "This group of values emphasized clear thinking."}`,
			Want: named("Intellectual clarity", "This group of values emphasized clear thinking.")},
		{Name: "fenced, tidied", Answer: "```json\n{\"name\": \"  \\\"Honesty \\u200b  and\\ncandour.\\\" \", \"description\": \"Truth\\n  told.\"}\n```",
			Want: named("Honesty and candour", "Truth told.")},
		{Name: "case kept", Answer: `{"name": "Respect for AI safety", "description": "d d"}`, Want: named("Respect for AI safety", "d d")},
		{Name: "description redacted and cut", Answer: `{"name": "Care", "description": "Mail a@b.io ` + strings.Repeat("word ", 200) + `"}`,
			Want: named("Care", "Mail [redacted] "+strings.TrimSpace(strings.Repeat("word ", 76))+"…")},
		{Name: "missing description", Answer: `{"name": "Care"}`, Err: `missing key "description"`},
		{Name: "null name", Answer: `{"name": null, "description": "d"}`, Err: `missing key "name"`},
		{Name: "extra key", Answer: `{"name": "Care", "description": "d", "reasoning": "x"}`, Err: `unknown key "reasoning"`},
		{Name: "empty name", Answer: `{"name": " ... ", "description": "d"}`, Err: `"name" is empty`},
		{Name: "long name", Answer: `{"name": "` + strings.Repeat("very ", 20) + `long", "description": "d"}`, Err: `"name" is too long`},
		{Name: "personal data", Answer: `{"name": "Contact jane@example.com", "description": "d"}`, Err: "personal data"},
		{Name: "empty description", Answer: `{"name": "Care", "description": "  "}`, Err: `"description" is empty`},
		{Name: "prose", Answer: `The cluster is about care.`, Err: "not a JSON object"},
	})
}

func cluster(t testing.TB, c naming.Cluster) *protocol.Conversation {
	conv, err := naming.Conversation("level-1-cluster-0", c)
	if err != nil {
		t.Fatal(err)
	}
	return conv
}

var honesty = naming.Cluster{Level: 1,
	Members:  []naming.Member{{Name: "honesty", Count: 9, Similarity: 0.9}, {Name: "transparency", Count: 4, Similarity: 0.8}, {Name: "truthfulness", Count: 2, Similarity: 0.7}},
	Contrast: []string{"kindness", "tact"}}

// The prompt shows the members, most central first, and the contrast.
func TestPrompt(t *testing.T) {
	p := contrastive.New()
	r := p.Process(&protocol.ProcessRequest{Conversation: cluster(t, honesty)})
	if r.Error != "" || len(r.ModelCalls) != 1 {
		t.Fatalf("%+v", r)
	}
	call := r.ModelCalls[0]
	user := call.Messages[0].Content
	for _, want := range []string{
		"Here are values that form one cluster (level 1 of the taxonomy), most central first:\n- honesty\n- transparency\n- truthfulness\n",
		"NOT in the cluster:\n- kindness\n- tact\n",
	} {
		if !strings.Contains(user, want) {
			t.Errorf("user message lacks %q:\n%s", want, user)
		}
	}
	if !strings.Contains(call.System, `"additionalProperties": false`) || strings.Contains(call.System, "<!--") ||
		call.SchemaJSON != contrastive.Schema || call.MaxTokens != 400 || call.Temperature != 0 {
		t.Errorf("call %+v", call)
	}

	// Fewer members and no contrast; a level above 1 names groups.
	if err := p.Configure(protocol.ConfigureRequest{ConfigJSON: `{"max_members": 2, "max_contrast": 0, "temperature": 0.5}`}); err != nil {
		t.Fatal(err)
	}
	up := honesty
	up.Level = 2
	r = p.Process(&protocol.ProcessRequest{Conversation: cluster(t, up)})
	user = r.ModelCalls[0].Messages[0].Content
	if !strings.Contains(user, "Here are groups of values that form one cluster (level 2") ||
		!strings.Contains(user, "- honesty\n- transparency\n(and 1 more)") || !strings.Contains(user, "NOT in the cluster:\n(none)") ||
		r.ModelCalls[0].Temperature != 0.5 {
		t.Errorf("user message:\n%s", user)
	}

	// A researcher's own prompt.
	if err := p.Configure(protocol.ConfigureRequest{Prompt: "Name {{members}} vs {{contrast}}"}); err != nil {
		t.Fatal(err)
	}
	r = p.Process(&protocol.ProcessRequest{Conversation: cluster(t, honesty)})
	if got := r.ModelCalls[0].Messages[0].Content; got != "Name - honesty\n- transparency\n- truthfulness vs - kindness\n- tact" || r.ModelCalls[0].System != "" {
		t.Errorf("own prompt: %q", got)
	}
}

func TestConfig(t *testing.T) {
	for _, c := range []struct{ config, prompt, err string }{
		{`{"max_members": 0}`, "", "max_members: want 1 to 500"},
		{`{"max_contrast": 101}`, "", "max_contrast: want 0 to 100"},
		{`{"max_name_chars": 5}`, "", "max_name_chars: want 10 to 100"},
		{`{"description_chars": 10}`, "", "description_chars: want 50 to 2000"},
		{`{"max_tokens": 0}`, "", "max_tokens: want 1 to 65536"},
		{`{"max_conversation_chars": 100}`, "", `unknown field "max_conversation_chars"`},
		{`{}`, "Name these: {{conversation}}", "unknown placeholder {{conversation}}"},
		{`{}`, "Name the cluster.", "must use {{members}}"},
	} {
		if err := contrastive.New().Configure(protocol.ConfigureRequest{ConfigJSON: c.config, Prompt: c.prompt}); err == nil || !strings.Contains(err.Error(), c.err) {
			t.Errorf("%s %q: %v; want %q", c.config, c.prompt, err, c.err)
		}
	}
}

// A request without a cluster (an ordinary conversation) is refused.
func TestNoCluster(t *testing.T) {
	for _, conv := range []*protocol.Conversation{
		plugintest.Conversation,
		{MetaJSON: `{"level": 1, "members": []}`},
		{MetaJSON: `{"level": 1, "members": [{"name": "  "}]}`},
	} {
		r := contrastive.New().Process(&protocol.ProcessRequest{Conversation: conv})
		if r.Error == "" || len(r.ModelCalls) > 0 {
			t.Errorf("%s: %+v", conv.MetaJSON, r)
		}
	}
}

func TestDefaultPromptIsConfigFile(t *testing.T) {
	plugintest.PromptIsConfigFile(t, "cluster-names.md", contrastive.DefaultPrompt)
}

func TestThroughHost(t *testing.T) {
	mod := plugintest.Module(t, "contrastive-namer")
	p, err := plugintest.Load(t, mod, `{}`, "")
	if err != nil {
		t.Fatal(err)
	}
	m := p.Manifest()
	if m.Name != "contrastive-namer" || m.Kind != "namer" || m.Field != "cluster_name" || !reflect.DeepEqual(m.Needs, []string{"model"}) {
		t.Fatalf("manifest %+v", m)
	}
	good := `{"name": "Honesty and candour", "description": "This group of values emphasized telling the truth."}`
	want := named("Honesty and candour", "This group of values emphasized telling the truth.")
	plugintest.Rounds(t, p, cluster(t, honesty), []plugintest.RoundCase{
		{Name: "good", Answers: []string{good}, Calls: 1, Want: want},
		{Name: "malformed then good", Answers: []string{`{"name": "Honesty"}`, good}, Calls: 2, Want: want},
		{Name: "always malformed", Answers: []string{"Honesty, I think."}, Calls: 2, Err: "did not parse after a repair round"},
	}, func(t *testing.T, c plugintest.RoundCase, model *plugintest.Model) {
		if c.Calls == 2 {
			repair := model.Calls[1].Messages
			if len(repair) != 3 || repair[1].Content != c.Answers[0] || !strings.Contains(repair[2].Content, `missing key "description"`) {
				t.Errorf("repair round %+v", repair)
			}
		}
	})
}
