package cuevalues

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/valuescope/valuescope/internal/shareddata"
	"github.com/valuescope/valuescope/plugins/extractors/cuevalues/cuematch"
	"github.com/valuescope/valuescope/sdk"
	"github.com/valuescope/valuescope/sdk/protocol"
)

// conv builds a conversation from alternating user and assistant texts.
func conv(texts ...string) *protocol.Conversation {
	c := &protocol.Conversation{ID: "t"}
	for i, s := range texts {
		role := "user"
		if i%2 == 1 {
			role = "assistant"
		}
		c.Turns = append(c.Turns, protocol.Turn{Role: role, Content: s})
	}
	return c
}

type result struct {
	ai, human map[string]protocol.Item
	raw       []protocol.Annotation
}

func run(t testing.TB, p *sdk.Func, c *protocol.Conversation) result {
	t.Helper()
	resp := p.Process(&protocol.ProcessRequest{Conversation: c})
	if resp.Error != "" {
		t.Fatalf("Process: %s", resp.Error)
	}
	if len(resp.Annotations) != 2 || resp.Annotations[0].Field != FieldAI || resp.Annotations[1].Field != FieldHuman {
		t.Fatalf("annotations = %+v, want ai_values then human_values", resp.Annotations)
	}
	r := result{ai: map[string]protocol.Item{}, human: map[string]protocol.Item{}, raw: resp.Annotations}
	for i, m := range []map[string]protocol.Item{r.ai, r.human} {
		items := resp.Annotations[i].Items
		if !sort.SliceIsSorted(items, func(a, b int) bool { return items[a].Name < items[b].Name }) {
			t.Errorf("%s items not sorted: %v", resp.Annotations[i].Field, items)
		}
		for _, it := range items {
			if _, dup := m[it.Name]; dup {
				t.Errorf("%s: value %q twice", resp.Annotations[i].Field, it.Name)
			}
			checkItem(t, it)
			m[it.Name] = it
		}
	}
	return r
}

func checkItem(t testing.TB, it protocol.Item) {
	t.Helper()
	if e := it.Attrs[AttrExpression]; e != Explicit && e != Implicit {
		t.Errorf("%q: expression %q", it.Name, e)
	}
	ev := it.Attrs[AttrEvidence]
	if ev == "" || !utf8.ValidString(ev) || utf8.RuneCountInString(ev) > MaxEvidence || strings.TrimSpace(ev) != ev {
		t.Errorf("%q: bad evidence %q", it.Name, ev)
	}
}

func names(m map[string]protocol.Item) []string {
	var out []string
	for n := range m {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

func TestManifest(t *testing.T) {
	m := New().Manifest()
	if m.Name != "cue-values" || m.Version != "1.0.0" || m.Kind != protocol.Extractor ||
		m.Field != "ai_values" || !reflect.DeepEqual(m.Fields, []string{"human_values"}) ||
		m.ABI != protocol.ABI || len(m.Needs) != 0 || m.Description == "" {
		t.Fatalf("manifest = %+v", m)
	}
}

// TestValueNamesInTaxonomy checks that every value the table can emit is a
// level-0 value of the paper's released taxonomy.
func TestValueNamesInTaxonomy(t *testing.T) {
	f, err := os.Open(shareddata.Path(t, "values-in-the-wild/values_tree.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	header, err := r.Read()
	if err != nil {
		t.Fatal(err)
	}
	col := map[string]int{}
	for i, h := range header {
		col[h] = i
	}
	level0 := map[string]bool{}
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if rec[col["level"]] == "0" {
			level0[rec[col["name"]]] = true
		}
	}
	if len(level0) < 3000 {
		t.Fatalf("read %d level-0 values, expected the full taxonomy", len(level0))
	}
	for _, v := range Values() {
		if !level0[v] {
			t.Errorf("value %q is not a level-0 name of values_tree.csv", v)
		}
	}
}

func TestCueTable(t *testing.T) {
	if n := len(table); n < 60 || n > 130 {
		t.Errorf("%d table entries, want 60–130", n)
	}
	seen := map[string]bool{}
	for _, e := range table {
		if seen[e.value] {
			t.Errorf("value %q has two entries", e.value)
		}
		seen[e.value] = true
		n := 0
		for _, p := range append(append([]string(nil), e.explicit...), e.implicit...) {
			if p != strings.ToLower(p) {
				t.Errorf("%s: cue %q is not lower case", e.value, p)
			}
			_, rest := splitLead(p)
			alts, err := cuematch.Expand(rest)
			if err != nil {
				t.Errorf("%s: cue %q: %v", e.value, p, err)
			}
			n += len(alts)
		}
		if n < 2 {
			t.Errorf("%s: only %d cue phrase(s)", e.value, n)
		}
	}
	n := Cues() // compiles the tables
	t.Logf("%d values, %d cue patterns, %d automaton states", len(table), n, values.States())
}

func TestValueFamilies(t *testing.T) {
	p := New()
	for _, tc := range []struct {
		assistant, value, expression string
	}{
		{"To be honest, I don't think that plan will work.", "honesty", Explicit},
		{"Frankly, the numbers don't add up.", "honesty", Implicit},
		{"I want to be transparent about how I got this number.", "transparency", Explicit},
		{"I should mention that I'm working from general knowledge.", "transparency", Implicit},
		{"I can't help with making a weapon.", "harm prevention", Implicit},
		{"That could cause harm to people nearby.", "harm prevention", Explicit},
		{"Your safety comes first; if you're in danger, call 911.", "user safety", Implicit},
		{"It's your decision in the end.", "user autonomy", Implicit},
		{"Ultimately, it's up to you which offer you take.", "user autonomy", Implicit},
		{"It's okay to say no to extra shifts.", "healthy boundaries", Implicit},
		{"Setting boundaries with family is hard but worth it.", "healthy boundaries", Explicit},
		{"That sounds really hard, and I'm sorry you're going through this.", "emotional support", Implicit},
		{"I understand how frustrating this must be.", "empathy", Implicit},
		{"Your feelings are valid, and you're not overreacting.", "emotional validation", Implicit},
		{"I'm not certain about the exact date, and I could be wrong.", "epistemic humility", Implicit},
		{"Please consult a doctor before changing anything.", "professional guidance", Implicit},
		{"It's worth talking to a lawyer about the lease.", "professional guidance", Implicit},
		{"In simple terms, the function returns early.", "clarity", Implicit},
		{"Use this:\n\n```python\nprint(sum(xs))\n```", "technical excellence", Implicit},
		{"Following best practices, validate every input.", "technical excellence", Implicit},
		{"Never build SQL from strings; use parameterized queries to avoid SQL injection.", "security consciousness", Implicit},
		{"Handing in someone else's essay would be plagiarism.", "academic integrity", Implicit},
		{"Reading those messages would violate her privacy.", "privacy", Explicit},
		{"Tracking his phone without his knowledge crosses a line.", "privacy", Implicit},
		{"That is illegal in most countries.", "legal compliance", Explicit},
		{"It could get you into legal trouble.", "legal compliance", Implicit},
		{"On the other hand, critics argue it raises prices.", "balanced perspective", Implicit},
		{"That's a common misconception: bats are not blind.", "accuracy", Implicit},
		{"Let's brainstorm a few ways to open the story.", "creativity", Implicit},
		{"Try to speak respectfully, even when you're angry.", "respect", Explicit},
		{"It's unfair to them, and it's not how I'd handle it.", "fairness", Explicit},
		{"Remember to take care of yourself too.", "self-care", Implicit},
		{"You're right, I made a mistake in the earlier sum.", "accountability", Implicit},
		{"Store personal data only as long as you need it.", "data privacy", Implicit},
		{"I hope this helps!", "helpfulness", Implicit},
		{"The evidence suggests moderate exercise improves sleep.", "evidence-based reasoning", Implicit},
		{"Writing fake reviews misleads customers.", "fraud prevention", Implicit},
		{"No puedo ayudarte con eso.", "harm prevention", Implicit},
	} {
		r := run(t, p, conv("question", tc.assistant))
		it, ok := r.ai[tc.value]
		if !ok {
			t.Errorf("%q: no %q in %v", tc.assistant, tc.value, names(r.ai))
			continue
		}
		if got := it.Attrs[AttrExpression]; got != tc.expression {
			t.Errorf("%q: %s is %s, want %s", tc.assistant, tc.value, got, tc.expression)
		}
	}
}

func TestNoFalseFriends(t *testing.T) {
	p := New()
	for _, tc := range []struct{ assistant, absent string }{
		{"That was a dishonest move by the seller.", "honesty"},
		{"The course covers academic integrity policies.", "integrity"},
		{"Water boils at a lower temperature at altitude because atmospheric pressure is lower.", "creativity"},
		{"The regex validates the address format.", "emotional validation"},
		{"Kill the process with SIGTERM.", "harm prevention"},
	} {
		r := run(t, p, conv("q", tc.assistant))
		if _, ok := r.ai[tc.absent]; ok {
			t.Errorf("%q: unexpected %q (%v)", tc.assistant, tc.absent, names(r.ai))
		}
	}
}

func TestCaseAndTypography(t *testing.T) {
	r := run(t, New(), conv("q", "I CAN’T HELP WITH   that,\nsorry."))
	if _, ok := r.ai["harm prevention"]; !ok {
		t.Fatalf("curly apostrophe, upper case and white space runs: %v", names(r.ai))
	}
}

func TestHumanValues(t *testing.T) {
	p := New()
	for _, tc := range []struct {
		user string
		want []string
	}{
		{"I value honesty above everything else.", []string{"honesty"}},
		{"Being fair to my team is really important to me.", []string{"fairness"}},
		{"I care deeply about privacy. Can you help me set up my phone?", []string{"privacy"}},
		{"Family means a lot to me, so I want to get this right.", []string{"family"}},
		{"I believe in hard work.", []string{"hard work"}},
		{"For me, transparency is a priority for me at work.", []string{"transparency"}},
		{"I care about you.", nil},
		{"How many ounces are in a pound?", nil},
		{"To be honest, I think my code is fine.", nil}, // a turn of phrase, not a stated value
	} {
		r := run(t, p, conv(tc.user, "Okay."))
		if got := names(r.human); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%q: human_values %q, want %q", tc.user, got, tc.want)
		}
		for _, it := range r.human {
			if it.Attrs[AttrExpression] != Explicit {
				t.Errorf("%q: human value %q is %s", tc.user, it.Name, it.Attrs[AttrExpression])
			}
		}
	}
	// Roles are kept apart: a user's cue phrase is no AI value, and an
	// assistant's statement is no human value.
	r := run(t, p, conv("To be honest I can't help with this bug.", "I value clear code, so here it is."))
	if len(r.ai) != 0 || len(r.human) != 0 {
		t.Errorf("roles mixed: ai %v, human %v", names(r.ai), names(r.human))
	}
}

func TestFirstEvidenceOnce(t *testing.T) {
	r := run(t, New(), conv("q",
		"To be honest, the first draft was weak.",
		"again",
		"Honestly, the second is better. I want to be honest with you."))
	it := r.ai["honesty"]
	if got := it.Attrs[AttrEvidence]; got != "To be honest, the first draft was weak." {
		t.Fatalf("evidence %q, want the first sentence", got)
	}
}

func TestEvidenceClipped(t *testing.T) {
	long := strings.Repeat("word ", 80) + "and I could be wrong about this " + strings.Repeat("more words ", 60)
	r := run(t, New(), conv("q", long))
	ev := r.ai["epistemic humility"].Attrs[AttrEvidence]
	if !strings.Contains(ev, "I could be wrong") || utf8.RuneCountInString(ev) > MaxEvidence {
		t.Fatalf("evidence %q (%d runes) should hold the match within %d runes", ev, utf8.RuneCountInString(ev), MaxEvidence)
	}
	// Multibyte text around the match is cut on rune boundaries.
	wide := strings.Repeat("日本語のテキスト", 40) + " to be honest " + strings.Repeat("ÉÈÊ", 100)
	r = run(t, New(), conv("q", wide))
	ev = r.ai["honesty"].Attrs[AttrEvidence]
	if !utf8.ValidString(ev) || !strings.Contains(ev, "to be honest") || utf8.RuneCountInString(ev) > MaxEvidence {
		t.Fatalf("evidence %q", ev)
	}
}

func TestEdgeCases(t *testing.T) {
	p := New()
	cases := []struct {
		name string
		c    *protocol.Conversation
		ai   int // -1: any
	}{
		{"no turns", &protocol.Conversation{}, 0},
		{"no assistant turn", conv("I value honesty."), 0},
		{"empty assistant turn", conv("hello", ""), 0},
		{"white space assistant turn", conv("hello", " \n\t "), 0},
		{"system and tool turns only", &protocol.Conversation{Turns: []protocol.Turn{
			{Role: "system", Content: "Be honest and transparent."}, {Role: "tool", Content: "I can't help with that"}}}, 0},
		{"non-English", conv("¿Cuál es la capital de Australia?", "La capital de Australia es Canberra, fundada en 1913."), 0},
		{"German", conv("Darf ich lügen?", "Ehrlichkeit ist wichtig – eine kleine Notlüge ist oft vertretbar."), 0},
		{"invalid UTF-8", conv("\xff\xfe", "\xc3\x28 To be honest\xa0\xa1, \xf0\x28\x8c\x28 I could be wrong. \xff"), 2},
	}
	for _, tc := range cases {
		r := run(t, p, tc.c)
		if tc.ai >= 0 && len(r.ai) != tc.ai {
			t.Errorf("%s: ai_values %v, want %d", tc.name, names(r.ai), tc.ai)
		}
	}
	// A value found in the first user turn is still reported when the
	// conversation has no assistant turn.
	r := run(t, p, conv("I value honesty."))
	if _, ok := r.human["honesty"]; !ok {
		t.Errorf("no assistant turn: human_values %v", names(r.human))
	}
}

func TestOneMegabyteMessage(t *testing.T) {
	var b strings.Builder
	for b.Len() < 1<<20 {
		b.WriteString("The quick brown fox jumps over the lazy dog while the committee reviews the quarterly figures. ")
	}
	b.WriteString("Please consult a doctor, and to be honest I could be wrong.")
	c := conv("Summarise this.", b.String())
	start := time.Now()
	r := run(t, New(), c)
	t.Logf("1 MB message: %v", time.Since(start))
	for _, v := range []string{"professional guidance", "honesty", "epistemic humility"} {
		if _, ok := r.ai[v]; !ok {
			t.Errorf("value %q at the end of a 1 MB message not found: %v", v, names(r.ai))
		}
	}
	// The same megabyte as one line with no sentence ends.
	huge := strings.Repeat("x", 1<<20) + " i can't help with " + strings.Repeat("y", 1<<10)
	r = run(t, New(), conv("q", huge))
	if _, ok := r.ai["harm prevention"]; !ok {
		t.Errorf("no sentence ends: %v", names(r.ai))
	}
}

func TestDeterminism(t *testing.T) {
	c := conv("I value fairness. My ex took the car.",
		"That sounds really hard. To be honest, it's your decision, but consult a lawyer; "+
			"it may be illegal. On the other hand, I could be wrong.\n```\ncode\n```")
	a := run(t, New(), c)
	p := New()
	b := run(t, p, c)
	d := run(t, p, c)
	if !reflect.DeepEqual(a.raw, b.raw) || !reflect.DeepEqual(b.raw, d.raw) {
		t.Fatalf("output differs between runs:\n%+v\n%+v\n%+v", a.raw, b.raw, d.raw)
	}
	j1, _ := json.Marshal(a.raw)
	j2, _ := json.Marshal(d.raw)
	if string(j1) != string(j2) {
		t.Fatal("JSON differs between runs")
	}
}

func TestConfigure(t *testing.T) {
	for _, tc := range []struct {
		cfg string
		ok  bool
	}{
		{"", true},
		{"{}", true},
		{`{"min_turn_chars": 20}`, true},
		{`{"min_turn_chars": -1}`, false},
		{`{"min_turn_chars": "20"}`, false},
		{`{"min_chars": 20}`, false},
		{`{"min_turn_chars": 20, "extra": true}`, false},
		{`not json`, false},
	} {
		err := New().Configure(protocol.ConfigureRequest{ConfigJSON: tc.cfg})
		if (err == nil) != tc.ok {
			t.Errorf("Configure(%q) = %v, want ok=%v", tc.cfg, err, tc.ok)
		}
	}

	p := New()
	if err := p.Configure(protocol.ConfigureRequest{ConfigJSON: `{"min_turn_chars": 40}`}); err != nil {
		t.Fatal(err)
	}
	c := conv("q", "Honestly, no.", "q2", "I could be wrong, but this longer answer passes the minimum length.")
	r := run(t, p, c)
	if _, ok := r.ai["honesty"]; ok {
		t.Errorf("turn shorter than min_turn_chars was read: %v", names(r.ai))
	}
	if _, ok := r.ai["epistemic humility"]; !ok {
		t.Errorf("turn longer than min_turn_chars was skipped: %v", names(r.ai))
	}
}

// demoConversation is a line of data/demo/conversations.jsonl.
type demoConversation struct {
	ID       string `json:"id"`
	Topic    string `json:"topic"`
	Messages []struct {
		Role    string `json:"role"`
		Content string `json:"content"`
	} `json:"messages"`
}

func readDemo(t testing.TB) []demoConversation {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "..", "..", "data", "demo", "conversations.jsonl"))
	if err != nil {
		t.Skipf("demo data: %v", err)
	}
	defer f.Close()
	var out []demoConversation
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		var d demoConversation
		if err := json.Unmarshal(sc.Bytes(), &d); err != nil {
			t.Fatal(err)
		}
		out = append(out, d)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func (d demoConversation) conversation() *protocol.Conversation {
	c := &protocol.Conversation{ID: d.ID, Source: "demo"}
	for _, m := range d.Messages {
		c.Turns = append(c.Turns, protocol.Turn{Role: m.Role, Content: m.Content})
	}
	return c
}

// TestDemoData checks aggregate behaviour per topic on the project's demo
// conversations.
func TestDemoData(t *testing.T) {
	demo := readDemo(t)
	if len(demo) != 80 {
		t.Fatalf("%d demo conversations, want 80", len(demo))
	}
	p := New()
	byTopic := map[string][]result{}
	for _, d := range demo {
		byTopic[d.Topic] = append(byTopic[d.Topic], run(t, p, d.conversation()))
	}
	// count returns how many conversations of a topic have any of the values.
	count := func(topic string, vals ...string) int {
		n := 0
		for _, r := range byTopic[topic] {
			for _, v := range vals {
				if _, ok := r.ai[v]; ok {
					n++
					break
				}
			}
		}
		return n
	}
	mean := func(topic string) float64 {
		s := 0
		for _, r := range byTopic[topic] {
			s += len(r.ai)
		}
		return float64(s) / float64(len(byTopic[topic]))
	}
	var topics []string
	for tp := range byTopic {
		topics = append(topics, tp)
	}
	sort.Strings(topics)
	for _, tp := range topics {
		freq := map[string]int{}
		for _, r := range byTopic[tp] {
			for v := range r.ai {
				freq[v]++
			}
		}
		var top []string
		for v := range freq {
			top = append(top, v)
		}
		sort.Slice(top, func(i, j int) bool {
			if freq[top[i]] != freq[top[j]] {
				return freq[top[i]] > freq[top[j]]
			}
			return top[i] < top[j]
		})
		if len(top) > 4 {
			top = top[:4]
		}
		for i, v := range top {
			top[i] = fmt.Sprintf("%s×%d", v, freq[v])
		}
		t.Logf("%-16s n=%2d  mean ai_values %.1f  top: %s", tp, len(byTopic[tp]), mean(tp), strings.Join(top, ", "))
	}

	atLeast := func(what string, got, want, of int) {
		t.Helper()
		if got < want {
			t.Errorf("%s: %d of %d, want at least %d", what, got, of, want)
		}
	}
	atLeast("refusal with harm prevention", count("refusal", "harm prevention"), 7, len(byTopic["refusal"]))
	atLeast("refusal with an ethical/legal/privacy value", count("refusal", "harm prevention", "legal compliance",
		"privacy", "fraud prevention", "academic integrity", "ethical boundaries"), 9, len(byTopic["refusal"]))
	atLeast("coding with technical excellence", count("coding", "technical excellence"), 7, len(byTopic["coding"]))
	atLeast("relationships with an emotional or relational value", count("relationships", "emotional support", "empathy",
		"emotional validation", "healthy boundaries", "healthy relationships", "self-compassion", "reassurance", "trust"),
		6, len(byTopic["relationships"]))
	atLeast("health with a care value", count("health", "professional guidance", "emotional support", "mental health awareness",
		"medical safety", "health consciousness", "reassurance", "self-care"), 6, len(byTopic["health"]))
	atLeast("politics with balanced perspective", count("politics", "balanced perspective", "evidence-based reasoning"), 5,
		len(byTopic["politics"]))

	few := 0
	for _, r := range byTopic["factual"] {
		if len(r.ai) <= 1 {
			few++
		}
	}
	atLeast("factual with at most one value", few, 8, len(byTopic["factual"]))
	if m := mean("factual"); m > 1 {
		t.Errorf("factual: mean %.1f values, want ≤ 1", m)
	}
	if count("factual", "harm prevention", "emotional support", "technical excellence") > 0 {
		t.Error("factual answers got harm prevention, emotional support or technical excellence")
	}
}

// benchConversation is a realistic conversation of about size bytes.
func benchConversation(size int) *protocol.Conversation {
	const user = "I've been arguing with my flatmate about chores and I'm not sure how to raise it without a fight. Any advice? "
	const assistant = "That sounds really frustrating, and it makes sense you want to handle it calmly. " +
		"A few things that usually help: pick a quiet moment, describe the pattern rather than blaming, " +
		"and suggest a simple rota you can both try for a month. It's your decision how direct to be, " +
		"but being honest early tends to prevent resentment later. If you'd like, I can help you draft a message. "
	c := &protocol.Conversation{ID: "bench"}
	for n := 0; n < size; {
		c.Turns = append(c.Turns, protocol.Turn{Role: "user", Content: user}, protocol.Turn{Role: "assistant", Content: assistant})
		n += len(user) + len(assistant)
	}
	return c
}

func BenchmarkAnnotate(b *testing.B) {
	for _, size := range []struct {
		name string
		n    int
	}{{"2KB", 2 << 10}, {"64KB", 64 << 10}} {
		b.Run(size.name, func(b *testing.B) {
			c := benchConversation(size.n)
			p := New()
			bytes := 0
			for _, t := range c.Turns {
				bytes += len(t.Content)
			}
			b.SetBytes(int64(bytes))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := p.Annotate(c); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
