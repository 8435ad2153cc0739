package modelplugin

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/valuescope/valuescope/sdk"
	"github.com/valuescope/valuescope/sdk/protocol"
)

// Generation are the parameters of a plugin's model calls: config keys
// every model-backed plugin takes.
type Generation struct {
	// MaxTokens bounds the model's answer.
	MaxTokens uint32 `json:"max_tokens"`
	// Temperature of the model; 0 (the default) for reproducible labels.
	Temperature float64 `json:"temperature"`
}

// Check reports parameters out of range.
func (g Generation) Check() error { return configError(g.problems()) }

func (g Generation) problems() []string {
	var errs []string
	if g.MaxTokens == 0 || g.MaxTokens > 65536 {
		errs = append(errs, fmt.Sprintf("max_tokens: want 1 to 65536, got %d", g.MaxTokens))
	}
	if g.Temperature < 0 || g.Temperature > 2 {
		errs = append(errs, fmt.Sprintf("temperature: want 0 to 2, got %g", g.Temperature))
	}
	return errs
}

// Settings are the config keys every model-backed plugin that reads a
// conversation takes. A plugin's config struct embeds them, so they sit at
// the top level of the stage's [stages.config] table.
type Settings struct {
	Generation
	// MaxConversationChars bounds the conversation's text in the prompt, in
	// characters; 0 means no limit.
	MaxConversationChars int `json:"max_conversation_chars"`
	// IncludeSystem puts system turns in the transcript ("System: ...").
	IncludeSystem bool `json:"include_system"`
}

// Check reports settings out of range.
func (s Settings) Check() error {
	errs := s.Generation.problems()
	if s.MaxConversationChars < 0 {
		errs = append(errs, fmt.Sprintf("max_conversation_chars: want 0 (no limit) or more, got %d", s.MaxConversationChars))
	}
	return configError(errs)
}

func configError(errs []string) error {
	if len(errs) > 0 {
		return errors.New("config: " + strings.Join(errs, "; "))
	}
	return nil
}

// Call IDs and states of the two rounds.
const (
	AnswerID    = "answer"
	RepairID    = "repair"
	repairState = "repair"
)

// Asker makes a plugin's model call from its prompt and settings, and reads
// the answer, with one repair round.
type Asker struct {
	Template Template
	Settings Settings
	// Schema is the JSON Schema of the answer.
	Schema string
}

// Vars are the values of a prompt's placeholders for one conversation:
// {{conversation}} and {{schema}}, to which a plugin adds its own.
func (a *Asker) Vars(c *protocol.Conversation) map[string]string {
	return map[string]string{
		PConversation: Transcript(c, a.Settings.MaxConversationChars, a.Settings.IncludeSystem),
		PSchema:       a.SchemaVar(),
	}
}

// SchemaVar is the value of {{schema}}: the answer's JSON Schema, indented.
func (a *Asker) SchemaVar() string { return indentJSON(a.Schema) }

func indentJSON(s string) string {
	var b bytes.Buffer
	if json.Indent(&b, []byte(s), "", "  ") != nil {
		return s
	}
	return b.String()
}

// Ask returns the first round's call.
func (a *Asker) Ask(vars map[string]string) []protocol.ModelCall {
	system, user := a.Template.Render(vars)
	return []protocol.ModelCall{a.call(AnswerID, system, []protocol.Message{{Role: "user", Content: user}})}
}

func (a *Asker) call(id, system string, msgs []protocol.Message) protocol.ModelCall {
	return protocol.ModelCall{
		ID:          id,
		System:      system,
		Messages:    msgs,
		MaxTokens:   a.Settings.MaxTokens,
		Temperature: a.Settings.Temperature,
		SchemaJSON:  a.Schema,
	}
}

// MaxQuoted bounds how much of an invalid answer is quoted back to the model
// in the repair round, and in the error after it (in characters).
const (
	MaxQuoted      = 8000
	MaxErrorQuoted = 200
)

// Answer reads round 1 (the answer) or round 2 (the repaired answer).
// parse turns an answer's text into annotations, or says why it cannot;
// vars gives the placeholders' values again, for the repair round.
func (a *Asker) Answer(round uint32, responses []protocol.ModelResponse, state string, vars func() map[string]string,
	parse func(text string) ([]protocol.Annotation, error)) sdk.Result {
	id := AnswerID
	switch {
	case round == 1 && state == "":
	case round == 2 && state == repairState:
		id = RepairID
	default:
		return sdk.Result{Err: fmt.Errorf("unexpected round %d (state %q): this plugin asks at most one repair round", round, state)}
	}
	var resp *protocol.ModelResponse
	for i := range responses {
		if responses[i].ID == id {
			resp = &responses[i]
			break
		}
	}
	if resp == nil {
		return sdk.Result{Err: fmt.Errorf("no response to model call %q", id)}
	}
	if resp.Error != "" {
		return sdk.Result{Err: fmt.Errorf("model call failed: %s", resp.Error)}
	}
	anns, err := parse(resp.Text)
	if err == nil {
		return sdk.Result{Annotations: anns}
	}
	if resp.StopReason == "max_tokens" || resp.StopReason == "length" {
		err = fmt.Errorf("%w (the answer was cut off at max_tokens = %d)", err, a.Settings.MaxTokens)
	}
	if id == RepairID {
		return sdk.Result{Err: fmt.Errorf("the model's answer did not parse after a repair round: %v; answer: %q", err, clip(resp.Text, MaxErrorQuoted))}
	}
	system, user := a.Template.Render(vars())
	bad := clip(resp.Text, MaxQuoted)
	if strings.TrimSpace(bad) == "" {
		bad = "(empty answer)"
	}
	msgs := []protocol.Message{
		{Role: "user", Content: user},
		{Role: "assistant", Content: bad},
		{Role: "user", Content: RepairMessage(err)},
	}
	return sdk.Result{Calls: []protocol.ModelCall{a.call(RepairID, system, msgs)}, State: repairState}
}

// RepairMessage is the user message of the repair round.
func RepairMessage(err error) string {
	return "Your answer could not be used: " + err.Error() + ".\n\n" +
		"Answer again with only one JSON object that follows the required format exactly: " +
		"every required key, no other keys, only the allowed values, and no text before or after it."
}

func clip(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n]) + "…"
}

// Configure decodes a stage's config into cfg (which embeds Settings and
// arrives filled with the defaults), checks the settings, and parses the
// prompt — the stage's, or defaultPrompt when the stage names none.
func Configure(req protocol.ConfigureRequest, cfg any, settings *Settings, defaultPrompt string, known, required []string) (Template, error) {
	return ConfigurePrompt(req, cfg, settings, defaultPrompt, append([]string{PConversation, PSchema}, known...), append([]string{PConversation}, required...))
}

// ConfigurePrompt is Configure for a plugin that reads no conversation (a
// namer): settings (Settings or Generation, embedded in cfg) are checked,
// and the prompt's placeholders are exactly known (see ParsePrompt).
func ConfigurePrompt(req protocol.ConfigureRequest, cfg any, settings interface{ Check() error }, defaultPrompt string, known, required []string) (Template, error) {
	if err := sdk.DecodeConfig(req, cfg); err != nil {
		return Template{}, err
	}
	if err := settings.Check(); err != nil {
		return Template{}, err
	}
	prompt := req.Prompt
	if strings.TrimSpace(prompt) == "" {
		prompt = defaultPrompt
	}
	return ParsePrompt(prompt, known, required)
}

// Configured returns r configured with the defaults (an empty config table
// and the built-in prompt), which a built-in plugin must accept: it panics
// when they are refused.
func Configured(r *sdk.Rounds) *sdk.Rounds {
	if err := r.Configure(protocol.ConfigureRequest{}); err != nil {
		panic(err)
	}
	return r
}

// ErrNoText is the error for a conversation with nothing to read.
var ErrNoText = errors.New("the conversation has no user or assistant text to classify")

// HasDialogue reports whether a user or assistant turn has text.
func HasDialogue(c *protocol.Conversation) bool {
	return HasText(c, "user") || HasText(c, "assistant")
}

// Shortcut is a Rounds plugin that answers some conversations without a
// model call (a response type for a conversation without assistant text,
// say): when Skip returns ok in round 0, its annotations are the answer.
type Shortcut struct {
	*sdk.Rounds
	Skip func(c *protocol.Conversation) (anns []protocol.Annotation, ok bool)
}

// Process implements sdk.Plugin.
func (s *Shortcut) Process(req *protocol.ProcessRequest) *protocol.ProcessResponse {
	if req.Round == 0 && req.Conversation != nil {
		resp := sdk.Guard(func() *protocol.ProcessResponse {
			if anns, ok := s.Skip(req.Conversation); ok {
				return &protocol.ProcessResponse{Annotations: anns}
			}
			return nil
		})
		if resp != nil {
			return resp
		}
	}
	return s.Rounds.Process(req)
}
