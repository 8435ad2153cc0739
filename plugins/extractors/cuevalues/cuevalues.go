// Package cuevalues is the "cue-values" built-in extractor: an offline,
// model-free spotter of the values an AI assistant expresses, by cue phrases.
//
// It is the cheap baseline of the "Values in the Wild" method (Huang et al.,
// arXiv 2504.15236): where the paper asks a model which values a response
// shows, this plugin looks for phrasings that usually express one ("i can't
// help with" for harm prevention, "it's your decision" for user autonomy,
// a code block for technical excellence). Every value it names is a level-0
// value of the paper's released taxonomy, so its output can be placed on the
// paper's tree and compared with model-based runs.
//
// # Output
//
//   - ai_values: values found in assistant turns.
//   - human_values: values the user states as their own ("i value honesty",
//     "my family is really important to me"). The stated object is mapped
//     through the same cue table; when nothing in it maps, a short noun phrase
//     (one to three words, such as "hard work") is kept as the value name.
//
// Both annotations are always returned, ai_values first, with no items when
// nothing is found. One item per value per conversation, from its first
// occurrence, sorted by name. Attrs: "expression" is "explicit" when the cue names the value itself
// ("honest", "privacy") and "implicit" otherwise (human values are always
// explicit); "evidence" is the sentence around the first match, white space
// collapsed, at most 120 characters (runes), always valid UTF-8.
//
// # Configuration
//
//	min_turn_chars = 0   # skip assistant turns shorter than this (in runes)
//
// # Speed
//
// All cues are compiled once, at init (about 20 ms, a 2 MB table), into one
// Aho–Corasick automaton (package cuematch); a turn is scanned once, byte by
// byte, whatever the number of cues, allocating only for the items emitted.
//
// # Languages
//
// The cues are English, plus a few refusal and privacy phrasings in Spanish,
// French, German, Italian and Portuguese; other text mostly yields no values.
package cuevalues

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/valuescope/valuescope/plugins/extractors/cuevalues/cuematch"
	"github.com/valuescope/valuescope/sdk"
	"github.com/valuescope/valuescope/sdk/protocol"
)

// Identity of the plugin.
const (
	Name       = "cue-values"
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

// MaxEvidence is the longest evidence string, in runes.
const MaxEvidence = 120

// Config is the plugin's configuration table.
type Config struct {
	// MinTurnChars skips assistant turns shorter than this many runes
	// (0, the default, reads every turn).
	MinTurnChars int `json:"min_turn_chars"`
}

// cue is what one pattern of the compiled matcher stands for.
type cue struct {
	value    int // index into valueNames
	explicit bool
	lead     []string // the match must follow one of these words, if any
}

// Read-only once compiled. They are compiled on first use (compiled), not
// in an init function: the built-ins share one Wasm module, and every
// instance of it runs every built-in's initialisers, so an instance serving
// another plugin would pay ~80 ms for these matchers.
var (
	compileOnce sync.Once
	valueNames  []string
	cues        []cue
	values      *cuematch.Matcher
	statements  *cuematch.Matcher
	objFirst    []bool // per statement pattern
)

// compiled compiles the cue tables, once.
func compiled() { compileOnce.Do(compile) }

func compile() {
	var patterns []string
	for i, e := range table {
		valueNames = append(valueNames, e.value)
		for _, p := range e.explicit {
			lead, rest := splitLead(p)
			patterns = append(patterns, rest)
			cues = append(cues, cue{i, true, lead})
		}
		for _, p := range e.implicit {
			lead, rest := splitLead(p)
			patterns = append(patterns, rest)
			cues = append(cues, cue{i, false, lead})
		}
	}
	values = cuematch.MustCompile(patterns)
	var sp []string
	for _, s := range statementCues {
		sp = append(sp, s.pattern)
		objFirst = append(objFirst, s.objectFirst)
	}
	statements = cuematch.MustCompile(sp)
}

// splitLead separates a leading "[a|b c] " context from a pattern.
func splitLead(p string) (lead []string, rest string) {
	if !strings.HasPrefix(p, "[") {
		return nil, p
	}
	end := strings.IndexByte(p, ']')
	if end < 0 {
		panic(fmt.Sprintf("cue %q: unclosed [", p))
	}
	return strings.Split(p[1:end], "|"), strings.TrimSpace(p[end+1:])
}

// follows reports whether text[:i] ends, after white space, with one of the
// words in lead, itself at a word boundary. Lead words are lower case ASCII.
func follows(text string, i int, lead []string) bool {
	for i > 0 && (text[i-1] == ' ' || text[i-1] == '\t' || text[i-1] == '\n' || text[i-1] == '\r') {
		i--
	}
	for _, w := range lead {
		if i < len(w) || !strings.EqualFold(text[i-len(w):i], w) {
			continue
		}
		if j := i - len(w); j == 0 || !isWordByte(text[j-1]) {
			return true
		}
	}
	return false
}

func isWordByte(b byte) bool {
	return b >= 0x80 || b == '_' || ('a' <= b && b <= 'z') || ('A' <= b && b <= 'Z') || ('0' <= b && b <= '9')
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
		Description: "Offline extractor of the values an assistant expresses (ai_values) and the values " +
			"a user states (human_values), by curated cue phrases mapped onto the Values in the Wild taxonomy.",
	}
}

// Values lists the value names the cue table can emit, sorted.
func Values() []string {
	compiled()
	out := append([]string(nil), valueNames...)
	sort.Strings(out)
	return out
}

// Cues is the number of cue patterns (before alternations are expanded).
func Cues() int { compiled(); return values.Patterns() }

// New returns the plugin.
func New() *sdk.Func {
	compiled()
	x := &extractor{}
	return &sdk.Func{
		Info:     Manifest(),
		Config:   x.configure,
		Annotate: x.annotate,
	}
}

type extractor struct {
	cfg Config
}

func (x *extractor) configure(req protocol.ConfigureRequest) error {
	var c Config
	if err := sdk.DecodeConfig(req, &c); err != nil {
		return err
	}
	if c.MinTurnChars < 0 {
		return fmt.Errorf("config: min_turn_chars must be >= 0, got %d", c.MinTurnChars)
	}
	x.cfg = c
	return nil
}

func (x *extractor) annotate(c *protocol.Conversation) ([]protocol.Annotation, error) {
	ai := collector{}
	human := collector{}
	x.eachAIValue(c, func(t *protocol.Turn, v int, explicit bool, start, end int) {
		name := valueNames[v]
		if ai.has(name) {
			return
		}
		expr := Implicit
		if explicit {
			expr = Explicit
		}
		ai.add(name, expr, evidence(t.Content, start, end))
	})
	for i := range c.Turns {
		if t := &c.Turns[i]; strings.EqualFold(t.Role, "user") {
			scanStatements(t.Content, &human)
		}
	}
	return []protocol.Annotation{
		{Field: FieldAI, Items: ai.sorted()},
		{Field: FieldHuman, Items: human.sorted()},
	}, nil
}

// ExpressesValues reports whether the extractor, configured with cfg,
// finds an AI value in the conversation: the response-type classifier
// asks it, so that the two offline plugins never contradict each other (a
// response type of "no values" where values were extracted).
func ExpressesValues(c *protocol.Conversation, cfg Config) bool {
	compiled()
	x := &extractor{cfg: cfg}
	found := false
	x.eachAIValue(c, func(*protocol.Turn, int, bool, int, int) { found = true })
	return found
}

// eachAIValue reports each value cue in the assistant turns the extractor
// reads (those not too short): the one scan behind ai_values and
// ExpressesValues, so that the two cannot drift apart.
func (x *extractor) eachAIValue(c *protocol.Conversation, fn func(t *protocol.Turn, v int, explicit bool, start, end int)) {
	for i := range c.Turns {
		t := &c.Turns[i]
		if !strings.EqualFold(t.Role, "assistant") || x.tooShort(t.Content) {
			continue
		}
		scanValues(t.Content, func(v int, explicit bool, start, end int) { fn(t, v, explicit, start, end) })
	}
}

func (x *extractor) tooShort(s string) bool {
	n := x.cfg.MinTurnChars
	if n == 0 || len(s) >= n*utf8.UTFMax {
		return false
	}
	return utf8.RuneCountInString(s) < n
}

// scanValues reports each value cue found in text. A match lying at the end
// of a longer match ("integrity" in "academic integrity") is not reported:
// the longer, more specific cue wins.
func scanValues(text string, fn func(value int, explicit bool, start, end int)) {
	compiled()
	lastEnd, lastStart := -1, -1
	values.Scan(text, func(m cuematch.Match) bool {
		if m.End == lastEnd && m.Start > lastStart {
			return true
		}
		cu := &cues[m.ID]
		if cu.lead != nil && !follows(text, m.Start, cu.lead) {
			return true
		}
		lastEnd, lastStart = m.End, m.Start
		fn(cu.value, cu.explicit, m.Start, m.End)
		return true
	})
}

// scanStatements finds the values a user states as theirs.
func scanStatements(text string, col *collector) {
	compiled()
	statements.Scan(text, func(m cuematch.Match) bool {
		var obj string
		if objFirst[m.ID] {
			obj = clauseAfter(text, m.End)
		} else {
			obj = clauseBefore(text, m.Start)
		}
		if obj == "" {
			return true
		}
		ev := ""
		found := false
		scanValues(obj, func(v int, _ bool, _, _ int) {
			found = true
			if name := valueNames[v]; !col.has(name) {
				if ev == "" {
					ev = evidence(text, m.Start, m.End)
				}
				col.add(name, Explicit, ev)
			}
		})
		if !found {
			if name := headPhrase(obj); name != "" && !col.has(name) {
				col.add(name, Explicit, evidence(text, m.Start, m.End))
			}
		}
		return true
	})
}

const maxClause = 160 // bytes of a stated value's clause that are read

func isClauseEnd(c byte) bool {
	return c == '.' || c == '!' || c == '?' || c == ';' || c == ':' || c == '\n'
}

// clauseAfter is the text from i to the end of its clause.
func clauseAfter(text string, i int) string {
	j := i
	for j < len(text) && j-i < maxClause && !isClauseEnd(text[j]) {
		j++
	}
	for j > i && j < len(text) && !utf8.RuneStart(text[j]) {
		j--
	}
	return text[i:j]
}

// clauseBefore is the text from the start of the clause ending at i to i; a
// comma also starts a clause here ("For me, honesty is important to me").
func clauseBefore(text string, i int) string {
	j := i
	for j > 0 && i-j < maxClause && !isClauseEnd(text[j-1]) && text[j-1] != ',' {
		j--
	}
	for j < i && !utf8.RuneStart(text[j]) {
		j++
	}
	return text[j:i]
}

// stop words end a head phrase; lead words are skipped before it starts.
var (
	stopWords = setOf("and", "or", "but", "in", "on", "at", "for", "with", "to", "of", "over", "above",
		"more", "than", "because", "so", "that", "which", "who", "when", "if", "as", "about", "from", "by",
		"is", "are", "was", "were", "be", "been", "it", "this", "these", "those", "me", "my", "you", "your",
		"i", "we", "us", "they", "them", "he", "she", "him", "her", "his", "their", "our", "its", "a", "an",
		"the", "all", "very", "really", "most", "too", "also", "just", "much", "lot", "things", "thing",
		"stuff", "everything", "something", "anything", "nothing", "what", "how", "why", "not", "no",
		"do", "does", "did", "have", "has", "had", "can", "could", "would", "should", "will", "there",
		"here", "people", "someone", "anyone", "everyone", "myself", "yourself", "other", "others")
	leadWords = setOf("my", "our", "the", "a", "an", "being", "having", "getting", "doing", "making",
		"staying", "keeping", "really", "very", "also", "always", "deeply", "truly", "just", "that",
		"and", "but", "so", "honestly", "personally", "actually", "for", "me")
)

func setOf(words ...string) map[string]bool {
	m := make(map[string]bool, len(words))
	for _, w := range words {
		m[w] = true
	}
	return m
}

// headPhrase is the short noun phrase a stated value names, when the cue
// table maps nothing in it: one to three content words that end the clause
// or are followed by a stop word ("loyalty above all" gives "loyalty";
// "giving people second chances" gives nothing).
func headPhrase(clause string) string {
	words := strings.FieldsFunc(strings.ToLower(clause), func(r rune) bool {
		return !(unicode.IsLetter(r) || r == '-' || r == '\'')
	})
	i := 0
	for i < len(words) && leadWords[words[i]] {
		i++
	}
	var head []string
	for ; i < len(words); i++ {
		w := words[i]
		if stopWords[w] {
			break
		}
		if len(head) == 3 || utf8.RuneCountInString(w) < 3 {
			return ""
		}
		head = append(head, w)
	}
	return strings.Join(head, " ")
}

// evidence is the sentence around text[start:end], white space collapsed,
// clipped to MaxEvidence runes so that it keeps the match.
func evidence(text string, start, end int) string {
	const reach = 4 * MaxEvidence
	lo := start
	for lo > 0 && start-lo < reach {
		c := text[lo-1]
		if c == '\n' || c == '.' || c == '!' || c == '?' {
			break
		}
		lo--
	}
	hi := end
	for hi < len(text) && hi-end < reach {
		c := text[hi]
		if c == '\n' {
			break
		}
		hi++
		if c == '.' || c == '!' || c == '?' {
			break
		}
	}
	for lo < start && !utf8.RuneStart(text[lo]) {
		lo++
	}
	for hi > end && hi < len(text) && !utf8.RuneStart(text[hi]) {
		hi--
	}
	return clip(text[lo:hi], start-lo, end-lo, MaxEvidence)
}

// clip collapses white space in s, replaces invalid UTF-8 and cuts it to at
// most max runes, keeping s[ms:me] (or its start, when longer than max).
func clip(s string, ms, me, max int) string {
	rs := make([]rune, 0, len(s))
	rms, rme := -1, -1
	space := true
	for i := 0; i < len(s); {
		if i >= ms && rms < 0 {
			rms = len(rs)
		}
		if i >= me && rme < 0 {
			rme = len(rs)
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		i += n
		if unicode.IsSpace(r) {
			if !space {
				rs = append(rs, ' ')
			}
			space = true
			continue
		}
		space = false
		rs = append(rs, r)
	}
	if rms < 0 {
		rms = len(rs)
	}
	if rme < 0 {
		rme = len(rs)
	}
	if len(rs) > max {
		from := 0
		if rme > max {
			room := max - (rme - rms)
			if room < 0 {
				room = 0
			}
			from = rms - room/3
			if from < 0 {
				from = 0
			}
		}
		to := from + max
		if to > len(rs) {
			to = len(rs)
			from = to - max
		}
		rs = rs[from:to]
	}
	return strings.TrimSpace(string(rs))
}

// collector keeps the first item of each value name.
type collector struct {
	items []protocol.Item
	seen  map[string]bool
}

func (c *collector) has(name string) bool { return c.seen[name] }

func (c *collector) add(name, expression, evidence string) {
	if c.seen == nil {
		c.seen = make(map[string]bool)
	}
	c.seen[name] = true
	c.items = append(c.items, protocol.Item{
		Name:  name,
		Attrs: map[string]string{AttrExpression: expression, AttrEvidence: evidence},
	})
}

func (c *collector) sorted() []protocol.Item {
	sort.Slice(c.items, func(i, j int) bool { return c.items[i].Name < c.items[j].Name })
	return c.items
}
