package compare_test

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/valuescope/valuescope/host/analysis"
	"github.com/valuescope/valuescope/host/compare"
	"github.com/valuescope/valuescope/internal/paperattack"
	"github.com/valuescope/valuescope/internal/shareddata"
	"github.com/valuescope/valuescope/internal/testruns"
)

// The published paper tables of the offline hh-rlhf run, attacked by
// subtraction: no cluster under the floor follows from its parent's count
// less its shown siblings (Personal values 295 less its shown level-2
// clusters' 291 gave away one of 4), nor a blank parent from its children,
// nor a top-level cluster from the total; and no zero is published.
func TestComparePaperSubtraction(t *testing.T) {
	p, err := compare.ReadPaper(shareddata.Path(t, "values-in-the-wild"))
	if err != nil {
		t.Fatal(err)
	}
	dir := testruns.Offline(t, "hh-rlhf")
	all, err := compare.ComparePaper(context.Background(), dir, p, compare.PaperOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tr := paperattack.TruthOf(all, analysis.DefaultFloor.MinConversations)
	protected := 0
	for _, b := range tr.Protected {
		if b {
			protected++
		}
	}
	if protected == 0 {
		t.Fatal("no cluster under the floor: the attack tests nothing")
	}
	rep, err := compare.ComparePaper(context.Background(), dir, p, compare.PaperOptions{Floor: analysis.DefaultFloor})
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	leaks, err := paperattack.Leaks(b, tr)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range leaks {
		t.Errorf("leak: %s", l)
	}
	for _, l := range rep.Levels {
		for _, n := range l.Nodes {
			if n.Shown && tr.Protected[n.Name] {
				t.Errorf("%s under the floor is shown", n.Name)
			}
		}
	}
	t.Logf("%d clusters under the floor; blank per level: %d, %d", protected, rep.Levels[0].Suppressed, rep.Levels[1].Suppressed)
}

// oneConversation is a run over one real-looking conversation whose answer
// expresses values.
func oneConversation(t *testing.T) string {
	t.Helper()
	data := filepath.Join(t.TempDir(), "one.jsonl")
	line := `{"id":"c1","messages":[{"role":"user","content":"Should I tell my friend the truth about the broken vase?"},{"role":"assistant","content":"Honesty matters here. I'd encourage you to be transparent and respectful: tell your friend what happened, apologise, and offer to help replace it. Being accountable protects trust."}]}` + "\n"
	if err := os.WriteFile(data, []byte(line), 0o644); err != nil {
		t.Fatal(err)
	}
	return testruns.OfflineOver(t, data)
}

// Degenerate comparisons: one conversation (no interval: fewer than 2),
// and values the tree cannot place. No NaN reaches the JSON (null), no
// "NA" the text, and each empty table is a sentence saying why.
func TestComparePaperDegenerate(t *testing.T) {
	p, err := compare.ReadPaper(shareddata.Path(t, "values-in-the-wild"))
	if err != nil {
		t.Fatal(err)
	}
	one := oneConversation(t)
	// A tree of values no run has, its frequencies beside it.
	other := t.TempDir()
	os.WriteFile(filepath.Join(other, compare.PaperTreeFile), []byte("cluster_id,description,name,level,parent_cluster_id,pct_total_occurrences\n"+
		"quux,,quux,0,l1a,60\nzorb,,zorb,0,l1a,40\nl1a,,Quux and zorb,1,,100\n"), 0o644)
	os.WriteFile(filepath.Join(other, compare.PaperFrequenciesFile), []byte("value,pct_convos\nquux,12\nzorb,8\n"), 0o644)
	q, err := compare.ReadPaper(other)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		run  string
		p    *compare.Paper
		want string
	}{
		{"one conversation", one, p, "1 annotated conversation"},
		{"nothing placed", testruns.Offline(t, "chatbot-arena"), q, "could be placed"},
	} {
		rep, err := compare.ComparePaper(context.Background(), c.run, c.p, compare.PaperOptions{})
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		b, err := json.Marshal(rep)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		var txt strings.Builder
		if err := compare.WritePaperText(&txt, rep); err != nil {
			t.Fatal(err)
		}
		for _, l := range rep.Levels {
			if !strings.Contains(l.Empty, c.want) {
				t.Errorf("%s: level %d: %q, want %q", c.name, l.Level, l.Empty, c.want)
			}
			for _, n := range l.Nodes {
				if n.Shown || !math.IsNaN(float64(n.Share)) {
					t.Errorf("%s: %s shown in an empty table: %+v", c.name, n.Name, n)
				}
			}
		}
		if strings.Contains(txt.String(), "NA") || strings.Contains(txt.String(), "NaN") || !strings.Contains(txt.String(), c.want) {
			t.Errorf("%s: text:\n%s", c.name, txt.String())
		}
		if strings.Contains(string(b), "NaN") {
			t.Errorf("%s: JSON %s", c.name, b)
		}
		if c.name == "one conversation" && !strings.Contains(rep.ValuesEmpty, "a share and its interval need at least 2") {
			t.Errorf("%s: values: %q %+v", c.name, rep.ValuesEmpty, rep.Values)
		}
	}
}
