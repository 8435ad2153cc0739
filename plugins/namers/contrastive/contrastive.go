// Package contrastive is the "contrastive-namer" built-in namer plugin
// (sdk/ABI.md, "Namer plugins"): a model names each cluster of a value
// taxonomy contrastively, as Clio does. It sees the cluster's most central
// members and the nearest values (or clusters) outside it, and gives a short
// name that covers the members and sets them apart from the others, with a
// description of one or two sentences. `valuescope taxonomy build
// --name-model X` runs it with the model X.
//
// # Output
//
// One annotation of the field cluster_name with one item: the name, white
// space collapsed, quotes and sentence punctuation trimmed from its ends,
// its case as the model wrote it; its "description" attribute is the
// model's description, white space collapsed, personal data replaced by
// "[redacted]", at most description_chars characters. A name that is empty,
// has no letter, is over max_name_chars characters (or 100 bytes), or holds
// personal data (an e-mail address, URL or domain, @handle or phone number),
// and an empty description, get the repair round.
//
// # Prompt
//
// configs/prompts/cluster-names.md is the default (built in as prompt.md).
// The prompt may use {{members}} (required), {{contrast}}, {{kind}},
// {{level}} and {{schema}} (see the prompt file). The model must answer
//
//	{"name": "...", "description": "..."}
//
// with both keys and nothing else; anything else gets the repair round (see
// plugins/internal/modelplugin).
//
// # Configuration
//
//	max_tokens = 400
//	temperature = 0.0
//	max_members = 20          # members shown, most central first (1 to 500)
//	max_contrast = 10         # non-members shown, nearest first (0 to 100)
//	max_name_chars = 60       # 10 to 100
//	description_chars = 400   # 50 to 2000
package contrastive

import (
	_ "embed"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/valuescope/valuescope/plugins/internal/modelplugin"
	"github.com/valuescope/valuescope/sdk"
	"github.com/valuescope/valuescope/sdk/naming"
	"github.com/valuescope/valuescope/sdk/protocol"
)

// Identity of the plugin.
const (
	Name    = "contrastive-namer"
	Version = "1.0.0"
)

// Placeholders of the prompt, besides {{schema}}.
const (
	PMembers  = "members"
	PContrast = "contrast"
	PKind     = "kind"
	PLevel    = "level"
)

// DefaultPrompt is the prompt used when none is given; it is
// configs/prompts/cluster-names.md.
//
//go:embed prompt.md
var DefaultPrompt string

// Schema is the JSON Schema of the model's answer.
const Schema = `{"type":"object","properties":{` +
	`"name":{"type":"string","description":"Short name of the cluster, at most six words, sentence case."},` +
	`"description":{"type":"string","description":"One or two sentences in the past tense: This group of values emphasized ..."}},` +
	`"required":["name","description"],"additionalProperties":false}`

// maxShownChars bounds a member's (or contrast's) name in the prompt.
const maxShownChars = 100

// Config is the plugin's config table.
type Config struct {
	modelplugin.Generation
	MaxMembers       int `json:"max_members"`
	MaxContrast      int `json:"max_contrast"`
	MaxNameChars     int `json:"max_name_chars"`
	DescriptionChars int `json:"description_chars"`
}

// DefaultConfig is the configuration of a plugin given no key.
func DefaultConfig() Config {
	return Config{
		Generation: modelplugin.Generation{MaxTokens: 400},
		MaxMembers: 20, MaxContrast: 10, MaxNameChars: 60, DescriptionChars: 400,
	}
}

func (c Config) check() error {
	var errs []string
	for _, r := range []struct {
		key       string
		v, lo, hi int
	}{
		{"max_members", c.MaxMembers, 1, 500},
		{"max_contrast", c.MaxContrast, 0, 100},
		{"max_name_chars", c.MaxNameChars, 10, modelplugin.MaxNameBytes},
		{"description_chars", c.DescriptionChars, 50, 2000},
	} {
		if r.v < r.lo || r.v > r.hi {
			errs = append(errs, fmt.Sprintf("%s: want %d to %d, got %d", r.key, r.lo, r.hi, r.v))
		}
	}
	if len(errs) > 0 {
		return errors.New("config: " + strings.Join(errs, "; "))
	}
	return nil
}

const description = "Model-based contrastive naming of taxonomy clusters, as Clio does: the model sees the most " +
	"central members and the nearest non-members, and names what sets the cluster apart, with a description."

// Manifest describes the plugin: a namer that needs a model.
func Manifest() protocol.Manifest {
	return protocol.Manifest{Name: Name, Version: Version, ABI: protocol.ABI, Kind: protocol.Namer,
		Field: protocol.FieldClusterName, Needs: []string{protocol.NeedModel}, Description: description}
}

// plugin is the configured plugin: its settings and its model call.
type plugin struct {
	cfg Config
	ask modelplugin.Asker
}

// New returns the plugin, configured with the defaults until Configure.
func New() *sdk.Rounds {
	p := &plugin{}
	return modelplugin.Configured(&sdk.Rounds{Info: Manifest(), Config: p.configure, Ask: p.askModel, Answer: p.answer, MaxRounds: 2})
}

func (p *plugin) configure(req protocol.ConfigureRequest) error {
	cfg := DefaultConfig()
	t, err := modelplugin.ConfigurePrompt(req, &cfg, &cfg.Generation, DefaultPrompt,
		[]string{PMembers, PContrast, PKind, PLevel, modelplugin.PSchema}, []string{PMembers})
	if err != nil {
		return err
	}
	if err := cfg.check(); err != nil {
		return err
	}
	p.cfg = cfg
	p.ask = modelplugin.Asker{Template: t, Settings: modelplugin.Settings{Generation: cfg.Generation}, Schema: Schema}
	return nil
}

// vars are the prompt's placeholders for one cluster.
func (p *plugin) vars(c naming.Cluster) map[string]string {
	var members, contrast []string
	for _, m := range c.Members {
		if n := shown(m.Name); n != "" {
			members = append(members, n)
		}
	}
	for _, n := range c.Contrast {
		if n = shown(n); n != "" {
			contrast = append(contrast, n)
		}
	}
	kind := "values"
	if c.Level > 1 {
		kind = "groups of values"
	}
	return map[string]string{
		PMembers:            list(members, p.cfg.MaxMembers, true),
		PContrast:           list(contrast, p.cfg.MaxContrast, false),
		PKind:               kind,
		PLevel:              strconv.Itoa(c.Level),
		modelplugin.PSchema: p.ask.SchemaVar(),
	}
}

// shown is a name as the prompt shows it: valid UTF-8, white space
// collapsed, at most maxShownChars characters.
func shown(s string) string {
	if len(s) > 16*maxShownChars {
		s = s[:16*maxShownChars] // a cut character becomes U+FFFD, then is cut off
	}
	s = strings.Join(strings.Fields(strings.ToValidUTF8(s, "\uFFFD")), " ")
	if utf8.RuneCountInString(s) > maxShownChars {
		s = string([]rune(s)[:maxShownChars-1]) + "…"
	}
	return s
}

// list renders names as "- name" lines, the first max of them; more says
// how many were left out ("(and N more)").
func list(names []string, max int, more bool) string {
	if len(names) == 0 || max == 0 {
		return "(none)"
	}
	var b strings.Builder
	for i, n := range names[:min(max, len(names))] {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString("- " + n)
	}
	if more && len(names) > max {
		fmt.Fprintf(&b, "\n(and %d more)", len(names)-max)
	}
	return b.String()
}

func (p *plugin) cluster(c *protocol.Conversation) (naming.Cluster, error) {
	cl, err := naming.Read(c)
	if err != nil {
		return cl, err
	}
	for _, m := range cl.Members {
		if shown(m.Name) != "" {
			return cl, nil
		}
	}
	return cl, errors.New("the cluster's members have no names")
}

func (p *plugin) askModel(c *protocol.Conversation) ([]protocol.ModelCall, string, error) {
	cl, err := p.cluster(c)
	if err != nil {
		return nil, "", err
	}
	return p.ask.Ask(p.vars(cl)), "", nil
}

func (p *plugin) answer(c *protocol.Conversation, round uint32, resps []protocol.ModelResponse, state string) sdk.Result {
	// The cluster, which round 0 checked, is read again only for a repair
	// round: a large one costs more to decode than the answer.
	vars := func() map[string]string {
		cl, _ := naming.Read(c)
		return p.vars(cl)
	}
	return p.ask.Answer(round, resps, state, vars, p.Parse)
}

// Answer is the model's answer.
type Answer struct {
	Name        *string `json:"name"`
	Description *string `json:"description"`
}

// Parse reads a model's answer strictly, with the default configuration.
func Parse(text string) ([]protocol.Annotation, error) {
	return (&plugin{cfg: DefaultConfig()}).Parse(text)
}

// Parse reads a model's answer strictly into the plugin's answer.
func (p *plugin) Parse(text string) ([]protocol.Annotation, error) {
	var a Answer
	if err := modelplugin.Decode(text, &a); err != nil {
		return nil, err
	}
	if err := modelplugin.Missing("name", a.Name != nil, "description", a.Description != nil); err != nil {
		return nil, err
	}
	name, err := clusterName(*a.Name, p.cfg.MaxNameChars)
	if err != nil {
		return nil, err
	}
	desc := modelplugin.Evidence(*a.Description, p.cfg.DescriptionChars)
	if strings.IndexFunc(desc, unicode.IsLetter) < 0 {
		return nil, errors.New(`"description" is empty; describe the cluster in one or two sentences`)
	}
	return naming.Answer(name, desc), nil
}

// clusterName tidies a model's name for a cluster, or says why it cannot
// be used (for the repair round).
func clusterName(s string, maxChars int) (string, error) {
	s = strings.Map(func(r rune) rune {
		switch {
		case unicode.IsSpace(r):
			return ' '
		case unicode.IsControl(r) || unicode.Is(unicode.Cf, r):
			return -1
		}
		return r
	}, strings.ToValidUTF8(s, ""))
	s = strings.TrimFunc(strings.Join(strings.Fields(s), " "), func(r rune) bool {
		return r == ' ' || strings.ContainsRune("\"'`“”‘’«».,;:!?-–—*•#", r)
	})
	n := utf8.RuneCountInString(s)
	switch {
	case modelplugin.PersonalData(s):
		return "", errors.New(`"name" contains personal data (an e-mail address, URL, @handle or phone number); name the cluster in general terms`)
	case n > maxChars || len(s) > modelplugin.MaxNameBytes:
		return "", fmt.Errorf(`"name" is too long (%d characters, %d bytes); at most %d characters and %d bytes, about six words`, n, len(s), maxChars, modelplugin.MaxNameBytes)
	case strings.IndexFunc(s, unicode.IsLetter) < 0:
		return "", errors.New(`"name" is empty or has no words; give the cluster a short name`)
	}
	return s, nil
}
