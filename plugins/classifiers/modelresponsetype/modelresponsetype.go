// Package modelresponsetype is the "response-type-model" built-in
// classifier: a model judges how the AI assistant responds to the values,
// goals and framing the user brings, with the seven response types of
// "Values in the Wild" (Huang et al., arXiv 2504.15236): strong support,
// mild support, neutral, reframing, mild resistance, strong resistance, no
// values. It writes the same field and labels as the offline heuristic
// "response-type" plugin, so the two can be compared (Cohen's kappa) on the
// same conversations.
//
// A conversation without assistant text is "no values", without a model
// call.
//
// # Prompt
//
// configs/prompts/response-type.md is the default (built in as prompt.md).
// The prompt may use {{conversation}} (required), {{labels}} (the seven
// labels, one per line as "- label") and {{schema}}. The model must answer
// {"reasoning": "...", "response_type": "<label>"}, the label spelled exactly.
//
// # Configuration
//
//	max_tokens = 400
//	temperature = 0.0
//	max_conversation_chars = 20000  # 0: no limit
//	include_system = false
package modelresponsetype

import (
	_ "embed"

	"github.com/valuescope/valuescope/plugins/internal/modelplugin"
	"github.com/valuescope/valuescope/sdk"
	"github.com/valuescope/valuescope/sdk/protocol"
)

// Identity of the plugin.
const (
	Name    = "response-type-model"
	Version = "1.0.0"
	Field   = "response_type"
)

// The labels.
const (
	StrongSupport    = "strong support"
	MildSupport      = "mild support"
	Neutral          = "neutral"
	Reframing        = "reframing"
	MildResistance   = "mild resistance"
	StrongResistance = "strong resistance"
	NoValues         = "no values"
)

// Labels in the order of the manifest (the same as the "response-type"
// plugin's).
var Labels = []string{StrongSupport, MildSupport, Neutral, Reframing, MildResistance, StrongResistance, NoValues}

// PLabels is the prompt's placeholder for the label list.
const PLabels = "labels"

// DefaultPrompt is the prompt used when the stage names none; it is
// configs/prompts/response-type.md.
//
//go:embed prompt.md
var DefaultPrompt string

// Schema is the JSON Schema of the model's answer.
var Schema = `{"type":"object","properties":{` +
	`"reasoning":{"type":"string","description":"One or two sentences on the assistant's stance toward the user's values."},` +
	`"response_type":{"type":"string","enum":` + modelplugin.EnumJSON(Labels) + `}},` +
	`"required":["reasoning","response_type"],"additionalProperties":false}`

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
		Description: "Model-based classification of the assistant's response to the user's values (Values in the " +
			"Wild response types: strong support ... strong resistance, no values).",
	}
}

type plugin struct {
	ask modelplugin.Asker
}

// New returns the plugin, configured with the defaults until Configure.
func New() sdk.Plugin {
	p := &plugin{}
	if err := p.configure(protocol.ConfigureRequest{}); err != nil {
		panic(err)
	}
	return &modelplugin.Shortcut{
		Rounds: &sdk.Rounds{Info: Manifest(), Config: p.configure, Ask: p.askModel, Answer: p.answer, MaxRounds: 2},
		Skip:   skip,
	}
}

func skip(c *protocol.Conversation) ([]protocol.Annotation, bool) {
	if modelplugin.HasText(c, "assistant") {
		return nil, false
	}
	return []protocol.Annotation{{Field: Field, Label: NoValues}}, true
}

func (p *plugin) configure(req protocol.ConfigureRequest) error {
	cfg := DefaultConfig()
	t, err := modelplugin.Configure(req, &cfg, &cfg.Settings, DefaultPrompt, []string{PLabels}, nil)
	if err != nil {
		return err
	}
	p.ask = modelplugin.Asker{Template: t, Settings: cfg.Settings, Schema: Schema}
	return nil
}

var labelList = modelplugin.LabelList(Labels, nil)

func (p *plugin) vars(c *protocol.Conversation) map[string]string {
	v := p.ask.Vars(c)
	v[PLabels] = labelList
	return v
}

func (p *plugin) askModel(c *protocol.Conversation) ([]protocol.ModelCall, string, error) {
	return p.ask.Ask(p.vars(c)), "", nil
}

func (p *plugin) answer(c *protocol.Conversation, round uint32, resps []protocol.ModelResponse, state string) sdk.Result {
	return p.ask.Answer(round, resps, state, func() map[string]string { return p.vars(c) }, Parse)
}

// Answer is the model's answer.
type Answer struct {
	Reasoning    *string `json:"reasoning"`
	ResponseType *string `json:"response_type"`
}

// Parse reads a model's answer strictly into the annotation.
func Parse(text string) ([]protocol.Annotation, error) {
	var a Answer
	if err := modelplugin.Decode(text, &a); err != nil {
		return nil, err
	}
	if err := modelplugin.Missing("reasoning", a.Reasoning != nil, "response_type", a.ResponseType != nil); err != nil {
		return nil, err
	}
	if err := modelplugin.CheckLabel("response_type", *a.ResponseType, Labels); err != nil {
		return nil, err
	}
	return []protocol.Annotation{{Field: Field, Label: *a.ResponseType}}, nil
}
