package task

import (
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"

	"github.com/valuescope/valuescope/plugins/internal/modelplugin"
	"github.com/valuescope/valuescope/sdk"
	"github.com/valuescope/valuescope/sdk/protocol"
)

// DescriptionSchema is the JSON Schema of the task-description answer.
const DescriptionSchema = `{"type":"object","properties":{` +
	`"task":{"type":"string","description":"Short description of the user's main task, 3 to 8 words, lower case, no personal data."}},` +
	`"required":["task"],"additionalProperties":false}`

// DescriptionConfig is the task-description extractor's config table.
type DescriptionConfig struct {
	modelplugin.Settings
	MaxChars int `json:"max_chars"`
}

// DefaultDescriptionConfig is the configuration of a stage that sets no key.
func DefaultDescriptionConfig() DescriptionConfig {
	return DescriptionConfig{
		Settings: modelplugin.Settings{Generation: modelplugin.Generation{MaxTokens: defaultMaxTokens}, MaxConversationChars: defaultMaxConversation},
		MaxChars: 80,
	}
}

// DescriptionManifest describes the task-description extractor.
func DescriptionManifest() protocol.Manifest {
	return protocol.Manifest{
		Name:    DescriptionName,
		Version: DescriptionVersion,
		ABI:     protocol.ABI,
		Kind:    protocol.Extractor,
		Field:   DescriptionField,
		Needs:   []string{protocol.NeedModel},
		Description: "Model-written short description of the user's main task, one item per conversation, " +
			"to be clustered into a task taxonomy like values.",
	}
}

type describer struct {
	maxChars int
	ask      modelplugin.Asker
}

// NewDescription returns the task-description extractor, configured with
// the defaults until Configure.
func NewDescription() *sdk.Rounds {
	p := &describer{}
	if err := p.configure(protocol.ConfigureRequest{}); err != nil {
		panic(err)
	}
	return &sdk.Rounds{Info: DescriptionManifest(), Config: p.configure, Ask: p.askModel, Answer: p.answer, MaxRounds: 2}
}

func (p *describer) configure(req protocol.ConfigureRequest) error {
	cfg := DefaultDescriptionConfig()
	t, err := modelplugin.Configure(req, &cfg, &cfg.Settings, DefaultDescriptionPrompt, []string{PMaxChars}, nil)
	if err != nil {
		return err
	}
	if cfg.MaxChars < 10 || cfg.MaxChars > modelplugin.MaxNameBytes {
		return fmt.Errorf("config: max_chars: want 10 to %d, got %d", modelplugin.MaxNameBytes, cfg.MaxChars)
	}
	p.maxChars = cfg.MaxChars
	p.ask = modelplugin.Asker{Template: t, Settings: cfg.Settings, Schema: DescriptionSchema}
	return nil
}

func (p *describer) vars(c *protocol.Conversation) map[string]string {
	v := p.ask.Vars(c)
	v[PMaxChars] = strconv.Itoa(p.maxChars)
	return v
}

func (p *describer) askModel(c *protocol.Conversation) ([]protocol.ModelCall, string, error) {
	if !modelplugin.HasDialogue(c) {
		return nil, "", modelplugin.ErrNoText
	}
	return p.ask.Ask(p.vars(c)), "", nil
}

func (p *describer) answer(c *protocol.Conversation, round uint32, resps []protocol.ModelResponse, state string) sdk.Result {
	return p.ask.Answer(round, resps, state, func() map[string]string { return p.vars(c) }, p.parse)
}

// DescriptionAnswer is the task-description extractor's answer.
type DescriptionAnswer struct {
	Task *string `json:"task"`
}

// ParseDescription reads a task-description answer strictly, with the
// default max_chars.
func ParseDescription(text string) ([]protocol.Annotation, error) {
	return (&describer{maxChars: DefaultDescriptionConfig().MaxChars}).parse(text)
}

func (p *describer) parse(text string) ([]protocol.Annotation, error) {
	var a DescriptionAnswer
	if err := modelplugin.Decode(text, &a); err != nil {
		return nil, err
	}
	if err := modelplugin.Missing("task", a.Task != nil); err != nil {
		return nil, err
	}
	name, ok := modelplugin.NormalizeName(*a.Task, p.maxChars)
	if !ok {
		return nil, describeBad(*a.Task, p.maxChars)
	}
	return []protocol.Annotation{{Field: DescriptionField, Items: []protocol.Item{{Name: name}}}}, nil
}

// describeBad says why a description was refused, for the repair round.
func describeBad(s string, maxChars int) error {
	switch {
	case modelplugin.PersonalData(s):
		return errors.New(`"task" contains personal data (an e-mail address, URL, @handle or phone number); describe the task in general terms`)
	case utf8.RuneCountInString(s) > maxChars || len(s) > modelplugin.MaxNameBytes:
		return fmt.Errorf(`"task" is too long (%d characters, %d bytes); at most %d characters and %d bytes`,
			utf8.RuneCountInString(s), len(s), maxChars, modelplugin.MaxNameBytes)
	}
	return errors.New(`"task" is empty or has no words; describe the user's main task in three to eight words`)
}
