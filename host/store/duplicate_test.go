package store

import (
	"strings"
	"testing"
)

// A conversation written at a second position, or a second conversation at
// one position, is refused with an error that names both, and nothing of
// its batch is stored; before, the conversation's insert did nothing and
// the result after it failed with "FOREIGN KEY constraint failed (787)".
// (The pipeline sets duplicates aside before they get here.)
func TestWriteRefusesASecondConversationUnderOneIdentity(t *testing.T) {
	st, _ := newStore(t)
	setStages(t, st, "a=1", "b=1")
	write(t, st, Result{Conv: conv(1), Stage: "a"}, Result{Conv: conv(1), Stage: "b"}) // one conversation, two stages: fine
	again := conv(1)
	again.Seq = 2 // same source and ID, another position
	other := conv(3)
	other.Seq = 1 // another conversation at a position taken
	for _, c := range []struct {
		c    Conversation
		want string
	}{
		{again, `storing conversation "c1" of data.jsonl at position 2: the store holds conversation "c1" of data.jsonl at position 1`},
		{other, `storing conversation "c3" of data.jsonl at position 1: the store holds conversation "c1" of data.jsonl at position 1`},
	} {
		err := st.Write(ctx, []Result{{Conv: conv(5), Stage: "a"}, {Conv: c.c, Stage: "a", Items: items(2)}})
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "FOREIGN KEY") {
			t.Fatalf("got %v, want %s", err, c.want)
		}
	}
	if got := pairs(t, st); len(got) != 2 {
		t.Fatalf("stored %v: the refused batches left something", got)
	}
}
