// Package task holds two built-in plugins that record the user's task, the
// context against which "Values in the Wild" (Huang et al., arXiv
// 2504.15236) analysed values:
//
//   - "task" (classifier, field "task"): a model picks one label from a task
//     taxonomy. A manifest declares its labels before it is configured, so
//     the label universe is fixed: the Taxonomy below. A stage may narrow it
//     with `labels` (any subset; "other" is always kept, so that the model is
//     never forced into a wrong label) and reword the descriptions the model
//     reads with `descriptions`.
//   - "task-description" (extractor, field "task_description"): a model
//     writes a short open description of the task ("debug a python
//     dictionary error"), one item per conversation, to be embedded and
//     clustered into a taxonomy like values — the Clio way, for a taxonomy
//     that is not fixed in advance.
//
// # Prompts
//
// configs/prompts/task.md and configs/prompts/task-description.md are the
// defaults (built in as prompt.md and description.md).
//
// task: {{conversation}} (required), {{labels}} (required; the configured
// labels, one per line as "- label: description") and {{schema}}. The model
// must answer {"reasoning": "...", "task": "<label>"}, spelled exactly.
//
// task-description: {{conversation}} (required), {{max_chars}} and
// {{schema}}. The model must answer {"task": "..."}. The description is
// normalised like a value name (lower case, white space collapsed, end
// punctuation trimmed); one that is empty, longer than max_chars, without a
// letter, or containing personal data (e-mail, URL or domain, @handle, phone
// number) is a parse error, so it gets the repair round.
//
// A conversation without user or assistant text fails with an error.
//
// # Configuration
//
// Both take the common keys:
//
//	max_tokens = 300
//	temperature = 0.0
//	max_conversation_chars = 20000  # 0: no limit
//	include_system = false
//
// task also takes
//
//	labels = ["software development", "creative writing and roleplay"]  # default: the whole Taxonomy
//	descriptions = { "software development" = "code and developer tools" }
//
// and task-description
//
//	max_chars = 80  # 10 to 100
package task

import (
	_ "embed"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/valuescope/valuescope/plugins/internal/modelplugin"
	"github.com/valuescope/valuescope/sdk"
	"github.com/valuescope/valuescope/sdk/protocol"
)

// Identity of the plugins.
const (
	Name                   = "task"
	Version                = "1.0.0"
	Field                  = "task"
	DescriptionName        = "task-description"
	DescriptionVersion     = "1.0.0"
	DescriptionField       = "task_description"
	Other                  = "other"
	PLabels                = "labels"
	PMaxChars              = "max_chars"
	defaultMaxTokens       = 300
	defaultMaxConversation = 20000
)

// Task is one label of the taxonomy, with the description the model reads.
type Task struct {
	Label, Description string
}

// Taxonomy is the task classifier's label set, in the manifest's order.
var Taxonomy = []Task{
	{"software development", "writing, debugging, reviewing or explaining code, software tools and technical systems"},
	{"data and mathematics", "calculations, math problems, statistics, data analysis, spreadsheets"},
	{"information and explanation", "factual questions, definitions, how things work, explaining concepts in science, history or other fields"},
	{"writing and editing", "drafting, editing, summarising or proofreading non-fiction: emails, essays, reports, posts, documents"},
	{"creative writing and roleplay", "fiction, poetry, lyrics, jokes, storytelling, worldbuilding, roleplay and games"},
	{"translation and language", "translating text, grammar, vocabulary, learning a language"},
	{"education and career", "studying, homework, learning plans, job search, CVs, interviews, career choices"},
	{"business and finance", "business strategy, marketing, management, personal finance, investing, economics"},
	{"legal and administrative", "legal questions, rights, contracts, official procedures and paperwork"},
	{"health and wellbeing", "physical or mental health, medicine, fitness, nutrition, sleep"},
	{"relationships and personal advice", "family, friends, romance, parenting, social situations, personal decisions and lifestyle"},
	{"emotional support", "the user is distressed, grieving, lonely or struggling and wants comfort or someone to talk to"},
	{"ethics and philosophy", "moral dilemmas, ethical questions, philosophy, religion and meaning"},
	{"politics and society", "political, social and cultural issues, current events, contested public questions"},
	{"ai and technology", "questions about AI (the assistant itself included), technology, and their effects on people and society"},
	{"harmful or restricted request", "requests for dangerous, illegal, deceptive, hateful, explicit sexual or otherwise restricted content"},
	{Other, "none of the above"},
}

// Labels are the taxonomy's labels.
func Labels() []string {
	out := make([]string, len(Taxonomy))
	for i, t := range Taxonomy {
		out[i] = t.Label
	}
	return out
}

// DefaultPrompt and DefaultDescriptionPrompt are used when the stage names
// no prompt; they are configs/prompts/task.md and task-description.md.
var (
	//go:embed prompt.md
	DefaultPrompt string
	//go:embed description.md
	DefaultDescriptionPrompt string
)

// Config is the task classifier's config table.
type Config struct {
	modelplugin.Settings
	Labels       []string          `json:"labels"`
	Descriptions map[string]string `json:"descriptions"`
}

// DefaultConfig is the configuration of a stage that sets no key.
func DefaultConfig() Config {
	return Config{Settings: modelplugin.Settings{Generation: modelplugin.Generation{MaxTokens: defaultMaxTokens}, MaxConversationChars: defaultMaxConversation}}
}

// Manifest describes the task classifier.
func Manifest() protocol.Manifest {
	return protocol.Manifest{
		Name:    Name,
		Version: Version,
		ABI:     protocol.ABI,
		Kind:    protocol.Classifier,
		Field:   Field,
		Labels:  Labels(),
		Needs:   []string{protocol.NeedModel},
		Description: "Model-based classification of the user's main task into a fixed taxonomy (a stage may " +
			"narrow it with `labels`); for open task descriptions use task-description.",
	}
}

type classifier struct {
	labels   []string
	descs    map[string]string
	list     string
	schema   string
	ask      modelplugin.Asker
	settings modelplugin.Settings
}

// New returns the task classifier, configured with the defaults until
// Configure.
func New() *sdk.Rounds {
	p := &classifier{}
	if err := p.configure(protocol.ConfigureRequest{}); err != nil {
		panic(err)
	}
	return &sdk.Rounds{Info: Manifest(), Config: p.configure, Ask: p.askModel, Answer: p.answer, MaxRounds: 2}
}

func (p *classifier) configure(req protocol.ConfigureRequest) error {
	cfg := DefaultConfig()
	t, err := modelplugin.Configure(req, &cfg, &cfg.Settings, DefaultPrompt, []string{PLabels}, []string{PLabels})
	if err != nil {
		return err
	}
	labels, descs, err := cfg.labels()
	if err != nil {
		return err
	}
	p.labels, p.descs = labels, descs
	p.list = modelplugin.LabelList(labels, descs)
	p.schema = ClassifierSchema(labels)
	p.ask = modelplugin.Asker{Template: t, Settings: cfg.Settings, Schema: p.schema}
	return nil
}

// labels checks the configured labels and descriptions and returns them
// with the defaults applied.
func (c Config) labels() ([]string, map[string]string, error) {
	all := Labels()
	var errs []string
	labels := c.Labels
	if labels == nil {
		labels = all
	}
	if len(labels) == 0 {
		errs = append(errs, "labels: empty; leave it out to use every label")
	}
	var chosen []string
	for _, l := range labels {
		switch {
		case !slices.Contains(all, l):
			errs = append(errs, fmt.Sprintf("labels: %q is not a label of this plugin (labels: %s)", l, strings.Join(quote(all), ", ")))
		case slices.Contains(chosen, l):
			errs = append(errs, fmt.Sprintf("labels: %q is listed twice", l))
		default:
			chosen = append(chosen, l)
		}
	}
	if !slices.Contains(chosen, Other) {
		chosen = append(chosen, Other)
	}
	descs := map[string]string{}
	for _, t := range Taxonomy {
		descs[t.Label] = t.Description
	}
	keys := make([]string, 0, len(c.Descriptions))
	for l := range c.Descriptions {
		keys = append(keys, l)
	}
	slices.Sort(keys)
	for _, l := range keys {
		d := c.Descriptions[l]
		switch {
		case !slices.Contains(chosen, l):
			errs = append(errs, fmt.Sprintf("descriptions: %q is not one of the stage's labels", l))
		case strings.TrimSpace(d) == "":
			errs = append(errs, fmt.Sprintf("descriptions: %q: empty", l))
		default:
			descs[l] = strings.TrimSpace(d)
		}
	}
	if len(errs) > 0 {
		return nil, nil, errors.New("config: " + strings.Join(errs, "; "))
	}
	return chosen, descs, nil
}

func quote(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = strconv.Quote(s)
	}
	return out
}

// ClassifierSchema is the JSON Schema of the classifier's answer for a label
// set.
func ClassifierSchema(labels []string) string {
	return `{"type":"object","properties":{` +
		`"reasoning":{"type":"string","description":"One sentence on what the user mainly wanted."},` +
		`"task":{"type":"string","enum":` + modelplugin.EnumJSON(labels) + `}},` +
		`"required":["reasoning","task"],"additionalProperties":false}`
}

func (p *classifier) vars(c *protocol.Conversation) map[string]string {
	v := p.ask.Vars(c)
	v[PLabels] = p.list
	return v
}

func (p *classifier) askModel(c *protocol.Conversation) ([]protocol.ModelCall, string, error) {
	if !modelplugin.HasDialogue(c) {
		return nil, "", modelplugin.ErrNoText
	}
	return p.ask.Ask(p.vars(c)), "", nil
}

func (p *classifier) answer(c *protocol.Conversation, round uint32, resps []protocol.ModelResponse, state string) sdk.Result {
	return p.ask.Answer(round, resps, state, func() map[string]string { return p.vars(c) }, p.parse)
}

// Answer is the classifier's answer.
type Answer struct {
	Reasoning *string `json:"reasoning"`
	Task      *string `json:"task"`
}

// Parse reads a classifier's answer strictly, with the whole taxonomy
// allowed.
func Parse(text string) ([]protocol.Annotation, error) {
	return (&classifier{labels: Labels()}).parse(text)
}

func (p *classifier) parse(text string) ([]protocol.Annotation, error) {
	var a Answer
	if err := modelplugin.Decode(text, &a); err != nil {
		return nil, err
	}
	if err := modelplugin.Missing("reasoning", a.Reasoning != nil, "task", a.Task != nil); err != nil {
		return nil, err
	}
	if err := modelplugin.CheckLabel("task", *a.Task, p.labels); err != nil {
		return nil, err
	}
	return []protocol.Annotation{{Field: Field, Label: *a.Task}}, nil
}
