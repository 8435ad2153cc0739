// Package subjectivity is the "subjectivity" built-in classifier: a model
// rates how subjective a conversation is, on the four levels of "Values in
// the Wild" (Huang et al., arXiv 2504.15236), which analysed only the
// conversations rated 3 or 4. Set `keep = ["3", "4"]` on the stage to do the
// same.
//
//	1  objective: one correct answer, no value judgement
//	2  mostly objective: factual or technical, minor judgement calls
//	3  somewhat subjective: interpretation, advice, recommendations, creative choices
//	4  highly subjective: moral, personal, emotional, political or contested matters
//
// # Prompt
//
// The stage's prompt file (configs/prompts/subjectivity.md is the default,
// built in as prompt.md) may use {{conversation}} (required) and {{schema}};
// see package modelplugin for the file's syntax. The model must answer
// {"reasoning": "...", "level": 1..4}; the level is the label ("1".."4").
//
// # Configuration
//
//	max_tokens = 400                # bound on the answer
//	temperature = 0.0
//	max_conversation_chars = 20000  # conversation text in the prompt; 0: no limit
//	include_system = false          # show system turns to the model
//
// A conversation without user or assistant text fails with an error.
package subjectivity

import (
	_ "embed"
	"fmt"
	"strconv"

	"github.com/valuescope/valuescope/plugins/internal/modelplugin"
	"github.com/valuescope/valuescope/sdk"
	"github.com/valuescope/valuescope/sdk/protocol"
)

// Identity of the plugin.
const (
	Name    = "subjectivity"
	Version = "1.0.0"
	Field   = "subjectivity"
)

// Labels are the levels, least subjective first.
var Labels = []string{"1", "2", "3", "4"}

// DefaultPrompt is the prompt used when the stage names none; it is
// configs/prompts/subjectivity.md.
//
//go:embed prompt.md
var DefaultPrompt string

// Schema is the JSON Schema of the model's answer.
const Schema = `{"type":"object","properties":{` +
	`"reasoning":{"type":"string","description":"One or two sentences on what the assistant had to judge."},` +
	`"level":{"type":"integer","enum":[1,2,3,4],"description":"1 objective, 2 mostly objective, 3 somewhat subjective, 4 highly subjective."}},` +
	`"required":["reasoning","level"],"additionalProperties":false}`

// Config is the stage's config table.
type Config struct {
	modelplugin.Settings
}

// DefaultConfig is the configuration of a stage that sets no key.
func DefaultConfig() Config {
	return Config{modelplugin.Settings{Generation: modelplugin.Generation{MaxTokens: 400}, MaxConversationChars: 20000}}
}

// Manifest describes the plugin.
func Manifest() protocol.Manifest {
	return protocol.Manifest{
		Name:    Name,
		Version: Version,
		ABI:     protocol.ABI,
		Kind:    protocol.Classifier,
		Field:   Field,
		Labels:  append([]string(nil), Labels...),
		Needs:   []string{protocol.NeedModel},
		Description: "Model-based rating of how subjective a conversation is, levels 1 (objective) to 4 " +
			"(highly subjective), as in Values in the Wild; keep [\"3\", \"4\"] to analyse subjective conversations only.",
	}
}

type plugin struct {
	ask modelplugin.Asker
}

// New returns the plugin, configured with the defaults until Configure.
func New() *sdk.Rounds {
	p := &plugin{}
	if err := p.configure(protocol.ConfigureRequest{}); err != nil {
		panic(err)
	}
	return &sdk.Rounds{Info: Manifest(), Config: p.configure, Ask: p.askModel, Answer: p.answer, MaxRounds: 2}
}

func (p *plugin) configure(req protocol.ConfigureRequest) error {
	cfg := DefaultConfig()
	t, err := modelplugin.Configure(req, &cfg, &cfg.Settings, DefaultPrompt, nil, nil)
	if err != nil {
		return err
	}
	p.ask = modelplugin.Asker{Template: t, Settings: cfg.Settings, Schema: Schema}
	return nil
}

func (p *plugin) askModel(c *protocol.Conversation) ([]protocol.ModelCall, string, error) {
	if !modelplugin.HasDialogue(c) {
		return nil, "", modelplugin.ErrNoText
	}
	return p.ask.Ask(p.ask.Vars(c)), "", nil
}

func (p *plugin) answer(c *protocol.Conversation, round uint32, resps []protocol.ModelResponse, state string) sdk.Result {
	return p.ask.Answer(round, resps, state, func() map[string]string { return p.ask.Vars(c) }, Parse)
}

// Answer is the model's answer.
type Answer struct {
	Reasoning *string `json:"reasoning"`
	Level     *int    `json:"level"`
}

// Parse reads a model's answer strictly into the annotation.
func Parse(text string) ([]protocol.Annotation, error) {
	var a Answer
	if err := modelplugin.Decode(text, &a); err != nil {
		return nil, err
	}
	if err := modelplugin.Missing("reasoning", a.Reasoning != nil, "level", a.Level != nil); err != nil {
		return nil, err
	}
	if *a.Level < 1 || *a.Level > 4 {
		return nil, fmt.Errorf(`"level": %d is not one of 1, 2, 3, 4`, *a.Level)
	}
	return []protocol.Annotation{{Field: Field, Label: strconv.Itoa(*a.Level)}}, nil
}
