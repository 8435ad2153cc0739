package dataset

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"testing"
	"unicode/utf8"

	"github.com/valuescope/valuescope/host/conversation"
	"github.com/valuescope/valuescope/internal/shareddata"
)

// Fuzz targets, one per format: whatever the bytes, decoding never panics,
// and what it accepts is a well-formed conversation. Seeds come from the real
// files. CI runs each briefly (see .ci/run).

func FuzzOpenAI(f *testing.F) {
	fuzzFormat(f, formatOpenAI, "chatbot-arena/chatbot_arena_messages.jsonl",
		`{"request":{"messages":[{"role":"user","content":"q"}]},"response":{"choices":[{"message":{"role":"assistant","content":[{"type":"text","text":"a"}]}}]}}`)
}

func FuzzAnthropic(f *testing.F) {
	fuzzFormat(f, formatAnthropic, "",
		`{"system":"s","messages":[{"role":"user","content":[{"type":"tool_result","content":"x"}]}]}`,
		`{"request":{"messages":[{"role":"user","content":"q"}]},"response":{"type":"message","content":[{"type":"text","text":"a"}]}}`)
}

func FuzzShareGPT(f *testing.F) {
	fuzzFormat(f, formatShareGPT, "sharegpt/sharegpt_zh_1K_format.jsonl",
		`{"id":"x","conversations":[{"from":"system","value":"s"},{"from":"human","value":"q"}]}`)
}

func FuzzHHRLHF(f *testing.F) {
	fuzzFormat(f, formatHHRLHF, "hh-rlhf/harmless-base-test.jsonl.gz",
		`{"chosen":"\n\nHuman: a\n\nAssistant: b","rejected":"\n\nHuman: a"}`)
}

func FuzzWildChat(f *testing.F) {
	fuzzFormat(f, formatWildChat, "",
		`{"conversation_hash":"h","conversation":[{"role":"user","content":"x","language":"English","toxic":false}],"country":"US"}`)
}

func FuzzLMSYS(f *testing.F) {
	fuzzFormat(f, formatLMSYS, "",
		`{"conversation_id":"c","conversation":[{"role":"user","content":"x"},{"role":"assistant","content":"y"}],"turn":1}`)
}

func FuzzClaudeExport(f *testing.F) {
	fuzzFormat(f, formatClaudeExport, "",
		`{"uuid":"u","chat_messages":[{"sender":"human","text":"hi","content":[{"type":"text","text":"hi"}]}]}`)
}

func FuzzValuescope(f *testing.F) {
	fuzzFormat(f, formatValuescope, "",
		`{"id":"x","source":"s","turns":[{"role":"user","content":"q","meta":{"a":1}}],"meta":{"b":[1,2]}}`)
}

func fuzzFormat(f *testing.F, format *Format, real string, seeds ...string) {
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	if real != "" {
		for _, line := range firstLines(f, shareddata.Path(f, real), 20) {
			f.Add(line)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		convs, err := format.decode(data, Location{File: "fuzz", Line: 1, Record: 1}, true, nil)
		if err != nil {
			if len(convs) != 0 {
				t.Fatalf("error %v with %d conversations", err, len(convs))
			}
			return
		}
		checkConversations(t, convs)
	})
}

// FuzzFile drives a whole file through the reader: container sniffing, JSONL
// and JSON documents, detection, compression. Errors are fine; panics,
// conversations that are not well-formed and endless reads are not.
func FuzzFile(f *testing.F) {
	f.Add([]byte(`[{"conversations":[{"from":"human","value":"x"}]}]`))
	f.Add([]byte("{\n \"messages\": [{\"role\": \"user\", \"content\": \"x\"}]\n}\n{\"messages\": []}"))
	for _, line := range firstLines(f, shareddata.Path(f, "chatbot-arena/chatbot_arena_messages.jsonl"), 3) {
		f.Add(line)
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(dir, "f.jsonl")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		r, err := Open([]string{p}, Options{MaxRecordBytes: 1 << 20})
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		for i := 0; ; i++ {
			c, err := r.Next()
			if err == io.EOF || (err != nil && !IsBad(err)) {
				return
			}
			if i > len(data)+1 {
				t.Fatalf("read %d records from %d bytes", i, len(data))
			}
			if err == nil {
				checkConversations(t, []conversation.Conversation{*c})
			}
		}
	})
}

func checkConversations(t *testing.T, convs []conversation.Conversation) {
	t.Helper()
	for _, c := range convs {
		if c.ID == "" || len(c.Turns) == 0 {
			t.Fatalf("accepted a conversation with id %q and %d turns", c.ID, len(c.Turns))
		}
		for _, turn := range c.Turns {
			if r, ok := conversation.NormalizeRole(turn.Role); !ok || r != turn.Role {
				t.Fatalf("role %q not normalised", turn.Role)
			}
		}
	}
}

// firstLines returns the first n lines of a (possibly gzipped) JSONL file.
func firstLines(tb testing.TB, path string, n int) [][]byte {
	tb.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	if bytes.HasPrefix(data, []byte{0x1f, 0x8b}) {
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			tb.Fatal(err)
		}
		if data, err = io.ReadAll(zr); err != nil {
			tb.Fatal(err)
		}
	}
	var out [][]byte
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<24)
	for sc.Scan() && len(out) < n {
		out = append(out, bytes.Clone(sc.Bytes()))
	}
	return out
}

// FuzzUnquote checks the fast unquoting of validated strings against the
// json package's own.
func FuzzUnquote(f *testing.F) {
	for _, s := range []string{`"plain"`, `"a\nb\"c\\d\/e\u00e9\ud83d\ude00"`, `"\ud800x"`, `"中文\t"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		var want string
		// unquote's input is validated by the decoder first: valid UTF-8.
		if !utf8.Valid(raw) || json.Unmarshal(raw, &want) != nil || len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
			return
		}
		if got := unquote(raw[1 : len(raw)-1]); got != want {
			t.Fatalf("unquote(%q) = %q, want %q", raw, got, want)
		}
	})
}

// FuzzParquet feeds mutated Parquet files (seeded with the built WildChat and
// LMSYS fixtures) through the reader: a broken file is an error naming it,
// never a panic or a hang.
func FuzzParquet(f *testing.F) {
	for _, name := range []string{"wildchat_built.parquet", "lmsys_built.parquet"} {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		if !bytes.HasPrefix(data, []byte("PAR1")) {
			return
		}
		p := filepath.Join(dir, "f.parquet")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		r, err := Open([]string{p}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		for i := 0; i < 100000; i++ {
			c, err := r.Next()
			if err == io.EOF || (err != nil && !IsBad(err)) {
				return
			}
			if err == nil {
				checkConversations(t, []conversation.Conversation{*c})
			}
		}
		t.Fatal("no end after 100000 records")
	})
}
