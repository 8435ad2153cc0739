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

// A store an older valuescope made has no duplicates table: opened
// read-only (report, export, merge of its folder), it reads and counts its
// records set aside as before.
func TestReadOnlyStoreWithoutDuplicates(t *testing.T) {
	st, path := newStore(t)
	if err := st.AddBadRecords(ctx, []BadRecord{{File: "a", Record: 1, Line: 1, Reason: "x"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.db.Exec(`DROP TABLE duplicates`); err != nil {
		t.Fatal(err)
	}
	st.Close()
	ro, err := OpenReadOnly(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	c, err := ro.Count(ctx)
	if err != nil || c.BadRecords != 1 || c.Duplicates != 0 {
		t.Fatalf("counts %+v, %v", c, err)
	}
	if got := collect(t, snap(t, ro).BadRecords()); len(got) != 1 || got[0].Reason != "x" {
		t.Fatalf("bad records %+v", got)
	}
	merged, _ := newStore(t)
	if _, err := merged.Merge(ctx, path); err != nil {
		t.Fatal(err)
	}
}

// Two conversations of one record set aside are two rows (HH-RLHF's
// chosen and rejected), and adding them again (a resumed run) adds none.
func TestDuplicatesOfOneRecord(t *testing.T) {
	st, _ := newStore(t)
	recs := []BadRecord{
		{File: "b", Record: 1, Line: 1, Reason: DuplicatePrefix + "1", Conversation: "1:chosen"},
		{File: "b", Record: 1, Line: 1, Reason: DuplicatePrefix + "2", Conversation: "1:rejected"},
		{File: "a", Record: 1, Line: 1, Reason: "not JSON"},
	}
	for range 2 {
		if err := st.AddBadRecords(ctx, recs); err != nil {
			t.Fatal(err)
		}
	}
	c, err := st.Count(ctx)
	if err != nil || c.BadRecords != 3 || c.Duplicates != 2 {
		t.Fatalf("counts %+v, %v", c, err)
	}
	got := collect(t, snap(t, st).BadRecords())
	if len(got) != 3 || got[0].File != "a" || got[1].Conversation != "1:chosen" || got[2].Conversation != "1:rejected" {
		t.Fatalf("bad records %+v", got)
	}
}
