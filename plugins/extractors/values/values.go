// Package values is the "values" built-in extractor: a model names the
// values a conversation shows, the way "Values in the Wild" (Huang et al.,
// arXiv 2504.15236) did:
//
//   - ai_values: the values the AI assistant expresses or demonstrates, each
//     marked "explicit" (stated) or "implicit" (shown by its choices);
//   - human_values: the values the user explicitly states as their own
//     (only stated ones, never inferred).
//
// # Output
//
// Both annotations are always returned, ai_values first, with no items when
// none was found. Item names are the model's names normalised (lower case,
// white space collapsed, punctuation trimmed from the ends; see
// modelplugin.NormalizeName); a name that is empty, over 60 characters, has
// no letter, or contains personal data (an e-mail address, URL or domain,
// @handle or phone number) is dropped, not repaired. Duplicates after
// normalisation are merged (an AI value is "explicit" if any mention is);
// the first max_values names of each list, in the model's order, are kept;
// items are sorted by name. Attrs: "expression" ("explicit" or "implicit";
// always "explicit" for human values) and "evidence" (the model's quote, white
// space collapsed, personal data replaced by "[redacted]", at most
// evidence_chars characters; left out when empty or when evidence = false).
//
// A conversation without assistant text has no AI values to find: both
// annotations come back empty, without a model call.
//
// # Prompt
//
// configs/prompts/values.md is the default (built in as prompt.md). The
// prompt may use {{conversation}} (required), {{max_values}} and {{schema}}.
// The model must answer
//
//	{"ai_values": [{"name": "...", "expression": "explicit"|"implicit", "evidence": "..."}],
//	 "human_values": [{"name": "...", "evidence": "..."}]}
//
// with every key present; anything else (an unknown key, another
// expression, a missing list) gets the repair round.
//
// # Configuration
//
//	max_tokens = 1500
//	temperature = 0.0
//	max_conversation_chars = 20000  # 0: no limit
//	include_system = false
//	max_values = 10                 # per list, 1 to 50
//	evidence = true                 # keep the evidence attribute
//	evidence_chars = 160            # 20 to 1000
package values

import (
	_ "embed"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/valuescope/valuescope/plugins/internal/modelplugin"
	"github.com/valuescope/valuescope/sdk"
	"github.com/valuescope/valuescope/sdk/protocol"
)

// Identity of the plugin.
const (
	Name       = "values"
	Version    = "1.0.0"
	FieldAI    = "ai_values"
	FieldHuman = "human_values"
)

// Attribute keys and values of the items.
const (
	AttrExpression = "expression"
	AttrEvidence   = "evidence"
	Explicit       = "explicit"
	Implicit       = "implicit"
)

// MaxNameChars bounds a value's name, in characters.
const MaxNameChars = 60

// PMaxValues is the prompt's placeholder for max_values.
const PMaxValues = "max_values"

// DefaultPrompt is the prompt used when the stage names none; it is
// configs/prompts/values.md.
//
//go:embed prompt.md
var DefaultPrompt string

// Schema is the JSON Schema of the model's answer.
const Schema = `{"type":"object","properties":{` +
	`"ai_values":{"type":"array","description":"Values the AI assistant expresses or demonstrates.","items":{"type":"object","properties":{` +
	`"name":{"type":"string","description":"Short normalised value name, lower case, no proper nouns."},` +
	`"expression":{"type":"string","enum":["explicit","implicit"]},` +
	`"evidence":{"type":"string","description":"Short quote showing the value."}},` +
	`"required":["name","expression","evidence"],"additionalProperties":false}},` +
	`"human_values":{"type":"array","description":"Values the user explicitly states as their own.","items":{"type":"object","properties":{` +
	`"name":{"type":"string","description":"Short normalised value name, lower case, no proper nouns."},` +
	`"evidence":{"type":"string","description":"Short quote where the user states it."}},` +
	`"required":["name","evidence"],"additionalProperties":false}}},` +
	`"required":["ai_values","human_values"],"additionalProperties":false}`

// Config is the stage's config table.
type Config struct {
	modelplugin.Settings
	MaxValues     int  `json:"max_values"`
	Evidence      bool `json:"evidence"`
	EvidenceChars int  `json:"evidence_chars"`
}

// DefaultConfig is the configuration of a stage that sets no key.
func DefaultConfig() Config {
	return Config{
		Settings:  modelplugin.Settings{Generation: modelplugin.Generation{MaxTokens: 1500}, MaxConversationChars: 20000},
		MaxValues: 10, Evidence: true, EvidenceChars: 160,
	}
}

func (c Config) check() error {
	var errs []string
	if c.MaxValues < 1 || c.MaxValues > 50 {
		errs = append(errs, fmt.Sprintf("max_values: want 1 to 50, got %d", c.MaxValues))
	}
	if c.EvidenceChars < 20 || c.EvidenceChars > 1000 {
		errs = append(errs, fmt.Sprintf("evidence_chars: want 20 to 1000, got %d", c.EvidenceChars))
	}
	if len(errs) > 0 {
		return errors.New("config: " + strings.Join(errs, "; "))
	}
	return nil
}

// Manifest describes the plugin.
func Manifest() protocol.Manifest {
	return protocol.Manifest{
		Name:    Name,
		Version: Version,
		ABI:     protocol.ABI,
		Kind:    protocol.Extractor,
		Field:   FieldAI,
		Fields:  []string{FieldHuman},
		Needs:   []string{protocol.NeedModel},
		Description: "Model-based extraction of the values the AI expresses (explicit or implicit) and the values the " +
			"user explicitly states, as short normalised names with evidence, as in Values in the Wild.",
	}
}

type plugin struct {
	cfg Config
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

// skip answers a conversation without assistant text: no AI values to find.
func skip(c *protocol.Conversation) ([]protocol.Annotation, bool) {
	if modelplugin.HasText(c, "assistant") {
		return nil, false
	}
	return []protocol.Annotation{{Field: FieldAI}, {Field: FieldHuman}}, true
}

func (p *plugin) configure(req protocol.ConfigureRequest) error {
	cfg := DefaultConfig()
	t, err := modelplugin.Configure(req, &cfg, &cfg.Settings, DefaultPrompt, []string{PMaxValues}, nil)
	if err != nil {
		return err
	}
	if err := cfg.check(); err != nil {
		return err
	}
	p.cfg = cfg
	p.ask = modelplugin.Asker{Template: t, Settings: cfg.Settings, Schema: Schema}
	return nil
}

func (p *plugin) vars(c *protocol.Conversation) map[string]string {
	v := p.ask.Vars(c)
	v[PMaxValues] = strconv.Itoa(p.cfg.MaxValues)
	return v
}

func (p *plugin) askModel(c *protocol.Conversation) ([]protocol.ModelCall, string, error) {
	return p.ask.Ask(p.vars(c)), "", nil
}

func (p *plugin) answer(c *protocol.Conversation, round uint32, resps []protocol.ModelResponse, state string) sdk.Result {
	return p.ask.Answer(round, resps, state, func() map[string]string { return p.vars(c) }, p.Parse)
}

// Answer is the model's answer.
type Answer struct {
	AIValues    *[]AIValue    `json:"ai_values"`
	HumanValues *[]HumanValue `json:"human_values"`
}

// AIValue is one AI value in the answer.
type AIValue struct {
	Name       *string `json:"name"`
	Expression *string `json:"expression"`
	Evidence   *string `json:"evidence"`
}

// HumanValue is one human value in the answer.
type HumanValue struct {
	Name     *string `json:"name"`
	Evidence *string `json:"evidence"`
}

// Parse reads a model's answer strictly into the two annotations, with the
// default configuration.
func Parse(text string) ([]protocol.Annotation, error) {
	p := &plugin{cfg: DefaultConfig()}
	return p.Parse(text)
}

func (p *plugin) Parse(text string) ([]protocol.Annotation, error) {
	var a Answer
	if err := modelplugin.Decode(text, &a); err != nil {
		return nil, err
	}
	if err := modelplugin.Missing(FieldAI, a.AIValues != nil, FieldHuman, a.HumanValues != nil); err != nil {
		return nil, err
	}
	var ai, human list
	for i, v := range *a.AIValues {
		where := fmt.Sprintf("%s[%d]", FieldAI, i)
		if err := missingIn(where, "name", v.Name != nil, "expression", v.Expression != nil, "evidence", v.Evidence != nil); err != nil {
			return nil, err
		}
		if *v.Expression != Explicit && *v.Expression != Implicit {
			return nil, fmt.Errorf(`%s.expression: %q is not "explicit" or "implicit"`, where, *v.Expression)
		}
		ai.add(*v.Name, *v.Expression, *v.Evidence)
	}
	for i, v := range *a.HumanValues {
		where := fmt.Sprintf("%s[%d]", FieldHuman, i)
		if err := missingIn(where, "name", v.Name != nil, "evidence", v.Evidence != nil); err != nil {
			return nil, err
		}
		human.add(*v.Name, Explicit, *v.Evidence)
	}
	return []protocol.Annotation{
		{Field: FieldAI, Items: ai.items(p.cfg)},
		{Field: FieldHuman, Items: human.items(p.cfg)},
	}, nil
}

func missingIn(where string, pairs ...any) error {
	if err := modelplugin.Missing(pairs...); err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	return nil
}

type value struct {
	name, expression, evidence string
}

// list gathers values in the model's order, merging duplicates.
type list struct {
	vals  []value
	index map[string]int
}

func (l *list) add(name, expression, evidence string) {
	n, ok := modelplugin.NormalizeName(name, MaxNameChars)
	if !ok {
		return
	}
	if l.index == nil {
		l.index = map[string]int{}
	}
	if i, dup := l.index[n]; dup {
		v := &l.vals[i]
		if expression == Explicit {
			v.expression = Explicit
		}
		if strings.TrimSpace(v.evidence) == "" {
			v.evidence = evidence
		}
		return
	}
	l.index[n] = len(l.vals)
	l.vals = append(l.vals, value{n, expression, evidence})
}

func (l *list) items(cfg Config) []protocol.Item {
	vals := l.vals
	if len(vals) > cfg.MaxValues {
		vals = vals[:cfg.MaxValues]
	}
	items := make([]protocol.Item, 0, len(vals))
	for _, v := range vals {
		attrs := map[string]string{AttrExpression: v.expression}
		if ev := modelplugin.Evidence(v.evidence, cfg.EvidenceChars); cfg.Evidence && ev != "" {
			attrs[AttrEvidence] = ev
		}
		items = append(items, protocol.Item{Name: v.name, Attrs: attrs})
	}
	sort.Slice(items, func(i, j int) bool { return items[i].Name < items[j].Name })
	if len(items) == 0 {
		return nil
	}
	return items
}
