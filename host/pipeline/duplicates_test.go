package pipeline_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/valuescope/valuescope/host/dataset"
	"github.com/valuescope/valuescope/host/pipeline"
	"github.com/valuescope/valuescope/host/store"
	"github.com/valuescope/valuescope/internal/shareddata"
)

// msgs is a conversation in OpenAI messages form, with an ID when id != "".
func msgs(id, user, assistant string) string {
	m := map[string]any{"messages": []map[string]string{{"role": "user", "content": user}, {"role": "assistant", "content": assistant}}}
	if id != "" {
		m["id"] = id
	}
	b, _ := json.Marshal(m)
	return string(b)
}

// dupData writes a dataset of two files with every kind of repeat: an exact
// duplicate in the same file (line 3 of line 1), the same ID with other
// turns in the same file (line 4: set aside), two ID-less conversations with
// the same turns (lines 5 and 6), an exact duplicate in the other file
// (b.jsonl:1 of a.jsonl:2), and the same ID with other turns in the other
// file (b.jsonl:2: kept, another conversation).
func dupData(t *testing.T) (dir string, open pipeline.Opener) {
	t.Helper()
	dir = t.TempDir()
	files := map[string][]string{
		"a.jsonl": {
			msgs("x", "is honesty important?", "I think honesty matters a great deal."),
			msgs("y", "help me write a poem", "Happy to help you write a poem."),
			msgs("x", "is honesty important?", "I think honesty matters a great deal."),
			msgs("x", "something else entirely", "A different answer about respect."),
			msgs("", "hi", "Hello! How can I help you today?"),
			msgs("", "hi", "Hello! How can I help you today?"),
			msgs("z", "last one", "I value your autonomy here."),
		},
		"b.jsonl": {
			msgs("y", "help me write a poem", "Happy to help you write a poem."),
			msgs("x", "a third conversation", "Fairness and care, I would say."),
		},
	}
	for name, lines := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir, func() (dataset.Source, error) { return dataset.Open([]string{dir}, dataset.Options{}) }
}

// setAside lists a store's records set aside as "file:line reason".
func setAside(t *testing.T, st *store.Store) []string {
	t.Helper()
	sn, err := st.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer sn.Close()
	var out []string
	for r, err := range sn.BadRecords().All() {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%s:%d %s", filepath.Base(r.File), r.Line, r.Reason))
	}
	return out
}

// Every kind of repeat runs to the end: the exact duplicates and the
// conversation that reuses an ID in its file are set aside, each naming the
// first copy's file and line; the conversation that shares an ID with one in
// another file is kept. Before, the run stopped at the first repeat with
// "FOREIGN KEY constraint failed (787)", and so did every resume.
func TestDuplicatesSetAside(t *testing.T) {
	dir, open := dupData(t)
	st := openStore(t)
	p, err := pipeline.Run(context.Background(), open, st, stages(t, nil, ""), pipeline.Options{Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	if p.Conversations != 5 || p.BadRecords != 4 || !p.Finished {
		t.Fatalf("progress %+v: want 5 conversations and 4 set aside", p)
	}
	a := filepath.Join(dir, "a.jsonl")
	want := []string{
		`a.jsonl:3 duplicate: conversation "x" has the same ID and turns as the one at ` + a + `:1: set aside, so that it is not counted twice`,
		`a.jsonl:4 duplicate: conversation ID "x" is already that of a different conversation in a.jsonl, at ` + a + `:1, which is kept: this one is set aside (give it an ID of its own)`,
		`a.jsonl:6 duplicate: conversation "60bb6e1bb4e44ac5d6e0ea6f3c6c6d01" has the same ID and turns as the one at ` + a + `:5: set aside, so that it is not counted twice`,
		`b.jsonl:1 duplicate: conversation "y" has the same ID and turns as the one at ` + a + `:2: set aside, so that it is not counted twice`,
	}
	got := setAside(t, st)
	// The ID-less conversation's ID is its turns' hash: take it from the store.
	var idless string
	for _, c := range conversations(t, st) {
		if _, id, _ := strings.Cut(c, " "); len(id) == 32 {
			idless = id
		}
	}
	want[2] = strings.Replace(want[2], "60bb6e1bb4e44ac5d6e0ea6f3c6c6d01", idless, 1)
	if !slices.Equal(got, want) {
		t.Fatalf("set aside:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	convs := conversations(t, st)
	wantConvs := []string{"001 x", "002 y", "005 " + idless, "007 z", "009 x"}
	if !slices.Equal(convs, wantConvs) {
		t.Fatalf("stored %v, want %v (a duplicate's position stays unused)", convs, wantConvs)
	}
	c, err := st.Count(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if c.Conversations != 5 || c.BadRecords != 4 || c.Duplicates != 4 || c.Total() != 0 {
		t.Fatalf("counts %+v", c)
	}
}

// A duplicate whose first copy an earlier, interrupted invocation stored is
// set aside all the same, and the resumed run ends with what one run stores.
// The first invocation here stops after 4 conversations (as a kill would:
// what it finished is stored), the second is the same command without the
// limit; the third runs again over the finished store and changes nothing.
func TestDuplicatesOnResume(t *testing.T) {
	_, open := dupData(t)
	whole := openStore(t)
	if _, err := pipeline.Run(context.Background(), open, whole, stages(t, nil, ""), pipeline.Options{Log: quiet}); err != nil {
		t.Fatal(err)
	}
	for _, first := range []int{1, 2, 4, 6} {
		st := openStore(t)
		if _, err := pipeline.Run(context.Background(), open, st, stages(t, nil, ""), pipeline.Options{Log: quiet, Limit: first}); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			p, err := pipeline.Run(context.Background(), open, st, stages(t, nil, ""), pipeline.Options{Log: quiet})
			if err != nil {
				t.Fatalf("resumed after %d: %v", first, err)
			}
			if p.Conversations != 5 || p.BadRecords != 4 {
				t.Fatalf("resumed after %d: progress %+v", first, p)
			}
		}
		if got, want := dump(t, st), dump(t, whole); !slices.Equal(got, want) {
			t.Fatalf("resumed after %d:\n%v\nwant\n%v", first, got, want)
		}
		if got, want := setAside(t, st), setAside(t, whole); !slices.Equal(got, want) {
			t.Fatalf("resumed after %d: set aside\n%v\nwant\n%v", first, got, want)
		}
	}
}

// Under --shard the copies of a conversation share its ID and so its shard,
// which sets the repeats aside as the whole run does; the shards' stores
// merged hold what the whole run's holds, records set aside included.
func TestDuplicatesInShards(t *testing.T) {
	_, open := dupData(t)
	whole := openStore(t)
	if _, err := pipeline.Run(context.Background(), open, whole, stages(t, nil, ""), pipeline.Options{Log: quiet}); err != nil {
		t.Fatal(err)
	}
	merged := openStore(t)
	var n int64
	for i := range 3 {
		sh := dataset.Shard{Index: i, Count: 3}
		path := filepath.Join(t.TempDir(), "store.sqlite")
		st, err := store.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		p, err := pipeline.Run(context.Background(), open, st, stages(t, nil, ""), pipeline.Options{Log: quiet, Shard: sh})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range setAside(t, st) {
			if !strings.Contains(r, "duplicate: ") {
				continue
			}
			_, id, _ := strings.Cut(r, `conversation `)
			id = strings.TrimPrefix(id, "ID ")
			id = id[1 : strings.Index(id[1:], `"`)+1]
			if !sh.Keep(id) {
				t.Fatalf("shard %s set aside %s, a conversation of another shard", sh, r)
			}
		}
		n += p.BadRecords
		if i == 0 { // merge takes the stages from the shards (package merge)
			ss, err := st.Stages(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if _, err := merged.SetStages(ss); err != nil {
				t.Fatal(err)
			}
		}
		st.Close()
		if _, err := merged.Merge(context.Background(), path); err != nil {
			t.Fatal(err)
		}
	}
	if n != 4 {
		t.Fatalf("the shards set aside %d, want 4", n)
	}
	if got, want := dump(t, merged), dump(t, whole); !slices.Equal(got, want) {
		t.Fatalf("merged:\n%v\nwant\n%v", got, want)
	}
	if got, want := setAside(t, merged), setAside(t, whole); !slices.Equal(got, want) {
		t.Fatalf("merged set aside\n%v\nwant\n%v", got, want)
	}
}

// The real Chatbot Arena file read without its IDs (as a format that takes
// no ID would read it): 324 of its 2,129 conversations repeat the turns of
// another, counted here from the JSON itself. The run goes to the end,
// stores each conversation once and sets the 324 aside.
func TestDuplicatesChatbotArena(t *testing.T) {
	path := shareddata.Path(t, "chatbot-arena/chatbot_arena_messages.jsonl")
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	noID := filepath.Join(t.TempDir(), "arena-no-ids.jsonl")
	out, err := os.Create(noID)
	if err != nil {
		t.Fatal(err)
	}
	distinct := map[string]bool{}
	lines := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 64<<20)
	for sc.Scan() {
		var rec map[string]json.RawMessage
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatal(err)
		}
		delete(rec, "id")
		b, _ := json.Marshal(rec) // keys sorted: one spelling of the same turns
		distinct[string(b)] = true
		fmt.Fprintf(out, "%s\n", b)
		lines++
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	dups := lines - len(distinct)
	if lines != 2129 || dups != 324 {
		t.Fatalf("the file has %d conversations, %d repeats: not the file the test knows", lines, dups)
	}
	open := func() (dataset.Source, error) { return dataset.Open([]string{noID}, dataset.Options{}) }
	st := openStore(t)
	p, err := pipeline.Run(context.Background(), open, st, stages(t, nil, ""), pipeline.Options{Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	c, err := st.Count(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if p.Conversations != int64(len(distinct)) || c.Conversations != int64(len(distinct)) || c.Duplicates != int64(dups) || c.BadRecords != int64(dups) {
		t.Fatalf("progress %+v, counts %+v: want %d conversations and %d duplicates", p, c, len(distinct), dups)
	}
	// With its IDs the file's repeats are other conversations (other IDs):
	// every one is kept.
	open = func() (dataset.Source, error) { return dataset.Open([]string{path}, dataset.Options{}) }
	st = openStore(t)
	if p, err = pipeline.Run(context.Background(), open, st, stages(t, nil, ""), pipeline.Options{Log: quiet}); err != nil || p.Conversations != 2129 || p.BadRecords != 0 {
		t.Fatalf("with IDs: %+v, %v", p, err)
	}
}

// The real HH-RLHF file twice in one dataset (a copy in another folder):
// every conversation of the second copy repeats one of the first, ID and
// turns, and is set aside; each of its lines holds two (chosen and
// rejected), both set aside and both counted.
func TestDuplicatesAcrossFilesHHRLHF(t *testing.T) {
	src := shareddata.Path(t, "hh-rlhf/harmless-base-test.jsonl.gz")
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, sub := range []string{"a", "b"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, sub, "harmless-base-test.jsonl.gz"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	open := func() (dataset.Source, error) { return dataset.Open([]string{dir}, dataset.Options{}) }
	st := openStore(t)
	p, err := pipeline.Run(context.Background(), open, st, stages(t, nil, ""), pipeline.Options{Log: quiet})
	if err != nil {
		t.Fatal(err)
	}
	c, err := st.Count(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	const convs = 2 * 2312 // chosen and rejected of each line
	if p.Conversations != convs || p.BadRecords != convs || c.Conversations != convs || c.Duplicates != convs || c.BadRecords != convs {
		t.Fatalf("progress %+v, counts %+v: want %d kept and %d set aside", p, c, convs, convs)
	}
	got := setAside(t, st)
	first := filepath.Join(dir, "a", "harmless-base-test.jsonl.gz")
	if want := `harmless-base-test.jsonl.gz:1 duplicate: conversation "1:chosen" has the same ID and turns as the one at ` + first + `:1`; !strings.HasPrefix(got[0], want) {
		t.Fatalf("first set aside: %s\nwant %s", got[0], want)
	}
	if want := `harmless-base-test.jsonl.gz:1 duplicate: conversation "1:rejected"`; !strings.HasPrefix(got[1], want) {
		t.Fatalf("second set aside: %s\nwant %s", got[1], want)
	}
}
