package embed

import (
	"context"
	"math"
	"strings"
	"testing"
)

func cos(a, b []float32) float64 {
	var ab, aa, bb float64
	for i := range a {
		ab += float64(a[i]) * float64(b[i])
		aa += float64(a[i]) * float64(a[i])
		bb += float64(b[i]) * float64(b[i])
	}
	return ab / math.Sqrt(aa*bb)
}

func offline(t *testing.T) *Offline {
	t.Helper()
	e, err := NewOffline()
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// The built-in embedder places meanings, not spellings, close.
func TestMeaningsNotSpellings(t *testing.T) {
	e := offline(t)
	for _, c := range []struct{ a, near, far string }{
		{"honesty", "truthfulness", "harmony"},
		{"honesty", "truthfulness", "honey"},
		{"child protection", "safety", "childhood"},
		{"patient wellbeing", "health", "patience"},
		{"environmental sustainability", "ecological responsibility", "financial sustainability"},
		{"curiosity", "inquisitiveness", "currency"},
		{"fairness", "justice", "fairground"},
		{"kindness", "compassion", "kindling"},
		{"transparency", "openness", "transport"},
	} {
		v, _ := e.Embed(context.Background(), []string{c.a, c.near, c.far})
		n, f := cos(v[0], v[1]), cos(v[0], v[2])
		if n <= f {
			t.Errorf("%q: %q at %.3f is not nearer than %q at %.3f", c.a, c.near, n, c.far, f)
		} else {
			t.Logf("%q: %q %.3f > %q %.3f", c.a, c.near, n, c.far, f)
		}
	}
}

func TestBuiltin(t *testing.T) {
	v, err := Builtin()
	if err != nil {
		t.Fatal(err)
	}
	if v.Dims != 100 || v.Len() < 20000 {
		t.Fatalf("%d words x %d dims", v.Len(), v.Dims)
	}
	for _, w := range []string{"honesty", "wellbeing", "autonomy", "the"} {
		if v.Vector(w) == nil {
			t.Errorf("%q missing", w)
		}
	}
}

// Unseen words get vectors through their parts, variants or trigrams.
func TestUnseenWords(t *testing.T) {
	v, err := Builtin()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ word, like, unlike string }{
		{"constructiveness", "constructive", "destruction"},
		{"relatability", "relate", "reliability"},
		{"actionability", "action", "ability"},
		{"solution-focused", "solution", "confusion"},
		{"user-centricity", "user", "city"},
		{"proactiveness", "proactive", "reaction"},
	} {
		if v.Vector(c.word) != nil {
			t.Fatalf("%q is in the vocabulary: pick another test word", c.word)
		}
		x := v.Lookup(c.word)
		if x == nil {
			t.Errorf("%q: no vector", c.word)
			continue
		}
		if a, b := cos(x, v.Lookup(c.like)), cos(x, v.Lookup(c.unlike)); a <= b {
			t.Errorf("%q: %q at %.3f not nearer than %q at %.3f", c.word, c.like, a, c.unlike, b)
		}
	}
	if v.Lookup("zqxjv") != nil {
		t.Error("a word with nothing in common got a vector")
	}
	e := &Offline{V: v}
	z, _ := e.Embed(context.Background(), []string{"zqxjv"})
	for _, f := range z[0] {
		if f != 0 {
			t.Fatal("unplaceable text: want a zero vector")
		}
	}
}

func TestTokens(t *testing.T) {
	got := strings.Join(Tokens("Respect for One’s  Autonomy, (self-care)!"), "|")
	if got != "respect|for|one's|autonomy|self-care" {
		t.Errorf("tokens %q", got)
	}
}

func TestReadText(t *testing.T) {
	glove := "honesty 1 0 0\ntruth 0.9 0.1 0\nHarmony 0 1 0\n"
	w2v := "3 3\n" + glove
	for name, src := range map[string]string{"glove": glove, "word2vec": w2v} {
		v, err := ReadText(strings.NewReader(src))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if v.Len() != 3 || v.Dims != 3 {
			t.Fatalf("%s: %d words x %d", name, v.Len(), v.Dims)
		}
		if v.Lookup("harmony") == nil {
			t.Errorf("%s: lower-case lookup of a cased word", name)
		}
		e := &Offline{V: v}
		x, _ := e.Embed(context.Background(), []string{"honesty", "truth", "harmony"})
		if cos(x[0], x[1]) <= cos(x[0], x[2]) {
			t.Errorf("%s: user vectors not used", name)
		}
	}
	for src, want := range map[string]string{
		"a 1 2\nb 1\n":    "line 2: 1 numbers, expected 2",
		"a 1 x\n":         `line 1: "x" is not a number`,
		"":                "no word vectors",
		"2 3\na 1 2 3\nb": "line 3",
	} {
		_, err := ReadText(strings.NewReader(src))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want %q", src, err, want)
		}
	}
}

func TestEmbedCancelled(t *testing.T) {
	e := offline(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := e.Embed(ctx, []string{"a"}); err == nil {
		t.Error("cancelled context: want an error")
	}
}
