package compare

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/valuescope/valuescope/host/analysis"
	"github.com/valuescope/valuescope/host/analysis/analysistest"
)

// A paired value is published only when each cell of its 2×2 table is zero
// or at the floor: at a floor of 13, "resistance" (12 conversations in B
// only) and "support" (12 in A only, 48 in both) are withheld, and at 12
// they are shown.
func TestComparePairedFloor(t *testing.T) {
	a, b, _ := testRuns(t)
	values := func(min int) (map[string]bool, int) {
		rep, err := Runs(context.Background(), []string{a, b}, analysis.LoadOptions{}, Options{Floor: analysis.Floor{MinConversations: min}})
		if err != nil {
			t.Fatal(err)
		}
		got, suppressed := map[string]bool{}, 0
		for _, f := range rep.Pairs[0].Fields {
			suppressed += f.Suppressed.Values
			for _, v := range f.Values {
				got[v.Value] = true
			}
		}
		return got, suppressed
	}
	shown, _ := values(12)
	if !shown["resistance"] || !shown["support"] || !shown["curiosity"] {
		t.Fatalf("floor 12: %v", shown)
	}
	shown, suppressed := values(13)
	if shown["resistance"] || shown["support"] || !shown["curiosity"] || !shown["honesty"] || suppressed < 2 {
		t.Fatalf("floor 13: shown %v, %d suppressed", shown, suppressed)
	}
}

func TestPairsPass(t *testing.T) {
	f := analysis.Floor{MinConversations: 5, MinUsers: 3}
	for _, c := range []struct {
		pc    PairCounts
		users [3]int
		known bool
		want  bool
	}{
		{PairCounts{Both: 50, AOnly: 0, BOnly: 9, Neither: 41}, [3]int{20, 0, 4}, true, true},
		{PairCounts{Both: 50, AOnly: 2, BOnly: 9, Neither: 39}, [3]int{20, 2, 4}, true, false}, // 2 discordant
		{PairCounts{Both: 50, AOnly: 6, BOnly: 9, Neither: 35}, [3]int{20, 2, 4}, true, false}, // 6 of 2 users
		{PairCounts{Both: 50, AOnly: 6, BOnly: 9, Neither: 35}, [3]int{20, 2, 4}, false, true}, // users unknown
		{PairCounts{Both: 96, AOnly: 0, BOnly: 0, Neither: 4}, [3]int{20, 0, 0}, true, false},  // 4 without it
	} {
		if got := pairsPass(c.pc, c.users, c.known, f); got != c.want {
			t.Errorf("%+v users %v (known %v): %v, want %v", c.pc, c.users, c.known, got, c.want)
		}
	}
}

// compare.json and a report hold no conversation: the disagreements are in
// disagreements.csv only, which is private.
func TestAggregateNamesNoConversation(t *testing.T) {
	a, b, _ := testRuns(t)
	rep, err := Runs(context.Background(), []string{a, b}, analysis.LoadOptions{}, Options{Floor: analysis.Floor{MinConversations: 5}})
	if err != nil {
		t.Fatal(err)
	}
	var id string
	for _, f := range rep.Pairs[0].Fields {
		if f.Agreement != nil && len(f.Agreement.Disagreements) > 0 {
			id = f.Agreement.Disagreements[0].ID
		}
	}
	if id == "" {
		t.Fatal("the runs disagree on no conversation")
	}
	out := t.TempDir()
	if err := WriteFiles(out, rep); err != nil {
		t.Fatal(err)
	}
	for _, name := range ShareableFiles {
		b, err := os.ReadFile(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), id) {
			t.Errorf("%s names conversation %s", name, id)
		}
	}
	b2, _ := os.ReadFile(filepath.Join(out, PrivateFiles[0]))
	if !strings.Contains(string(b2), id) {
		t.Errorf("%s does not list the disagreement %s", PrivateFiles[0], id)
	}
	var back Report
	b3, _ := os.ReadFile(filepath.Join(out, "compare.json"))
	if err := json.Unmarshal(b3, &back); err != nil || back.Pairs[0].Fields[0].Agreement == nil {
		t.Fatalf("compare.json: %v", err)
	}
	// The report in memory keeps them (the command prints them).
	if len(rep.Aggregate().Pairs[0].Fields[0].Agreement.Disagreements) != 0 {
		t.Error("Aggregate kept the disagreements")
	}
}

// The users floor of a paired table holds when only run B names users: six
// conversations of one user with "lonely hobby" in A only are withheld.
func TestComparePairedFloorUsersOfB(t *testing.T) {
	var ca, cb []analysistest.Conv
	for i := range 40 {
		id := fmt.Sprint("c", i)
		a := analysistest.Conv{ID: id, Text: "hello " + id, Label: "neutral", Values: []string{"common"}}
		b := a
		b.Meta = map[string]any{"user_id": fmt.Sprint("u", i)}
		if i < 6 {
			a.Values = []string{"common", "lonely hobby"}
			b.Meta = map[string]any{"user_id": "u-lonely"}
		}
		ca, cb = append(ca, a), append(cb, b)
	}
	da, db := t.TempDir(), t.TempDir()
	analysistest.Write(t, da, ca)
	analysistest.Write(t, db, cb)
	rep, err := Runs(context.Background(), []string{da, db}, analysis.LoadOptions{}, Options{Floor: analysis.Floor{MinConversations: 5, MinUsers: 2}})
	if err != nil {
		t.Fatal(err)
	}
	p := rep.Pairs[0]
	if p.Sharing.Shared != 40 {
		t.Fatalf("sharing %+v", p.Sharing)
	}
	for _, f := range p.Fields {
		for _, v := range f.Values {
			if v.Value == "lonely hobby" {
				t.Errorf("published: %+v (pairs %+v), though its A-only cell is one user's", v, v.Pairs)
			}
		}
	}
}
