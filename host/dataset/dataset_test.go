package dataset

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/valuescope/valuescope/host/conversation"
	"github.com/valuescope/valuescope/internal/shareddata"
)

// The counts the shared data's README states for each real file.
func TestRealDatasets(t *testing.T) {
	cases := []struct {
		path          string
		format        string
		conversations int64
		system        bool // the file has system turns
	}{
		{"hh-rlhf/harmless-base-test.jsonl.gz", "hh-rlhf", 4624, false},
		{"chatbot-arena/chatbot_arena_messages.jsonl", "openai", 2129, false},
		{"sharegpt/sharegpt_zh_1K_format.jsonl", "sharegpt", 1000, false},
		{"sharegpt/sg_90k_part1_html_cleaned_lang_first_sampled_sorted.json", "sharegpt", 2978, true},
	}
	for _, c := range cases {
		t.Run(c.format+"/"+filepath.Base(c.path), func(t *testing.T) {
			s := summarize(t, []string{shareddata.Path(t, c.path)}, Options{})
			if s.Format != c.format || s.Conversations != c.conversations || s.BadRecords != 0 {
				t.Fatalf("got format %s, %d conversations, %d bad (%v); want %s, %d, 0",
					s.Format, s.Conversations, s.BadRecords, s.BadExamples, c.format, c.conversations)
			}
			var sum int64
			for _, n := range s.Roles {
				sum += n
			}
			if sum != s.Turns || s.Roles["user"] == 0 {
				t.Errorf("roles %v do not add up to %d turns", s.Roles, s.Turns)
			}
			if got := s.Roles["system"] > 0; got != c.system {
				t.Errorf("system turns: %d, want present=%v", s.Roles["system"], c.system)
			}
		})
	}
}

func TestHHRLHFPairs(t *testing.T) {
	r, err := Open([]string{shareddata.Path(t, "hh-rlhf/harmless-base-test.jsonl.gz")}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	a, b := next(t, r), next(t, r)
	if a.ID != "1:chosen" || b.ID != "1:rejected" || a.Meta["hh_variant"] != "chosen" || b.Meta["hh_variant"] != "rejected" {
		t.Fatalf("first pair: %q %v, %q %v", a.ID, a.Meta, b.ID, b.Meta)
	}
	if a.Turns[0].Role != "user" || a.Turns[0].Content != "what are some pranks with a pen i can do?" || a.Turns[1].Role != "assistant" {
		t.Fatalf("first turns: %+v", a.Turns[:2])
	}
}

// A copy of a real file with one corrupted line reports exactly that line and
// reads everything else — plain, gzip and zstd.
func TestCorruptedLine(t *testing.T) {
	orig, err := os.ReadFile(shareddata.Path(t, "chatbot-arena/chatbot_arena_messages.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.Split(orig, []byte("\n"))
	lines[99] = lines[99][:len(lines[99])/2] // line 100, cut mid-record
	corrupt := bytes.Join(lines, []byte("\n"))
	dir := t.TempDir()
	write := func(name string, compress func(io.Writer) io.WriteCloser) string {
		var buf bytes.Buffer
		w := compress(&buf)
		w.Write(corrupt)
		w.Close()
		p := filepath.Join(dir, name)
		os.WriteFile(p, buf.Bytes(), 0o644)
		return p
	}
	files := []string{
		write("arena.jsonl", func(w io.Writer) io.WriteCloser { return nopCloser{w} }),
		write("arena.jsonl.gz", func(w io.Writer) io.WriteCloser { return gzip.NewWriter(w) }),
		write("arena.jsonl.zst", func(w io.Writer) io.WriteCloser { z, _ := zstd.NewWriter(w); return z }),
	}
	for _, f := range files {
		s := summarize(t, []string{f}, Options{})
		if s.Conversations != 2128 || s.BadRecords != 1 || len(s.BadExamples) != 1 ||
			!strings.HasPrefix(s.BadExamples[0], f+":100: ") {
			t.Errorf("%s: %d conversations, %d bad %q; want 2128, 1 at line 100", f, s.Conversations, s.BadRecords, s.BadExamples)
		}
	}
	r, err := Open(files[:1], Options{Strict: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var n int
	for ; ; n++ {
		if _, err = r.Next(); err != nil {
			break
		}
	}
	if n != 99 || IsBad(err) == false || !strings.Contains(err.Error(), "strict") {
		t.Fatalf("strict: read %d then %v; want 99 then a strict bad-record error", n, err)
	}
	if _, again := r.Next(); again == nil {
		t.Fatal("strict: reading went on after the fatal error")
	}
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

// Each format on small inline records: what is kept, where it goes.
func TestFormats(t *testing.T) {
	cases := []struct {
		name, data, format string
		want               []conversation.Conversation
	}{
		{
			name:   "openai parts and tool calls",
			format: "openai",
			data:   `{"id": 7, "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": [{"type": "text", "text": "hi"}, {"type": "image_url", "image_url": {"url": "x"}}]}, {"role": "assistant", "content": null, "tool_calls": [{"id": "c1"}]}, {"role": "function", "content": "42"}], "model": "gpt-4o"}`,
			want: []conversation.Conversation{{ID: "7", Meta: map[string]any{"model": "gpt-4o"}, Turns: []conversation.Turn{
				{Role: "system", Content: "be brief"},
				{Role: "user", Content: "hi", Meta: map[string]any{"non_text_parts": []any{map[string]any{"type": "image_url", "image_url": map[string]any{"url": "x"}}}}},
				{Role: "assistant", Content: "", Meta: map[string]any{"tool_calls": []any{map[string]any{"id": "c1"}}}},
				{Role: "tool", Content: "42", Meta: map[string]any{"original_role": "function"}},
			}}},
		},
		{
			name:   "openai request/response",
			format: "openai",
			data:   `{"request": {"model": "m", "messages": [{"role": "user", "content": "q"}]}, "response": {"id": "r1", "choices": [{"message": {"role": "assistant", "content": "a"}}]}}`,
			want: []conversation.Conversation{{ID: "c1e9d6e2a5a7e0f6", Meta: map[string]any{"model": "m", "response": map[string]any{"id": "r1"}}, Turns: []conversation.Turn{
				{Role: "user", Content: "q"}, {Role: "assistant", Content: "a"},
			}}},
		},
		{
			name:   "anthropic system and tool blocks",
			format: "anthropic",
			data:   `{"system": [{"type": "text", "text": "sys"}], "messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": [{"type": "text", "text": "let me look"}, {"type": "tool_use", "id": "t1", "name": "search", "input": {}}]}, {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": [{"type": "text", "text": "found"}]}]}]}`,
			want: []conversation.Conversation{{ID: "-", Turns: []conversation.Turn{
				{Role: "system", Content: "sys"},
				{Role: "user", Content: "q"},
				{Role: "assistant", Content: "let me look", Meta: map[string]any{"tool_calls": []any{map[string]any{"type": "tool_use", "id": "t1", "name": "search", "input": map[string]any{}}}}},
				{Role: "tool", Content: "found", Meta: map[string]any{"original_role": "user"}},
			}}},
		},
		{
			name:   "anthropic request/response pair",
			format: "anthropic",
			data:   `{"request": {"model": "claude-x", "max_tokens": 10, "messages": [{"role": "user", "content": "q"}]}, "response": {"id": "msg_1", "type": "message", "role": "assistant", "content": [{"type": "text", "text": "a"}], "stop_reason": "end_turn"}}`,
			want: []conversation.Conversation{{ID: "-", Meta: map[string]any{"model": "claude-x", "max_tokens": 10.0, "response": map[string]any{"id": "msg_1", "type": "message", "stop_reason": "end_turn"}}, Turns: []conversation.Turn{
				{Role: "user", Content: "q"}, {Role: "assistant", Content: "a"},
			}}},
		},
		{
			name:   "claude.ai export (pretty JSON array)",
			format: "claude-export",
			data:   "[\n  {\n    \"uuid\": \"u1\",\n    \"name\": \"Chat\",\n    \"chat_messages\": [\n      {\"sender\": \"human\", \"text\": \"hello\", \"content\": [{\"type\": \"text\", \"text\": \"hello\"}], \"created_at\": \"2025-01-01T00:00:00Z\"},\n      {\"sender\": \"assistant\", \"text\": \"hi\", \"content\": []}\n    ]\n  }\n]\n",
			want: []conversation.Conversation{{ID: "u1", Meta: map[string]any{"name": "Chat"}, Turns: []conversation.Turn{
				{Role: "user", Content: "hello", Meta: map[string]any{"created_at": "2025-01-01T00:00:00Z", "original_role": "human"}},
				{Role: "assistant", Content: "hi"},
			}}},
		},
		{
			name:   "wildchat jsonl",
			format: "wildchat",
			data:   `{"conversation_hash": "h1", "model": "gpt-4", "conversation": [{"role": "user", "content": "hola", "language": "Spanish", "toxic": false}, {"role": "assistant", "content": "hola!", "language": "Spanish", "toxic": false}], "turn": 1, "country": "Spain", "toxic": false}`,
			want: []conversation.Conversation{{ID: "h1", Meta: map[string]any{"model": "gpt-4", "turn": 1.0, "country": "Spain", "toxic": false}, Turns: []conversation.Turn{
				{Role: "user", Content: "hola", Meta: map[string]any{"language": "Spanish", "toxic": false}},
				{Role: "assistant", Content: "hola!", Meta: map[string]any{"language": "Spanish", "toxic": false}},
			}}},
		},
		{
			name:   "lmsys jsonl",
			format: "lmsys",
			data:   `{"conversation_id": "c9", "model": "vicuna-13b", "conversation": [{"role": "user", "content": "x"}, {"role": "assistant", "content": "y"}], "language": "English", "redacted": true}`,
			want: []conversation.Conversation{{ID: "c9", Meta: map[string]any{"model": "vicuna-13b", "language": "English", "redacted": true}, Turns: []conversation.Turn{
				{Role: "user", Content: "x"}, {Role: "assistant", Content: "y"},
			}}},
		},
		{
			name:   "sharegpt with system",
			format: "sharegpt",
			data:   `{"conversations": [{"from": "system", "value": "s"}, {"from": "human", "value": "x"}, {"from": "gpt", "value": "y"}], "lang": "en"}`,
			want: []conversation.Conversation{{ID: "-", Meta: map[string]any{"lang": "en"}, Turns: []conversation.Turn{
				{Role: "system", Content: "s"},
				{Role: "user", Content: "x", Meta: map[string]any{"original_role": "human"}},
				{Role: "assistant", Content: "y", Meta: map[string]any{"original_role": "gpt"}},
			}}},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := writeTemp(t, "data.json", c.data)
			got := readAll(t, path, Options{})
			s := summarize(t, []string{path}, Options{})
			if s.Format != c.format {
				t.Errorf("detected %q, want %q", s.Format, c.format)
			}
			for i := range c.want {
				c.want[i].Source = "data.json"
				if c.want[i].ID == "-" || c.want[i].ID == "c1e9d6e2a5a7e0f6" {
					c.want[i].ID = conversation.ContentID(c.want[i].Turns)
				}
			}
			if !equalJSON(t, got, c.want) {
				t.Errorf("got  %s\nwant %s", mustJSON(t, got), mustJSON(t, c.want))
			}
		})
	}
}

// Records that cannot be read are set aside with their line and reason.
func TestBadRecords(t *testing.T) {
	data := strings.Join([]string{
		`{"messages": [{"role": "user", "content": "ok"}, {"role": "assistant", "content": "fine"}]}`,
		`{"messages": [{"role": "narrator", "content": "x"}]}`,
		`{"messages": []}`,
		`{"messages": [{"role": "user", "content": 5}]}`,
		`{"messages": [{"role": "user", "content": "a", "content": "b"}]}`,
		`not json`,
		``,
		`{"messages": [{"role": "user", "content": "only a question"}]}`,
		"{\"messages\": [{\"role\": \"user\", \"content\": \"bad \xff byte\"}, {\"role\": \"assistant\", \"content\": \"" + strings.Repeat("x", 1<<20) + "\"}]}",
	}, "\n")
	path := writeTemp(t, "bad.jsonl", data)
	s := summarize(t, []string{path}, Options{})
	if s.Conversations != 3 || s.BadRecords != 5 || s.NoAssistant != 1 || s.InvalidUTF8 != 1 {
		t.Fatalf("summary %+v", s)
	}
	want := []string{
		":2: messages[0]: unknown role \"narrator\"",
		":3: conversation has no turns",
		":4: messages[0]: content is a number",
		":5: ", // duplicate member name
		":6: invalid JSON",
	}
	for i, w := range want {
		if !strings.HasPrefix(s.BadExamples[i], path) || !strings.Contains(s.BadExamples[i], w) {
			t.Errorf("bad record %d: %q, want it to name %s and contain %q", i, s.BadExamples[i], path, w)
		}
	}
	if !strings.Contains(s.BadExamples[3], "duplicate") {
		t.Errorf("duplicate member: %q", s.BadExamples[3])
	}

	// A record over the limit is set aside, and the next line still read.
	r, err := Open([]string{path}, Options{MaxRecordBytes: 1000})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var good, bad int
	var last error
	for {
		_, err := r.Next()
		if err == io.EOF {
			break
		}
		if IsBad(err) {
			bad, last = bad+1, err
		} else if err != nil {
			t.Fatal(err)
		} else {
			good++
		}
	}
	if good != 2 || bad != 6 || !strings.Contains(last.Error(), ":9: line is 10") {
		t.Fatalf("limit: %d conversations, %d bad, last %v", good, bad, last)
	}
}

func TestUnknownFormat(t *testing.T) {
	path := writeTemp(t, "odd.jsonl", `{"prompt": "x", "completion": "y"}`+"\n")
	r, err := Open([]string{path}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	_, err = r.Next()
	var de *DetectError
	if !errors.As(err, &de) || len(de.Reasons) != len(formats) || !strings.Contains(err.Error(), `hh-rlhf: no "chosen" field`) ||
		!strings.Contains(err.Error(), path+":1") {
		t.Fatalf("got %v; want a DetectError naming the file, line and every format's reason", err)
	}
	// Forcing a format reads the records as that format, and they fail as records.
	s := summarize(t, []string{path}, Options{Format: "sharegpt"})
	if s.BadRecords != 1 || s.Format != "sharegpt" {
		t.Fatalf("forced: %+v", s)
	}
}

// A JSON array broken mid-file cannot be resynchronised: the records before
// the break are read, the rest of the file is one bad record naming the line,
// and reading ends normally.
func TestBrokenJSONArray(t *testing.T) {
	path := writeTemp(t, "arr.json", "[\n"+`{"conversations": [{"from": "human", "value": "a"}]},`+"\n"+`{"conversations": [{"from": "human", "value": "b"}]}`+"\n"+`{"conversations": []}`+"\n]")
	r, err := Open([]string{path}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var n int
	for ; ; n++ {
		if _, err = r.Next(); err != nil {
			break
		}
	}
	var bad *BadRecord
	if n != 2 || !errors.As(err, &bad) || !bad.Damaged || !strings.Contains(err.Error(), path+":4: broken JSON after 2 records") {
		t.Fatalf("read %d, then %v", n, err)
	}
	if _, err := r.Next(); err != io.EOF {
		t.Fatalf("after the damage: %v, want io.EOF", err)
	}
	if f := r.Files()[0]; f.Bad != 1 || f.Convs != 2 || !strings.Contains(f.Damaged, "broken JSON") {
		t.Fatalf("file: %+v", f)
	}
}

func TestFoldersGlobsAndShards(t *testing.T) {
	dir := t.TempDir()
	var lines []string
	for i := range 50 {
		lines = append(lines, `{"conversations": [{"from": "human", "value": "q`+strings.Repeat("x", i)+`"}, {"from": "gpt", "value": "a"}]}`)
	}
	os.MkdirAll(filepath.Join(dir, "shards", "b"), 0o755)
	os.WriteFile(filepath.Join(dir, "shards", "a.jsonl"), []byte(strings.Join(lines[:20], "\n")), 0o644)
	os.WriteFile(filepath.Join(dir, "shards", "b", "c.jsonl"), []byte(strings.Join(lines[20:], "\n")), 0o644)
	os.WriteFile(filepath.Join(dir, "shards", "notes.txt"), []byte("not data"), 0o644)

	all := readAll(t, filepath.Join(dir, "shards"), Options{})
	if len(all) != 50 || all[0].Source != "a.jsonl" || all[49].Source != "b/c.jsonl" {
		t.Fatalf("folder: %d conversations, sources %q..%q", len(all), all[0].Source, all[len(all)-1].Source)
	}
	if g := readAll(t, filepath.Join(dir, "shards", "*.jsonl"), Options{}); len(g) != 20 {
		t.Fatalf("glob: %d", len(g))
	}
	if _, err := Open([]string{filepath.Join(dir, "*.parquet")}, Options{}); err == nil || !strings.Contains(err.Error(), "matches no file") {
		t.Fatalf("empty glob: %v", err)
	}
	// Shards partition the conversations: disjoint, and together all of them.
	seen := map[string]int{}
	for i := range 3 {
		for _, c := range readAll(t, filepath.Join(dir, "shards"), Options{Shard: Shard{i, 3}}) {
			seen[c.ID]++
		}
	}
	if len(seen) != 50 {
		t.Fatalf("shards cover %d of 50", len(seen))
	}
	for id, n := range seen {
		if n != 1 {
			t.Fatalf("%s in %d shards", id, n)
		}
	}
	// Content-hash IDs are the same in every read.
	again := readAll(t, filepath.Join(dir, "shards"), Options{})
	for i := range all {
		if all[i].ID != again[i].ID {
			t.Fatal("content IDs differ between reads")
		}
	}
}

// Converting to normalised JSONL and reading it back gives the same conversations.
func TestConvertJSONLRoundTrip(t *testing.T) {
	src := shareddata.Path(t, "sharegpt/sg_90k_part1_html_cleaned_lang_first_sampled_sorted.json")
	want := readAll(t, src, Options{})
	out := filepath.Join(t.TempDir(), "norm.jsonl")
	w, err := NewWriter(out, "jsonl")
	if err != nil {
		t.Fatal(err)
	}
	for i := range want {
		if err := w.Write(&want[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got := readAll(t, out, Options{})
	if s := summarize(t, []string{out}, Options{}); s.Format != "valuescope" {
		t.Fatalf("read back as %s", s.Format)
	}
	if !equalJSON(t, got, want) {
		t.Fatal("round trip changed the conversations")
	}
}

func TestParseShard(t *testing.T) {
	if s, err := ParseShard("2/5"); err != nil || s != (Shard{2, 5}) {
		t.Fatal(s, err)
	}
	if s, _ := ParseShard("2/5"); s.String() != "2/5" || (Shard{0, 1}).String() != "" {
		t.Fatalf("String: %q", s.String())
	}
	for _, bad := range []string{"5/5", "-1/2", "x", "1/0", "1/3x", "1/3/5", " 1/3", "1/"} {
		if _, err := ParseShard(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
