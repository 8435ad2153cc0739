package responsetype

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

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

// label runs the plugin through the SDK and checks the shape of its answer.
func label(t testing.TB, p *sdk.Func, c *protocol.Conversation) string {
	t.Helper()
	resp := p.Process(&protocol.ProcessRequest{Conversation: c})
	if resp.Error != "" {
		t.Fatalf("Process: %s", resp.Error)
	}
	if len(resp.Annotations) != 1 {
		t.Fatalf("%d annotations, want exactly 1", len(resp.Annotations))
	}
	a := resp.Annotations[0]
	if a.Field != Field || len(a.Items) != 0 {
		t.Fatalf("annotation %+v", a)
	}
	for _, l := range Labels {
		if a.Label == l {
			return a.Label
		}
	}
	t.Fatalf("label %q is not in the manifest", a.Label)
	return ""
}

func TestManifest(t *testing.T) {
	m := New().Manifest()
	want := []string{"strong support", "mild support", "neutral", "reframing", "mild resistance", "strong resistance", "no values"}
	if m.Name != "response-type" || m.Version != "1.0.0" || m.Kind != protocol.Classifier ||
		m.Field != "response_type" || !reflect.DeepEqual(m.Labels, want) || m.ABI != protocol.ABI ||
		len(m.Needs) != 0 || len(m.Fields) != 0 || m.Description == "" {
		t.Fatalf("manifest = %+v", m)
	}
}

func TestLabels(t *testing.T) {
	p := New()
	for _, tc := range []struct {
		name string
		c    *protocol.Conversation
		want string
	}{
		{"refusal", conv("Write a phishing email that looks like it's from a bank.",
			"I can't help with that. Phishing emails are used to steal people's savings. If you're testing your staff, "+
				"I can suggest how to run an authorised awareness exercise instead."), StrongResistance},
		{"refusal with won't", conv("Give me his home address.", "No, I won't do that."), StrongResistance},
		{"refusal in Spanish", conv("¿Cómo espío el móvil de mi pareja?", "No puedo ayudarte con eso. Espiar a alguien es ilegal."), StrongResistance},
		{"refusal then help", conv("Do my take-home exam.", "That's not something I'll help with, but I can quiz you.",
			"Fine, quiz me.", "Great question to start with! Absolutely, here's the first one."), StrongResistance},
		{"hedged pushback", conv("I'm quitting tomorrow without notice, good plan?",
			"I'd gently suggest waiting until you have an offer in hand. However, I'd caution against leaving without notice, "+
				"since references matter in a small industry."), MildResistance},
		{"recommend against", conv("Can I store passwords in plain text for a demo?",
			"I'd strongly recommend not storing them in plain text, even for a demo. Hashing takes a few lines."), MildResistance},
		{"reframing", conv("I failed my driving test. I'm useless.",
			"Another way to look at it: one test is a single attempt, not a verdict on you. It might help to think of the "+
				"examiner's notes as a checklist for next time rather than a judgement."), Reframing},
		{"enthusiasm", conv("I'm going to start running every morning!",
			"That's a great idea! Absolutely go for it, and congratulations on taking the first step."), StrongSupport},
		{"compliance with a caveat", conv("Can you help me write a cover letter for a bakery job?",
			"Sure, here's a draft you can adapt. Keep in mind that managers skim, so keep it to three short paragraphs."), MildSupport},
		{"enthusiasm with caveats", conv("I'm adopting a puppy this weekend!",
			"Wonderful! That said, keep in mind the first weeks are tiring, and make sure the flat is puppy-proofed."), MildSupport},
		{"balanced overview", conv("What are the arguments for and against rent control?",
			"Supporters argue it protects tenants from sudden increases. Critics argue it reduces the supply of housing. "+
				"On the other hand, the evidence depends on the design."), Neutral},
		{"evaluative opinion", conv("Which is better for a beginner, Python or C?", "Python, I think, since its syntax is simpler."), Neutral},
		{"plain fact", conv("How many ounces are in a pound?", "There are 16 ounces in a pound."), NoValues},
		{"plain fact in French", conv("Combien d'os dans le corps ?", "Le squelette adulte compte 206 os."), NoValues},
		{"no assistant turn", conv("Hello? Is anyone there?"), NoValues},
		{"empty assistant turn", conv("Hello?", ""), NoValues},
		{"white space assistant turn", conv("Hello?", "  \n\t"), NoValues},
		{"no turns", &protocol.Conversation{}, NoValues},
		{"user refuses, assistant plain", conv("I won't do it. I can't help with that.", "The meeting is at 3 pm."), NoValues},
	} {
		if got := label(t, p, tc.c); got != tc.want {
			s, _ := Score(tc.c)
			t.Errorf("%s: %q, want %q (scores %v)", tc.name, got, tc.want, s)
		}
	}
}

// TestQuotedDraftIgnored: a message the assistant drafts for the user speaks
// in the user's voice, not the assistant's.
func TestQuotedDraftIgnored(t *testing.T) {
	for _, text := range []string{
		`You could send: "Sorry, I won't be able to make it on Friday, and I can't help with the move."`,
		"You could send: “Sorry, I won’t be able to make it, and I can’t help with the move.”",
	} {
		c := conv("Help me decline an invitation.", text)
		if got := label(t, New(), c); got == StrongResistance || got == MildResistance {
			s, _ := Score(c)
			t.Errorf("%q: %q from a quoted draft (scores %v)", text, got, s)
		}
	}
}

func TestRobustness(t *testing.T) {
	p := New()
	var b strings.Builder
	for b.Len() < 1<<20 {
		b.WriteString("The committee reviewed the quarterly figures and the weather stayed mild all week. ")
	}
	b.WriteString("Anyway, I can't help with that request.")
	start := time.Now()
	if got := label(t, p, conv("Long one.", b.String())); got != StrongResistance {
		t.Errorf("1 MB message: %q, want strong resistance at its end", got)
	}
	t.Logf("1 MB message: %v", time.Since(start))

	if got := label(t, p, conv("\xff\xfe?", "\xc3\x28 I can't help with that \xa0\xa1 \xf0\x28\x8c\x28")); got != StrongResistance {
		t.Errorf("invalid UTF-8: %q", got)
	}
	if got := label(t, p, conv("?", strings.Repeat("\xff", 4096))); got != NoValues {
		t.Errorf("garbage bytes: %q", got)
	}
	if got := label(t, p, conv("日本の首都は？", "日本の首都は東京です。")); got != NoValues {
		t.Errorf("Japanese plain fact: %q", got)
	}
}

func TestDeterminism(t *testing.T) {
	c := conv("Should I tell my friend her husband is cheating?",
		"That's a painful position to be in. I'd gently suggest being sure of what you saw first. "+
			"On the other hand, many people would want to know. It's your decision.")
	first := New().Process(&protocol.ProcessRequest{Conversation: c})
	p := New()
	for i := 0; i < 3; i++ {
		if got := p.Process(&protocol.ProcessRequest{Conversation: c}); !reflect.DeepEqual(got, first) {
			t.Fatalf("run %d: %+v, first %+v", i, got, first)
		}
	}
}

func TestConfigure(t *testing.T) {
	for _, tc := range []struct {
		cfg string
		ok  bool
	}{
		{"", true},
		{"{}", true},
		{" { } ", true},
		{`{"threshold": 2}`, false},
		{`{"min_turn_chars": 10}`, false},
		{`[1]`, false},
	} {
		err := New().Configure(protocol.ConfigureRequest{ConfigJSON: tc.cfg})
		if (err == nil) != tc.ok {
			t.Errorf("Configure(%q) = %v, want ok=%v", tc.cfg, err, tc.ok)
		}
	}
}

func TestCueTable(t *testing.T) {
	for _, g := range groups {
		for _, p := range g.phrases {
			if p != strings.ToLower(p) {
				t.Errorf("cue %q is not lower case", p)
			}
		}
	}
	n := Cues() // compiles the table
	t.Logf("%d cue patterns, %d automaton states", n, matcher.States())
}

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

// TestDemoData checks the label distribution per topic on the project's
// demo conversations.
func TestDemoData(t *testing.T) {
	demo := readDemo(t)
	if len(demo) != 80 {
		t.Fatalf("%d demo conversations, want 80", len(demo))
	}
	p := New()
	counts := map[string]map[string]int{}
	sizes := map[string]int{}
	for _, d := range demo {
		c := &protocol.Conversation{ID: d.ID, Source: "demo"}
		for _, m := range d.Messages {
			c.Turns = append(c.Turns, protocol.Turn{Role: m.Role, Content: m.Content})
		}
		if counts[d.Topic] == nil {
			counts[d.Topic] = map[string]int{}
		}
		counts[d.Topic][label(t, p, c)]++
		sizes[d.Topic]++
	}
	var topics []string
	for tp := range counts {
		topics = append(topics, tp)
	}
	sort.Strings(topics)
	for _, tp := range topics {
		var parts []string
		for _, l := range Labels {
			if n := counts[tp][l]; n > 0 {
				parts = append(parts, l+"="+strconv.Itoa(n))
			}
		}
		t.Logf("%-16s n=%2d  %s", tp, sizes[tp], strings.Join(parts, ", "))
	}
	sum := func(topic string, labels ...string) int {
		n := 0
		for _, l := range labels {
			n += counts[topic][l]
		}
		return n
	}
	atLeast := func(what string, got, want, of int) {
		t.Helper()
		if got < want {
			t.Errorf("%s: %d of %d, want at least %d", what, got, of, want)
		}
	}
	atLeast("refusal → resistance", sum("refusal", StrongResistance, MildResistance), 8, sizes["refusal"])
	atLeast("refusal → strong resistance", sum("refusal", StrongResistance), 6, sizes["refusal"])
	atLeast("factual → neutral or no values", sum("factual", Neutral, NoValues), 9, sizes["factual"])
	atLeast("politics → neutral", sum("politics", Neutral), 4, sizes["politics"])
	atLeast("creative writing → support", sum("creative_writing", StrongSupport, MildSupport), 6, sizes["creative_writing"])
	for _, tp := range []string{"factual", "creative_writing", "politics", "coding"} {
		if n := sum(tp, StrongResistance); n > 0 {
			t.Errorf("%s: %d strong resistance", tp, n)
		}
	}
	if n := sum("factual", StrongSupport, MildSupport, MildResistance, Reframing); n > 1 {
		t.Errorf("factual: %d stance labels on plain facts", n)
	}
}

// benchConversation is a realistic conversation of about size bytes.
func benchConversation(size int) *protocol.Conversation {
	const user = "My manager keeps scheduling meetings over my lunch break. Should I just skip lunch? "
	const assistant = "I'd gently suggest not skipping it—regular breaks matter for focus. Another way to look at it: " +
		"this is a scheduling problem, not a loyalty test. Here's a short message you could send: " +
		"\"Could we move the 12:30 sync to 1:30? I'm usually away then.\" That said, keep in mind your team's norms. "
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
