package dataset

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"
	"github.com/parquet-go/parquet-go/compress/snappy"
	"github.com/parquet-go/parquet-go/compress/zstd"
	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"
	"github.com/valuescope/valuescope/host/conversation"
)

// The Parquet fixtures in testdata/ are BUILT by the code below to the
// published schemas of WildChat and LMSYS-Chat-1M; no record in them was
// collected from either dataset. Regenerate them with
//
//	go test ./host/dataset -run TestParquetBuiltFixtures -build-parquet-fixtures
//
//go:generate go test -run TestParquetBuiltFixtures -build-parquet-fixtures
var buildParquetFixtures = flag.Bool("build-parquet-fixtures", false, "rewrite testdata/*_built.parquet")

const (
	pqWildChatFile = "testdata/wildchat_built.parquet"
	pqLMSYSFile    = "testdata/lmsys_built.parquet"
)

// WildChat (allenai/WildChat-1M) schema.

type pqWCTurn struct {
	Role           string     `parquet:"role"`
	Content        string     `parquet:"content"`
	Language       string     `parquet:"language"`
	Toxic          bool       `parquet:"toxic"`
	Redacted       bool       `parquet:"redacted"`
	Timestamp      *time.Time `parquet:"timestamp,optional,timestamp(microsecond)"`
	TurnIdentifier int64      `parquet:"turn_identifier"`
}

type pqModCategories struct {
	Harassment            bool `parquet:"harassment"`
	HarassmentThreatening bool `parquet:"harassment/threatening"`
	Hate                  bool `parquet:"hate"`
	HateThreatening       bool `parquet:"hate/threatening"`
	SelfHarm              bool `parquet:"self-harm"`
	SelfHarmInstructions  bool `parquet:"self-harm/instructions"`
	SelfHarmIntent        bool `parquet:"self-harm/intent"`
	Sexual                bool `parquet:"sexual"`
	SexualMinors          bool `parquet:"sexual/minors"`
	Violence              bool `parquet:"violence"`
	ViolenceGraphic       bool `parquet:"violence/graphic"`
}

type pqModScores struct {
	Harassment            float64 `parquet:"harassment"`
	HarassmentThreatening float64 `parquet:"harassment/threatening"`
	Hate                  float64 `parquet:"hate"`
	HateThreatening       float64 `parquet:"hate/threatening"`
	SelfHarm              float64 `parquet:"self-harm"`
	SelfHarmInstructions  float64 `parquet:"self-harm/instructions"`
	SelfHarmIntent        float64 `parquet:"self-harm/intent"`
	Sexual                float64 `parquet:"sexual"`
	SexualMinors          float64 `parquet:"sexual/minors"`
	Violence              float64 `parquet:"violence"`
	ViolenceGraphic       float64 `parquet:"violence/graphic"`
}

type pqModeration struct {
	Categories     pqModCategories `parquet:"categories"`
	CategoryScores pqModScores     `parquet:"category_scores"`
	Flagged        bool            `parquet:"flagged"`
}

type pqDetoxify struct {
	IdentityAttack float64 `parquet:"identity_attack"`
	Insult         float64 `parquet:"insult"`
	Obscene        float64 `parquet:"obscene"`
	SevereToxicity float64 `parquet:"severe_toxicity"`
	SexualExplicit float64 `parquet:"sexual_explicit"`
	Threat         float64 `parquet:"threat"`
	Toxicity       float64 `parquet:"toxicity"`
}

type pqWCHeader struct {
	AcceptLanguage string `parquet:"accept-language"`
	UserAgent      string `parquet:"user-agent"`
}

type pqWildChatRow struct {
	ConversationHash   string         `parquet:"conversation_hash"`
	Model              string         `parquet:"model"`
	Timestamp          time.Time      `parquet:"timestamp,timestamp(microsecond)"`
	Conversation       []pqWCTurn     `parquet:"conversation,optional,list" parquet-element:",optional"`
	Turn               int64          `parquet:"turn"`
	Language           string         `parquet:"language"`
	OpenAIModeration   []pqModeration `parquet:"openai_moderation,optional,list" parquet-element:",optional"`
	DetoxifyModeration []pqDetoxify   `parquet:"detoxify_moderation,optional,list" parquet-element:",optional"`
	Toxic              bool           `parquet:"toxic"`
	Redacted           bool           `parquet:"redacted"`
	State              *string        `parquet:"state,optional"`
	Country            *string        `parquet:"country,optional"`
	HashedIP           string         `parquet:"hashed_ip"`
	Header             pqWCHeader     `parquet:"header"`
}

// LMSYS-Chat-1M (lmsys/lmsys-chat-1m) schema.

type pqLMSYSTurn struct {
	Content string `parquet:"content"`
	Role    string `parquet:"role"`
}

type pqLMSYSRow struct {
	ConversationID   string         `parquet:"conversation_id"`
	Model            string         `parquet:"model"`
	Conversation     []pqLMSYSTurn  `parquet:"conversation,optional,list" parquet-element:",optional"`
	Turn             int64          `parquet:"turn"`
	Language         string         `parquet:"language"`
	OpenAIModeration []pqModeration `parquet:"openai_moderation,optional,list" parquet-element:",optional"`
	Redacted         bool           `parquet:"redacted"`
}

// pqSamples are the prompts and replies the built conversations are made of.
var pqSamples = []struct{ lang, user, assistant string }{
	{"English", "Write a haiku about autumn rain.", "Soft rain on maples,\nred leaves bow to the puddles —\nthe year exhales slow."},
	{"Chinese", "请用三句话解释量子纠缠。", "量子纠缠是两个粒子共享同一个量子态的现象。\n测量其中一个会立即决定另一个的结果。\n这并不能用来超光速传递信息。"},
	{"Russian", "Как приготовить борщ?", "Вот простой рецепт: свёкла, капуста, картофель, морковь и лук. Варите бульон, добавьте овощи и в конце — сметану."},
	{"Spanish", "¿Cuál es la diferencia entre \"ser\" y \"estar\"?", "\"Ser\" expresa rasgos permanentes; \"estar\", estados temporales o ubicación."},
	{"English", "Fix this Go code:\n```go\nfunc main() {\n\tfmt.Println(\"hi\"\n}\n```", "You are missing a closing parenthesis:\n```go\nfunc main() {\n\tfmt.Println(\"hi\")\n}\n```\nAlso import \"fmt\"."},
	{"French", "Peux-tu résumer « Le Petit Prince » ?", "Un aviateur échoué dans le désert rencontre un petit prince venu d'un astéroïde ; ensemble ils parlent d'amitié, d'amour et de ce qui est « invisible pour les yeux »."},
	{"German", "Was ist der Unterschied zwischen \"seit\" und \"seid\"?", "\"Seit\" ist eine Präposition der Zeit; \"seid\" ist eine Form von \"sein\" (ihr seid)."},
	{"Japanese", "東京でおすすめの観光地は？", "浅草寺、明治神宮、渋谷のスクランブル交差点、そして上野公園がおすすめです。"},
	{"English", "My name is NAME_1 and I live at ADDRESS_1. Can you write me a cover letter?", "Dear Hiring Manager,\n\nI am writing to apply for the position...\n\nSincerely,\nNAME_1"},
	{"Portuguese", "Qual é a capital da Austrália?", "A capital da Austrália é Camberra (Canberra)."},
	{"English", "Tabs\tand a control char \x01 and a backslash \\ in one prompt", "Noted: tab, \\u0001 and backslash."},
}

var (
	pqWCModels    = []string{"gpt-3.5-turbo-0301", "gpt-4-0314", "gpt-3.5-turbo-0613", "gpt-4-1106-preview"}
	pqLMSYSModels = []string{"vicuna-13b", "koala-13b", "alpaca-13b", "chatglm-6b", "llama-13b", "claude-1"}
	pqCountries   = []string{"United States", "China", "Russia", "Spain", "United States", "France", "Germany", "Japan", "United Kingdom", "Brazil"}
	pqAgents      = []string{
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/112.0.0.0 Safari/537.36",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.4 Safari/605.1.15",
		"Mozilla/5.0 (X11; Linux x86_64; rv:109.0) Gecko/20100101 Firefox/112.0",
	}
)

func pqHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:16])
}

func pqStr(s string) *string { return &s }

func pqScores(seed int) pqModScores {
	f := func(k int) float64 { return float64((seed*7919+k*104729)%100000) / 1e7 }
	return pqModScores{f(1), f(2), f(3), f(4), f(5), f(6), f(7), f(8), f(9), f(10), f(11)}
}

// pqWildChat makes n WildChat-shaped conversations. extra adds that many
// bytes of filler to each message (for the benchmark).
func pqWildChat(n, extra int) []pqWildChatRow {
	base := time.Date(2023, 4, 9, 0, 2, 53, 0, time.UTC)
	rows := make([]pqWildChatRow, n)
	filler := strings.Repeat("All work and no play makes Jack a dull boy. ", extra/44+1)[:extra]
	for i := range rows {
		first := pqSamples[i%len(pqSamples)]
		pairs := 1 + i%4
		r := pqWildChatRow{
			ConversationHash: pqHash(fmt.Sprintf("wildchat-%d", i)),
			Model:            pqWCModels[i%len(pqWCModels)],
			Timestamp:        base.Add(time.Duration(i)*97*time.Minute + time.Duration(i)*1234*time.Microsecond),
			Turn:             int64(pairs),
			Language:         first.lang,
			Toxic:            i%7 == 3,
			Redacted:         strings.Contains(first.user, "NAME_1"),
			HashedIP:         hex.EncodeToString([]byte(pqHash(fmt.Sprintf("ip-%d", i%13))))[:64],
			Header: pqWCHeader{
				AcceptLanguage: []string{"en-US,en;q=0.9", "zh-CN,zh;q=0.9", "ru-RU,ru;q=0.8,en;q=0.5", ""}[i%4],
				UserAgent:      pqAgents[i%len(pqAgents)],
			},
		}
		if i%5 != 0 {
			r.Country = pqStr(pqCountries[i%len(pqCountries)])
			r.State = pqStr([]string{"California", "Beijing", "Moscow", "Madrid", "Texas"}[i%5])
		}
		for k := range pairs {
			s := pqSamples[(i+k)%len(pqSamples)]
			user, reply := s.user, s.assistant
			if k > 0 {
				user = fmt.Sprintf("%s (follow-up %d)", user, k)
			}
			switch {
			case i == 3 && k == pairs-1:
				reply = "" // an empty reply, as some logs have
			case i == 5:
				reply = strings.Repeat(reply+" ", 40)
			}
			user += filler
			if reply != "" {
				reply += filler
			}
			at := r.Timestamp.Add(time.Duration(k) * time.Minute)
			tox := r.Toxic && k == 0
			r.Conversation = append(r.Conversation,
				pqWCTurn{Role: "user", Content: user, Language: s.lang, Toxic: tox, Redacted: r.Redacted, TurnIdentifier: int64(100000 + i*10 + k)},
				pqWCTurn{Role: "assistant", Content: reply, Language: s.lang, Timestamp: &at, TurnIdentifier: int64(100000 + i*10 + k)})
			for j := range 2 {
				m := pqModeration{CategoryScores: pqScores(i*100 + k*2 + j), Flagged: tox && j == 0}
				m.Categories.Harassment = m.Flagged
				m.Categories.Violence = m.Flagged && i%2 == 1
				r.OpenAIModeration = append(r.OpenAIModeration, m)
				sc := pqScores(i*100 + k*2 + j + 50)
				r.DetoxifyModeration = append(r.DetoxifyModeration, pqDetoxify{sc.Harassment, sc.Hate, sc.Sexual, sc.SelfHarm, sc.SexualMinors, sc.Violence, sc.HateThreatening})
			}
		}
		if i == 11 { // the user never got an answer
			r.Conversation = r.Conversation[:1]
			r.OpenAIModeration = r.OpenAIModeration[:1]
			r.DetoxifyModeration = r.DetoxifyModeration[:1]
		}
		rows[i] = r
	}
	return rows
}

func pqLMSYS(n int) []pqLMSYSRow {
	rows := make([]pqLMSYSRow, n)
	for i := range rows {
		first := pqSamples[(i*3)%len(pqSamples)]
		pairs := 1 + (i*5)%3
		r := pqLMSYSRow{
			ConversationID: pqHash(fmt.Sprintf("lmsys-%d", i)),
			Model:          pqLMSYSModels[i%len(pqLMSYSModels)],
			Turn:           int64(pairs),
			Language:       first.lang,
			Redacted:       strings.Contains(first.user, "NAME_1"),
		}
		for k := range pairs {
			s := pqSamples[(i*3+k)%len(pqSamples)]
			r.Conversation = append(r.Conversation, pqLMSYSTurn{Content: s.user, Role: "user"}, pqLMSYSTurn{Content: s.assistant, Role: "assistant"})
			for j := range 2 {
				m := pqModeration{CategoryScores: pqScores(i*10 + k*2 + j), Flagged: i%6 == 4 && j == 0}
				m.Categories.Sexual = m.Flagged
				r.OpenAIModeration = append(r.OpenAIModeration, m)
			}
		}
		rows[i] = r
	}
	return rows
}

func pqWrite[T any](tb testing.TB, path string, rows []T, opts ...parquet.WriterOption) {
	tb.Helper()
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	w := parquet.NewGenericWriter[T](f, opts...)
	if _, err := w.Write(rows); err != nil {
		tb.Fatal(err)
	}
	if err := errors.Join(w.Close(), f.Close()); err != nil {
		tb.Fatal(err)
	}
}

func TestParquetBuiltFixtures(t *testing.T) {
	if !*buildParquetFixtures {
		t.Skip("run with -build-parquet-fixtures to rewrite testdata/*_built.parquet")
	}
	pqWrite(t, pqWildChatFile, pqWildChat(20, 0), parquet.MaxRowsPerRowGroup(6), parquet.Compression(&snappy.Codec{}))
	pqWrite(t, pqLMSYSFile, pqLMSYS(15), parquet.MaxRowsPerRowGroup(4))
}

// pqReadAll reads every conversation of paths, failing on any error.
func pqReadAll(t testing.TB, opts Options, paths ...string) ([]conversation.Conversation, []File) {
	t.Helper()
	r, err := Open(paths, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var out []conversation.Conversation
	for {
		c, err := r.Next()
		if err == io.EOF {
			return out, r.Files()
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, *c)
	}
}

func pqRowGroups(t *testing.T, path string) int {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	pf, err := parquet.OpenFile(f, st.Size())
	if err != nil {
		t.Fatal(err)
	}
	return len(pf.RowGroups())
}

func pqCheckFixture(t *testing.T, path string) {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("%v (build it: go test ./host/dataset -run TestParquetBuiltFixtures -build-parquet-fixtures)", err)
	}
}

func TestParquetWildChat(t *testing.T) {
	pqCheckFixture(t, pqWildChatFile)
	want := pqWildChat(20, 0)
	if n := pqRowGroups(t, pqWildChatFile); n < 3 {
		t.Fatalf("fixture has %d row groups, want several", n)
	}
	convs, files := pqReadAll(t, Options{}, pqWildChatFile)
	if f := files[0]; f.Format != "wildchat" || f.Container != "parquet" || f.Records != 20 || f.Convs != 20 || f.Bad != 0 {
		t.Fatalf("file = %+v", f)
	}
	if len(convs) != len(want) {
		t.Fatalf("%d conversations, want %d", len(convs), len(want))
	}
	turns := 0
	for i, c := range convs {
		w := want[i]
		if c.ID != w.ConversationHash {
			t.Errorf("conv %d: ID %q, want %q", i, c.ID, w.ConversationHash)
		}
		if len(c.Turns) != len(w.Conversation) {
			t.Fatalf("conv %d: %d turns, want %d", i, len(c.Turns), len(w.Conversation))
		}
		turns += len(c.Turns)
		var country any
		if w.Country != nil {
			country = *w.Country
		}
		wantMeta := map[string]any{
			"model":     w.Model,
			"language":  w.Language,
			"country":   country,
			"toxic":     w.Toxic,
			"redacted":  w.Redacted,
			"hashed_ip": w.HashedIP,
			"turn":      float64(w.Turn),
			"timestamp": w.Timestamp.Format(time.RFC3339Nano),
			"header":    map[string]any{"accept-language": w.Header.AcceptLanguage, "user-agent": w.Header.UserAgent},
		}
		for k, v := range wantMeta {
			if !reflect.DeepEqual(c.Meta[k], v) {
				t.Errorf("conv %d: Meta[%q] = %#v, want %#v", i, k, c.Meta[k], v)
			}
		}
		if mods, _ := c.Meta["openai_moderation"].([]any); len(mods) != len(w.OpenAIModeration) {
			t.Errorf("conv %d: openai_moderation = %v", i, c.Meta["openai_moderation"])
		} else if cat := mods[0].(map[string]any)["categories"].(map[string]any); cat["harassment"] != w.OpenAIModeration[0].Categories.Harassment {
			t.Errorf("conv %d: openai_moderation[0].categories = %v", i, cat)
		}
		if d, _ := c.Meta["detoxify_moderation"].([]any); len(d) != len(w.DetoxifyModeration) {
			t.Errorf("conv %d: detoxify_moderation = %v", i, c.Meta["detoxify_moderation"])
		}
		for k, turn := range c.Turns {
			wt := w.Conversation[k]
			if turn.Role != wt.Role || turn.Content != wt.Content {
				t.Errorf("conv %d turn %d = %s %q, want %s %q", i, k, turn.Role, turn.Content, wt.Role, wt.Content)
			}
			var ts any
			if wt.Timestamp != nil {
				ts = wt.Timestamp.Format(time.RFC3339Nano)
			}
			wantTurn := map[string]any{"language": wt.Language, "toxic": wt.Toxic, "redacted": wt.Redacted,
				"turn_identifier": float64(wt.TurnIdentifier), "timestamp": ts}
			if !reflect.DeepEqual(turn.Meta, wantTurn) {
				t.Errorf("conv %d turn %d: Meta = %v, want %v", i, k, turn.Meta, wantTurn)
			}
		}
	}
	if turns != 93 {
		t.Errorf("%d turns in all, want 93", turns)
	}
	// Microseconds survive: conversation 1 is at 00:02:53 plus 97 min and 1234 µs.
	if got := convs[1].Meta["timestamp"]; got != "2023-04-09T01:39:53.001234Z" {
		t.Errorf("timestamp = %v", got)
	}
}

func TestParquetLMSYS(t *testing.T) {
	pqCheckFixture(t, pqLMSYSFile)
	want := pqLMSYS(15)
	if n := pqRowGroups(t, pqLMSYSFile); n < 3 {
		t.Fatalf("fixture has %d row groups, want several", n)
	}
	convs, files := pqReadAll(t, Options{}, pqLMSYSFile)
	if f := files[0]; f.Format != "lmsys" || f.Container != "parquet" || f.Convs != 15 {
		t.Fatalf("file = %+v", f)
	}
	if len(convs) != len(want) {
		t.Fatalf("%d conversations, want %d", len(convs), len(want))
	}
	turns := 0
	for i, c := range convs {
		w := want[i]
		turns += len(c.Turns)
		if c.ID != w.ConversationID || len(c.Turns) != len(w.Conversation) {
			t.Fatalf("conv %d: %s with %d turns, want %s with %d", i, c.ID, len(c.Turns), w.ConversationID, len(w.Conversation))
		}
		for k, turn := range c.Turns {
			if turn.Role != w.Conversation[k].Role || turn.Content != w.Conversation[k].Content || turn.Meta != nil {
				t.Errorf("conv %d turn %d = %+v", i, k, turn)
			}
		}
		for k, v := range map[string]any{"model": w.Model, "language": w.Language, "turn": float64(w.Turn), "redacted": w.Redacted} {
			if c.Meta[k] != v {
				t.Errorf("conv %d: Meta[%q] = %#v, want %#v", i, k, c.Meta[k], v)
			}
		}
		mods := c.Meta["openai_moderation"].([]any)
		m0 := mods[0].(map[string]any)
		if len(mods) != len(w.OpenAIModeration) || m0["flagged"] != w.OpenAIModeration[0].Flagged ||
			m0["categories"].(map[string]any)["sexual"] != w.OpenAIModeration[0].Categories.Sexual ||
			m0["category_scores"].(map[string]any)["hate"] != w.OpenAIModeration[0].CategoryScores.Hate {
			t.Errorf("conv %d: openai_moderation[0] = %v", i, m0)
		}
	}
	if turns != 60 {
		t.Errorf("%d turns in all, want 60", turns)
	}
}

// TestParquetRoundTrip converts a real JSONL dataset to Parquet and reads it
// back.
func TestParquetRoundTrip(t *testing.T) {
	src := "../../../shared/data/chatbot-arena/chatbot_arena_messages.jsonl"
	if _, err := os.Stat(src); err != nil {
		t.Skipf("real data not here: %v", err)
	}
	orig, _ := pqReadAll(t, Options{}, src)
	out := filepath.Join(t.TempDir(), "arena.parquet")
	w, err := NewWriter(out, "parquet")
	if err != nil {
		t.Fatal(err)
	}
	for i := range orig {
		if err := w.Write(&orig[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	back, files := pqReadAll(t, Options{}, out)
	if f := files[0]; f.Format != "valuescope" || f.Container != "parquet" || f.Bad != 0 {
		t.Fatalf("file = %+v", f)
	}
	if len(back) != len(orig) {
		t.Fatalf("read back %d conversations, wrote %d", len(back), len(orig))
	}
	for i := range orig {
		a, _ := json.Marshal(orig[i], json.Deterministic(true))
		b, _ := json.Marshal(back[i], json.Deterministic(true))
		if !bytes.Equal(a, b) {
			t.Fatalf("conversation %d differs:\nwrote %s\nread  %s", i, a, b)
		}
	}
	t.Logf("%d conversations round-tripped", len(orig))

	// The same through the built WildChat file: nested meta survives too.
	wc, _ := pqReadAll(t, Options{}, pqWildChatFile)
	out = filepath.Join(t.TempDir(), "wildchat.parquet")
	if w, err = NewWriter(out, "parquet"); err != nil {
		t.Fatal(err)
	}
	for i := range wc {
		if err := w.Write(&wc[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	back, _ = pqReadAll(t, Options{}, out)
	if !reflect.DeepEqual(back, wc) {
		t.Fatalf("WildChat round trip differs")
	}
}

func TestParquetBadRows(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.parquet")
	rows := pqLMSYS(4)
	rows[1].Conversation[0].Role = "narrator"
	rows[2].Conversation = nil
	pqWrite(t, path, rows)
	r, err := Open([]string{path}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var got []string
	for {
		c, err := r.Next()
		if err == io.EOF {
			break
		}
		var bad *BadRecord
		switch {
		case errors.As(err, &bad):
			if !bad.Parquet || bad.File != path {
				t.Errorf("location = %+v", bad.Location)
			}
			got = append(got, bad.Error())
		case err != nil:
			t.Fatal(err)
		default:
			got = append(got, c.ID)
		}
	}
	want := []string{
		rows[0].ConversationID,
		path + `: row 1: conversation[0]: unknown role "narrator" (known: user/human, assistant/gpt/model, system, tool/function)`,
		path + ": row 2: conversation has no turns",
		rows[3].ConversationID,
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestParquetCorrupt(t *testing.T) {
	pqCheckFixture(t, pqWildChatFile)
	data, err := os.ReadFile(pqWildChatFile)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	mangled := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// fatal reads path to the end and returns the damage set aside, or a
	// fatal error.
	fatal := func(path string) error { return pqFatal(t, path) }
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"truncated.parquet", data[:len(data)/2]},
		{"magic-only.parquet", []byte("PAR1")},
		{"garbage-footer.parquet", append(append([]byte("PAR1"), bytes.Repeat([]byte{0xAB}, 100)...), 50, 0, 0, 0, 'P', 'A', 'R', '1')},
	} {
		path := mangled(tc.name, tc.data)
		err := fatal(path)
		t.Logf("%s: %v", tc.name, err)
		if err == io.EOF || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "parquet") {
			t.Errorf("%s: error %v, want the damage set aside, naming the file", tc.name, err)
		}
	}
	// Damage inside the data pages: reading must set the damaged part aside
	// with an error naming the file (or, if the damage hit bytes nothing
	// checks, end normally), never panic.
	for _, off := range []int{len(data) / 4, len(data) / 3, len(data) / 2} {
		b := bytes.Clone(data)
		for i := range 64 {
			b[off+i] ^= 0x5A
		}
		path := mangled(fmt.Sprintf("damaged-%d.parquet", off), b)
		err := fatal(path)
		t.Logf("damaged at %d: %v", off, err)
		if err != io.EOF && !strings.Contains(err.Error(), path) {
			t.Errorf("damaged at %d: error %v does not name the file", off, err)
		}
	}
}

// TestParquetHostile reads files whose metadata declares sizes that
// parquet-go would allocate, loop on or recurse into before checking them,
// some found by FuzzParquet: each must fail with an error naming the file, in
// normal test time and memory. Before checkParquetFooter and pageScanner they
// asked for 128 MiB to 200 GiB: the footer list and LZ4_RAW cases killed the
// process (out of memory), the deep schema took 28 s and 7 GB.
func TestParquetHostile(t *testing.T) {
	pqCheckFixture(t, pqWildChatFile)
	wildchat, err := os.ReadFile(pqWildChatFile) // snappy, CRCs
	if err != nil {
		t.Fatal(err)
	}
	lmsys, err := os.ReadFile(pqLMSYSFile) // uncompressed, data page v2
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	written := func(name string, opts ...parquet.WriterOption) []byte {
		p := filepath.Join(dir, name)
		pqWrite(t, p, pqLMSYS(3), opts...)
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	lz4Raw := written("lz4.parquet", parquet.Compression(&parquet.Lz4Raw))
	zstdFile := written("zstd.parquet", parquet.Compression(&zstd.Codec{}))

	// A rewrite that changes nothing must read as before.
	same := pqPatchPage(t, wildchat, 0, func(h *format.PageHeader, body []byte) []byte { return body })
	if p := filepath.Join(dir, "same.parquet"); os.WriteFile(p, same, 0o644) != nil {
		t.Fatal("write")
	} else if convs, _ := pqReadAll(t, Options{}, p); len(convs) != 20 {
		t.Fatalf("rewritten fixture: %d conversations, want 20", len(convs))
	}

	footerOnly := func(footer []byte) []byte {
		b := append([]byte("PAR1"), footer...)
		b = binary.LittleEndian.AppendUint32(b, uint32(len(footer)))
		return append(b, "PAR1"...)
	}
	withMeta := func(data []byte, edit func(*format.FileMetaData)) []byte {
		body, meta := pqFooter(t, data)
		edit(meta)
		return pqAssemble(t, body, meta)
	}
	// A schema of n leaves under the root, or a chain n groups deep.
	wide := func(n int) []format.SchemaElement {
		s := []format.SchemaElement{{Name: "root", NumChildren: thrift.New(int32(n))}}
		for i := range n {
			s = append(s, format.SchemaElement{Name: strconv.Itoa(i), Type: thrift.New(format.Int32)})
		}
		return s
	}
	deep := func(n int) []format.SchemaElement {
		var s []format.SchemaElement
		for i := range n {
			s = append(s, format.SchemaElement{Name: strconv.Itoa(i), NumChildren: thrift.New(int32(1))})
		}
		return append(s, format.SchemaElement{Name: "leaf", Type: thrift.New(format.Int32)})
	}
	zstdBomb := []byte{0x28, 0xb5, 0x2f, 0xfd, 0xe0, 0, 0, 0, 0, 2, 0, 0, 0, 0x09, 0, 0, 'x'} // content size 8 GiB

	for _, tc := range []struct {
		name, want string
		data       []byte
	}{
		{"footer-length", "footer length", func() []byte { // fuzz: 128 MiB
			b := bytes.Clone(wildchat)
			binary.LittleEndian.PutUint32(b[len(b)-8:], 0x7ffffff)
			return b
		}()},
		// FileMetaData.schema: a list of 2^31-1 structs.
		{"footer-list", "elements declared", footerOnly([]byte{0x29, 0xfc, 0xff, 0xff, 0xff, 0xff, 0x07, 0})},
		{"footer-nesting", "nested over", footerOnly(append(bytes.Repeat([]byte{0x1c}, 200), make([]byte, 201)...))},
		{"schema-depth", "schema nested", withMeta(lmsys, func(m *format.FileMetaData) {
			m.Schema, m.RowGroups = deep(30000), nil // parquet-go: 450M path strings
		})},
		{"leaves-by-row-groups", "column chunks for 20000 columns", withMeta(lmsys, func(m *format.FileMetaData) {
			m.Schema = wide(20000) // parquet-go: 20000 × 20000 chunk pointers
			m.RowGroups = make([]format.RowGroup, 20000)
		})},
		{"chunk-outside", "outside the data", withMeta(wildchat, func(m *format.FileMetaData) {
			m.RowGroups[1].Columns[3].MetaData.DataPageOffset = 1 << 40
			m.RowGroups[1].Columns[3].MetaData.DictionaryPageOffset = 0
		})},
		{"page-statistics-length", "bytes declared", pqPatchStatsLength(t, wildchat)}, // fuzz: 256 MiB
		{"page-size", "bytes declared, ", pqPatchPage(t, lmsys, 1, func(h *format.PageHeader, body []byte) []byte {
			h.CompressedPageSize = 1<<31 - 1
			return body
		})},
		{"page-uncompressed-size", "over the limit", pqPatchPage(t, wildchat, 1, func(h *format.PageHeader, body []byte) []byte {
			h.UncompressedPageSize = 1<<31 - 1
			return body
		})},
		{"page-values", "values declared", pqPatchPage(t, lmsys, 2, func(h *format.PageHeader, body []byte) []byte {
			h.DataPageHeaderV2.V.NumValues = 1<<31 - 1
			return body
		})},
		{"snappy-length", "SNAPPY data: decodes to 4294967295 bytes", pqPatchPage(t, wildchat, 1, func(h *format.PageHeader, body []byte) []byte {
			h.CRC = 0
			copy(body, []byte{0xff, 0xff, 0xff, 0xff, 0x0f})
			return body
		})},
		{"lz4-garbage", "LZ4_RAW data", pqPatchPage(t, lz4Raw, 1, func(h *format.PageHeader, body []byte) []byte {
			h.CRC = 0
			return bytes.Repeat([]byte{0xff}, len(body))
		})},
		{"zstd-content-size", "ZSTD data: frame declares", pqPatchPage(t, zstdFile, 1, func(h *format.PageHeader, body []byte) []byte {
			h.CRC = 0
			return append(bytes.Clone(zstdBomb), bytes.Repeat([]byte{'x'}, 1<<16)...)
		})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, tc.name+".parquet")
			if err := os.WriteFile(path, tc.data, 0o644); err != nil {
				t.Fatal(err)
			}
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			start := time.Now()
			err := pqFatal(t, path)
			elapsed := time.Since(start)
			runtime.ReadMemStats(&after)
			t.Logf("%v in %v, %d MiB allocated", err, elapsed, (after.TotalAlloc-before.TotalAlloc)>>20)
			if err == io.EOF || !strings.Contains(err.Error(), path+": ") || !strings.Contains(err.Error(), "parquet: ") ||
				!strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one naming the file and saying %q", err, tc.want)
			}
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 64<<20 {
				t.Errorf("allocated %d MiB", alloc>>20)
			}
			if elapsed > 5*time.Second {
				t.Errorf("took %v", elapsed)
			}
		})
	}
}

// TestParquetCodecs reads files written with every codec parquet-go
// supports, in both data page versions and several pages to a column chunk,
// through the checks of pageScanner.
func TestParquetCodecs(t *testing.T) {
	dir := t.TempDir()
	rows := pqLMSYS(15)
	for _, codec := range []compress.Codec{&parquet.Uncompressed, &parquet.Snappy, &parquet.Gzip,
		&parquet.Brotli, &parquet.Zstd, &parquet.Lz4Raw} {
		for _, version := range []int{1, 2} {
			path := filepath.Join(dir, fmt.Sprintf("%s-v%d.parquet", codec, version))
			f, err := os.Create(path)
			if err != nil {
				t.Fatal(err)
			}
			w := parquet.NewGenericWriter[pqLMSYSRow](f, parquet.Compression(codec), parquet.DataPageVersion(version),
				parquet.MaxRowsPerRowGroup(8), parquet.PageBufferSize(256))
			for i := range rows { // a row at a time, so that pages are cut
				if _, err := w.Write(rows[i : i+1]); err != nil {
					t.Fatal(err)
				}
			}
			if err := errors.Join(w.Close(), f.Close()); err != nil {
				t.Fatal(err)
			}
			if convs, _ := pqReadAll(t, Options{}, path); len(convs) != 15 {
				t.Errorf("%s: %d conversations, want 15", path, len(convs))
			}
		}
	}
}

// pqFatal reads path to the end and returns the first damage the reader set
// aside (a *BadRecord with Damaged), or the fatal error that stopped it, or
// io.EOF when there was neither.
func pqFatal(t *testing.T, path string) error {
	t.Helper()
	r, err := Open([]string{path}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var damage error
	for {
		_, err := r.Next()
		var bad *BadRecord
		switch {
		case err == nil:
		case errors.As(err, &bad):
			if bad.Damaged && damage == nil {
				damage = err
			}
		case err == io.EOF && damage != nil:
			return damage
		default:
			return err
		}
	}
}

// pqFooter splits a Parquet file into what precedes its footer and the
// footer, decoded.
func pqFooter(t *testing.T, data []byte) ([]byte, *format.FileMetaData) {
	t.Helper()
	n := int(binary.LittleEndian.Uint32(data[len(data)-8:]))
	meta := new(format.FileMetaData)
	if err := thrift.Unmarshal(new(thrift.CompactProtocol), data[len(data)-8-n:len(data)-8], meta); err != nil {
		t.Fatal(err)
	}
	return data[:len(data)-8-n], meta
}

// pqAssemble appends the footer meta to body.
func pqAssemble(t *testing.T, body []byte, meta *format.FileMetaData) []byte {
	t.Helper()
	footer, err := thrift.Marshal(new(thrift.CompactProtocol), meta)
	if err != nil {
		t.Fatal(err)
	}
	b := append(bytes.Clone(body), footer...)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(footer)))
	return append(b, "PAR1"...)
}

// pqFirstPage returns where the first page of column col of row group 0
// starts in data, its header and the header's length.
func pqFirstPage(t *testing.T, data []byte, meta *format.FileMetaData, col int) (int64, *format.PageHeader, int64) {
	t.Helper()
	start := chunkStart(&meta.RowGroups[0].Columns[col].MetaData)
	r := bytes.NewReader(data[start:])
	h := new(format.PageHeader)
	if err := thrift.NewDecoder(new(thrift.CompactProtocol).NewReader(r)).Decode(h); err != nil {
		t.Fatal(err)
	}
	return start, h, int64(len(data[start:]) - r.Len())
}

// pqPatchPage rewrites the first page of column col in row group 0 of a
// Parquet file: patch edits its header and returns its new body; the offsets
// in the footer follow.
func pqPatchPage(t *testing.T, data []byte, col int, patch func(h *format.PageHeader, body []byte) []byte) []byte {
	t.Helper()
	body, meta := pqFooter(t, data)
	start, h, n := pqFirstPage(t, body, meta, col)
	end := start + n + int64(h.CompressedPageSize)
	page := patch(h, bytes.Clone(body[start+n:end]))
	header, err := thrift.Marshal(new(thrift.CompactProtocol), h)
	if err != nil {
		t.Fatal(err)
	}
	out := append(append(append(bytes.Clone(body[:start]), header...), page...), body[end:]...)
	delta := int64(len(header)+len(page)) - (end - start)
	meta.RowGroups[0].Columns[col].MetaData.TotalCompressedSize += delta
	for g := range meta.RowGroups {
		for c := range meta.RowGroups[g].Columns {
			m := &meta.RowGroups[g].Columns[c].MetaData
			for _, off := range []*int64{&m.DataPageOffset, &m.DictionaryPageOffset} {
				if *off > start {
					*off += delta
				}
			}
		}
	}
	return pqAssemble(t, out, meta)
}

// pqPatchStatsLength makes the length of a statistics value in the first
// page header of the WildChat "model" column 2^28-1, as FuzzParquet did.
func pqPatchStatsLength(t *testing.T, data []byte) []byte {
	t.Helper()
	data = bytes.Clone(data)
	body, meta := pqFooter(t, data)
	start, h, n := pqFirstPage(t, body, meta, 1)
	v := h.DataPageHeaderV2.V.Statistics.MaxValue
	if !h.DataPageHeaderV2.Valid || len(v) < 4 {
		t.Fatalf("no statistics to patch in %+v", h)
	}
	i := bytes.Index(data[start:start+n], v)
	if i < 1 {
		t.Fatal("statistics value not found")
	}
	copy(data[start+int64(i)-1:], []byte{0xff, 0xff, 0xff, 0x7f})
	return data
}

// TestParquetRowJSON checks the row-to-JSON conversion on the Parquet types
// no chat dataset happens to use.
func TestParquetRowJSON(t *testing.T) {
	type inner struct {
		A int32   `parquet:"a"`
		B *string `parquet:"b,optional"`
	}
	type row struct {
		Date    int32             `parquet:"date,date"`
		Dec     int64             `parquet:"dec,decimal(2:18)"`
		U       [16]byte          `parquet:"u,uuid"`
		F32     float32           `parquet:"f32"`
		U32     uint32            `parquet:"u32"`
		Tags    []string          `parquet:"tags"`
		Opt     []*int64          `parquet:"opt,list"`
		Nested  [][]int32         `parquet:"nested,list"`
		Counts  map[string]int64  `parquet:"counts"`
		ByID    map[int32]string  `parquet:"by_id"`
		In      *inner            `parquet:"in,optional"`
		Ins     []inner           `parquet:"ins"`
		Meta    string            `parquet:"meta"`
		Raw     []byte            `parquet:"raw"`
		JS      string            `parquet:"js,json"`
		Empty   map[string]string `parquet:"empty"`
		Nothing []int64           `parquet:"nothing,list"`
	}
	one := int64(1)
	rows := []row{{
		Date: 19456, Dec: -12345, U: [16]byte{0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0, 1, 2, 3, 4, 5, 6, 7, 8},
		F32: 0.1, U32: 4000000000,
		Tags:   []string{"a", "b\"c"},
		Opt:    []*int64{&one, nil},
		Nested: [][]int32{{1, 2}, {}, {3}},
		Counts: map[string]int64{"x": 1},
		ByID:   map[int32]string{7: "seven"},
		In:     &inner{A: 1},
		Ins:    []inner{{A: 2, B: pqStr("β")}, {A: 3}},
		Meta:   `{"k":[1,2]}`,
		Raw:    []byte("\xff\x00"),
		JS:     `{"j":true}`,
	}, {Meta: "not json", JS: "oops"}}
	path := filepath.Join(t.TempDir(), "types.parquet")
	pqWrite(t, path, rows)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	src, err := openParquet(f, path)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`{"date":"2023-04-09","dec":-123.45,"u":"12345678-9abc-def0-0102-030405060708","f32":0.1,"u32":4000000000,` +
			`"tags":["a","b\"c"],"opt":[1,null],"nested":[[1,2],[],[3]],"counts":{"x":1},"by_id":{"7":"seven"},` +
			`"in":{"a":1,"b":null},"ins":[{"a":2,"b":"β"},{"a":3,"b":null}],"meta":{"k":[1,2]},"raw":"` + "\xff" + `\u0000",` +
			`"js":{"j":true},"empty":{},"nothing":[]}`,
		`{"date":"1970-01-01","dec":0.00,"u":"00000000-0000-0000-0000-000000000000","f32":0,"u32":0,` +
			`"tags":[],"opt":[],"nested":[],"counts":{},"by_id":{},"in":null,"ins":[],"meta":"not json","raw":"","js":"oops","empty":{},"nothing":[]}`,
	}
	for i, w := range want {
		rec, err := src.next()
		if err != nil {
			t.Fatal(err)
		}
		data, err := rec.parquet.json()
		if err != nil {
			t.Fatal(err)
		}
		if string(data) != w {
			t.Errorf("row %d:\n got %s\nwant %s", i, data, w)
		}
		if rec.loc != (Location{File: path, Record: int64(i + 1), Parquet: true}) {
			t.Errorf("row %d: location %+v", i, rec.loc)
		}
	}
	if _, err := src.next(); err != io.EOF {
		t.Fatalf("after the rows: %v", err)
	}
}

// BenchmarkParquetRead reads built WildChat- and LMSYS-shaped files of a few
// thousand conversations (messages of realistic length) two ways, in the
// same run: with parquet-go alone, as its user would (a GenericReader
// filling the layout's Go struct, every column decoded: the baseline), and
// as conversations through Open; ratio reads both in turn and reports the
// reader's time over parquet-go's:
//
//	go test -run XXX -bench ParquetRead -benchmem ./host/dataset/
func BenchmarkParquetRead(b *testing.B) {
	const n = 3000
	dir := b.TempDir()
	wildchat := filepath.Join(dir, "wildchat.parquet")
	pqWrite(b, wildchat, pqWildChat(n, 600), parquet.MaxRowsPerRowGroup(500), parquet.Compression(&snappy.Codec{}))
	// LMSYS-Chat-1M's messages average 69.5 tokens a prompt and 214.5 a
	// reply (Zheng et al. 2023, table 1): about 280 and 860 bytes. The
	// fixture's are a few dozen bytes; "lmsys-short" keeps them so.
	lmsys := filepath.Join(dir, "lmsys.parquet")
	rows := pqLMSYS(n)
	filler := strings.Repeat("All work and no play makes Jack a dull boy. ", 20)
	for i := range rows {
		for k := range rows[i].Conversation {
			m := &rows[i].Conversation[k]
			if m.Role == "user" {
				m.Content += filler[:max(0, 280-len(m.Content))]
			} else {
				m.Content += filler[:max(0, 860-len(m.Content))]
			}
		}
	}
	pqWrite(b, lmsys, rows, parquet.MaxRowsPerRowGroup(500), parquet.Compression(&snappy.Codec{}))
	short := filepath.Join(dir, "lmsys-short.parquet")
	pqWrite(b, short, pqLMSYS(n), parquet.MaxRowsPerRowGroup(500), parquet.Compression(&snappy.Codec{}))
	benchParquetLayout[pqWildChatRow](b, "wildchat", wildchat, n)
	benchParquetLayout[pqLMSYSRow](b, "lmsys", lmsys, n)
	benchParquetLayout[pqLMSYSRow](b, "lmsys-short", short, n)
}

func benchParquetLayout[T any](b *testing.B, name, path string, n int) {
	st, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	batch := make([]T, parquetBatch)
	// parquet-go alone, as its user reads a file: into the layout's struct.
	baseline := func(b *testing.B) {
		f, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		r := parquet.NewGenericReader[T](f)
		defer r.Close()
		rows := 0
		for {
			k, err := r.Read(batch)
			rows += k
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
		}
		if rows != n {
			b.Fatalf("%d rows", rows)
		}
	}
	reader := func(b *testing.B) {
		r, err := Open([]string{path}, Options{})
		if err != nil {
			b.Fatal(err)
		}
		defer r.Close()
		convs := 0
		for ; ; convs++ {
			if _, err := r.Next(); err == io.EOF {
				break
			} else if err != nil {
				b.Fatal(err)
			}
		}
		if convs != n {
			b.Fatalf("%d conversations", convs)
		}
	}
	for _, c := range []struct {
		name string
		read func(*testing.B)
	}{{"parquet-go", baseline}, {"reader", reader}} {
		b.Run(name+"/"+c.name, func(b *testing.B) {
			b.SetBytes(st.Size())
			b.ReportAllocs()
			for b.Loop() {
				c.read(b)
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "conversations/s")
		})
	}
	// The ratio, from the two read in turn in each iteration, so that a
	// machine busy with other work slows both alike.
	b.Run(name+"/ratio", func(b *testing.B) {
		var tb, tr time.Duration
		for b.Loop() {
			start := time.Now()
			baseline(b)
			mid := time.Now()
			reader(b)
			tb, tr = tb+mid.Sub(start), tr+time.Since(mid)
		}
		b.ReportMetric(float64(tr)/float64(tb), "reader/parquet-go")
	})
}

// TestParquetStreaming writes and reads back about 160 MB of conversations:
// the writer cuts row groups by size and the reader holds one batch of rows,
// so neither holds the file in memory.
func TestParquetStreaming(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 160 MB")
	}
	const size = 160 << 20
	path := filepath.Join(t.TempDir(), "big.parquet")
	w, err := NewWriter(path, "parquet")
	if err != nil {
		t.Fatal(err)
	}
	var ms runtime.MemStats
	var peakWrite uint64
	filler := strings.Repeat("The quick brown fox jumps over the lazy dog. ", 40)
	n := 0
	for written := 0; written < size; n++ {
		s := pqSamples[n%len(pqSamples)]
		c := conversation.Conversation{ID: fmt.Sprintf("c%d", n), Source: "big", Meta: map[string]any{"i": float64(n)},
			Turns: []conversation.Turn{
				{Role: "user", Content: fmt.Sprintf("%d %s %s", n, s.user, filler)},
				{Role: "assistant", Content: fmt.Sprintf("%s %d %s", s.assistant, n, filler), Meta: map[string]any{"language": s.lang}},
			}}
		if err := w.Write(&c); err != nil {
			t.Fatal(err)
		}
		written += c.Bytes()
		if n%1000 == 0 {
			runtime.ReadMemStats(&ms)
			peakWrite = max(peakWrite, ms.HeapAlloc)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	// Twice: the writer's pooled buffers survive one collection (sync.Pool's
	// victim cache), and the heap goal after it, twice what is live, would
	// let garbage alone pass the limit below.
	runtime.GC()
	runtime.GC()
	r, err := Open([]string{path}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var peakRead uint64
	for i := 0; ; i++ {
		c, err := r.Next()
		if err == io.EOF {
			if i != n {
				t.Fatalf("read %d conversations, wrote %d", i, n)
			}
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf("c%d", i); c.ID != want || c.Meta["i"] != float64(i) || c.Turns[1].Meta["language"] == nil {
			t.Fatalf("conversation %d: %s %v", i, c.ID, c.Meta)
		}
		if i%1000 == 0 {
			runtime.ReadMemStats(&ms)
			peakRead = max(peakRead, ms.HeapAlloc)
		}
	}
	st, _ := os.Stat(path)
	groups := pqRowGroups(t, path)
	t.Logf("%d conversations, %d MiB of text, %d MiB file in %d row groups; peak heap writing %d MiB, reading %d MiB",
		n, size>>20, st.Size()>>20, groups, peakWrite>>20, peakRead>>20)
	if groups < 2 {
		t.Errorf("%d row groups: the writer did not cut them by size", groups)
	}
	if peakRead > 64<<20 {
		t.Errorf("peak heap %d MiB reading: the reader is not streaming", peakRead>>20)
	}
	if peakWrite > 256<<20 {
		t.Errorf("peak heap %d MiB writing: row groups are not bounded", peakWrite>>20)
	}
}
