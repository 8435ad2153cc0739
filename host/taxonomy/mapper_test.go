package taxonomy

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/valuescope/valuescope/host/analysis"
)

// smallTree is a 3-level tree: 7 values, 4 clusters (two of one name), 2 at
// the top.
func smallTree(t *testing.T) *Tree {
	t.Helper()
	nodes := []Node{
		{ID: "honesty", Name: "honesty", Parent: "c-ethics"},
		{ID: "fairness", Name: "fairness", Parent: "c-ethics"},
		{ID: "kindness", Name: "kindness", Parent: "c-care"},
		{ID: "compassion", Name: "compassion", Parent: "c-care"},
		{ID: "recycling", Name: "recycling", Parent: "c-green1"},
		{ID: "environmental conservation", Name: "environmental conservation", Parent: "c-green2"},
		{ID: "wildlife protection", Name: "wildlife protection", Parent: "c-green2"},
		{ID: "c-ethics", Name: "Ethics", Level: 1, Parent: "t-moral"},
		{ID: "c-care", Name: "Care", Level: 1, Parent: "t-moral"},
		{ID: "c-green1", Name: "Stewardship", Level: 1, Parent: "t-green"},
		{ID: "c-green2", Name: "Stewardship", Level: 1, Parent: "t-green"},
		{ID: "t-moral", Name: "Moral values", Level: 2},
		{ID: "t-green", Name: "", Level: 2},
	}
	tr, err := NewTree(nodes)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func newMapper(t *testing.T, level int, e Embedder, threshold float64) *Mapper {
	t.Helper()
	m, err := NewMapper(smallTree(t), "", level, e, threshold)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestMapperLevels(t *testing.T) {
	e := testEmbedder(t)
	for _, c := range []struct {
		level       int
		value, want string // want "" is unplaced
	}{
		// Exact, after normalisation (Key: case, plurals, punctuation).
		{1, "Honesty", "Ethics"},
		{1, "kindnesses", "Care"},
		{1, " Fairness! ", "Ethics"},
		// Nearest leaf by embedding: truthfulness ~ honesty, empathy ~ compassion.
		{1, "truthfulness", "Ethics"},
		{1, "empathy", "Care"},
		// Under the threshold (nearest: fairness, ~0.35), and not embeddable.
		{1, "tax law", ""},
		{1, "zqxjv", ""},
		// One name for two clusters: told apart by ID.
		{1, "recycling", "Stewardship [c-green1]"},
		{1, "sustainability", "Stewardship [c-green2]"},
		// Level 0: the leaf; the top level; an unnamed node: its ID.
		{0, "truthfulness", "honesty"},
		{0, "Kindness", "kindness"},
		{2, "truthfulness", "Moral values"},
		{2, "compassion", "Moral values"},
		{2, "wildlife protection", "t-green"},
		{2, "tax law", ""},
	} {
		m := newMapper(t, c.level, e, DefaultThreshold)
		got, ok := m.Node("ai_values", c.value)
		if got != c.want || ok != (c.want != "") {
			t.Errorf("level %d, %q: %q %v, want %q", c.level, c.value, got, ok, c.want)
		}
	}
}

func TestMapperThresholdAndNoEmbedder(t *testing.T) {
	strict := newMapper(t, 1, testEmbedder(t), 0.99)
	if n, ok := strict.Node("ai_values", "truthfulness"); ok {
		t.Errorf("threshold 0.99: truthfulness placed on %q", n)
	}
	if n, ok := strict.Node("ai_values", "HONESTY"); !ok || n != "Ethics" {
		t.Errorf("exact names pass any threshold: %q %v", n, ok)
	}
	exact := newMapper(t, 1, nil, DefaultThreshold)
	if n, ok := exact.Node("ai_values", "truthfulness"); ok {
		t.Errorf("no embedder: truthfulness placed on %q", n)
	}
	if n, ok := exact.Node("ai_values", "compassion"); !ok || n != "Care" {
		t.Errorf("no embedder, exact name: %q %v", n, ok)
	}
}

func TestMapperOtherFields(t *testing.T) {
	m := newMapper(t, 1, nil, DefaultThreshold)
	if m.Field() != DefaultField || m.Level() != 1 || m.Nodes() != 4 {
		t.Errorf("field %q level %d nodes %d", m.Field(), m.Level(), m.Nodes())
	}
	for _, v := range []string{"Honesty", "Mild support", "users' well-being"} {
		got, ok := m.Node("human_values", v)
		want, wok := analysis.Normalized{}.Node("human_values", v)
		if got != want || ok != wok {
			t.Errorf("human_values %q: %q, want %q as analysis.Normalized", v, got, want)
		}
	}
	hv, err := NewMapper(smallTree(t), "human_values", 1, nil, DefaultThreshold)
	if err != nil {
		t.Fatal(err)
	}
	if n, ok := hv.Node("human_values", "honesty"); n != "Ethics" || !ok {
		t.Errorf("a mapper of human_values: %q", n)
	}
	if n, _ := hv.Node("ai_values", "honesty"); n != "honesty" {
		t.Errorf("ai_values through a human_values mapper: %q", n)
	}
	for _, l := range []int{-1, 3} {
		if _, err := NewMapper(smallTree(t), "", l, nil, DefaultThreshold); err == nil || !strings.Contains(err.Error(), "levels 0 (its values) to 2") {
			t.Errorf("level %d: %v", l, err)
		}
	}
}

// countingEmbedder counts the texts it embeds, and can fail.
type countingEmbedder struct {
	Embedder
	mu    sync.Mutex
	texts int
	calls int
	fail  bool
}

func (c *countingEmbedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	c.mu.Lock()
	c.texts += len(texts)
	c.calls++
	fail := c.fail
	c.mu.Unlock()
	if fail {
		return nil, errors.New("embedder down")
	}
	return c.Embedder.Embed(ctx, texts)
}

func TestMapperPrepare(t *testing.T) {
	ce := &countingEmbedder{Embedder: testEmbedder(t)}
	m := newMapper(t, 1, ce, DefaultThreshold)
	vals := []Value{{"Honesty", 4}, {"truthfulness", 3}, {"Truthfulness", 1}, {"tax law", 2}}
	as, sum, err := m.Prepare(context.Background(), vals)
	if err != nil {
		t.Fatal(err)
	}
	// The leaves once, then truthfulness and tax law once each (one batch).
	if ce.calls != 2 || ce.texts != 7+2 {
		t.Errorf("embedded %d texts in %d calls, want 9 in 2", ce.texts, ce.calls)
	}
	if sum.Values != 4 || sum.Assigned != 3 || sum.Exact != 1 || sum.Unassigned != 1 || sum.CountAssigned != 0.8 {
		t.Errorf("summary %+v", sum)
	}
	if as[2].Value != "Truthfulness" || as[2].Count != 1 || as[2].Leaf != "honesty" || as[3].Assigned || as[3].Leaf != "fairness" {
		t.Errorf("assignments %+v", as)
	}
	// Placed values are not embedded again, by Prepare or Node; a new one is,
	// alone, without the leaves again.
	if _, _, err := m.Prepare(context.Background(), vals[1:]); err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"truthfulness", "TRUTHFULNESS", "tax law", "honesty"} {
		m.Node("ai_values", v)
	}
	if ce.calls != 2 {
		t.Errorf("%d calls after placed values, want 2", ce.calls)
	}
	if n, ok := m.Node("ai_values", "empathy"); n != "Care" || !ok || ce.calls != 3 || ce.texts != 10 {
		t.Errorf("empathy: %q, %d calls, %d texts", n, ce.calls, ce.texts)
	}
	// A failing embedder: Prepare says so; Node leaves the value unplaced and
	// keeps the error, and still places exact names.
	ce.fail = true
	if _, _, err := m.Prepare(context.Background(), []Value{{"sustainability", 1}}); err == nil || !strings.Contains(err.Error(), "embedder down") {
		t.Errorf("Prepare with a failing embedder: %v", err)
	}
	if m.Err() != nil {
		t.Errorf("Err before any Node failure: %v", m.Err())
	}
	if _, ok := m.Node("ai_values", "sustainability"); ok || m.Err() == nil {
		t.Errorf("Node with a failing embedder: ok %v, err %v", ok, m.Err())
	}
	if n, ok := m.Node("ai_values", "kindness"); n != "Care" || !ok {
		t.Errorf("exact name with a failing embedder: %q", n)
	}
	fresh := newMapper(t, 1, &countingEmbedder{Embedder: testEmbedder(t), fail: true}, DefaultThreshold)
	if _, _, err := fresh.Prepare(context.Background(), vals); err == nil || !strings.Contains(err.Error(), "embedding the reference's 7 leaves") {
		t.Errorf("leaves: %v", err)
	}
}

func TestMapperConcurrent(t *testing.T) {
	ce := &countingEmbedder{Embedder: testEmbedder(t)}
	m := newMapper(t, 2, ce, DefaultThreshold)
	vals := []string{"truthfulness", "empathy", "sustainability", "tax law", "honesty", "Recycling"}
	want := []string{"Moral values", "Moral values", "t-green", "", "Moral values", "t-green"}
	var wg sync.WaitGroup
	errs := make(chan string, 64)
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range 40 {
				i := (g + k) % len(vals)
				if n, _ := m.Node("ai_values", vals[i]); n != want[i] {
					errs <- fmt.Sprintf("%s: %q, want %q", vals[i], n, want[i])
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if m.Err() != nil {
		t.Error(m.Err())
	}
}

// The analysis counts a run's values on the tree's nodes, and what the
// mapper leaves unplaced.
func TestMapperInAnalysis(t *testing.T) {
	items := func(vs ...string) []analysis.Item {
		var out []analysis.Item
		for _, v := range vs {
			out = append(out, analysis.Item{Value: v})
		}
		return out
	}
	vals := &analysis.Field{Name: "ai_values", Stage: "values",
		Items: [][]analysis.Item{items("honesty", "truthfulness"), items("empathy", "tax law"), items("recycling"), items("kindness", "zqxjv")},
		Done:  []bool{true, true, true, true}, Annotated: 4}
	rt := &analysis.Field{Name: "response_type", Stage: "rt", Label: true,
		Items: [][]analysis.Item{items("support"), items("support"), items("reframe"), items("reframe")},
		Done:  []bool{true, true, true, true}, Annotated: 4}
	run := &analysis.Run{Fields: []*analysis.Field{rt, vals}}
	for i := range 4 {
		run.Conversations = append(run.Conversations, analysis.Conversation{Seq: int64(i), ID: fmt.Sprint(i)})
	}
	rows, err := run.ResolveAxis("ai_values")
	if err != nil {
		t.Fatal(err)
	}
	cols, err := run.ResolveAxis("response_type")
	if err != nil {
		t.Fatal(err)
	}
	tab, in, err := analysis.BuildTable(t.Context(), run, rows, cols, newMapper(t, 1, testEmbedder(t), DefaultThreshold))
	if err != nil {
		t.Fatal(err)
	}
	// honesty and truthfulness: one node, one conversation.
	if got := strings.Join(tab.Rows, "|"); got != "Care|Ethics|Stewardship [c-green1]" {
		t.Errorf("rows %s", got)
	}
	if in.Unplaced != 2 || in.InTable != 4 || tab.At(1, 1) != 1 || tab.RowConversations[0] != 2 {
		t.Errorf("input %+v, cols %v, cells %+v", in, tab.Cols, tab.Cells())
	}
}
