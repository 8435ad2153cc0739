package export

import (
	"context"
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"
	"github.com/valuescope/valuescope/host/store"
)

// fixture builds a store with three stages (position order differs from name
// order) and four conversations:
//
//	c1: every stage run, bucket failed; metadata of every kind, with a key
//	    "value" that collides with a fixed column
//	c2: awkward text everywhere (unicode, commas, quotes, newlines)
//	c3: no metadata; only lang ran (dropped by a filter)
//	c4: lang failed
func fixture(t testing.TB) *store.Store {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(filepath.Join(t.TempDir(), "run.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := st.SetStages([]store.Stage{{Name: "lang", Fingerprint: "a"}, {Name: "values", Fingerprint: "b"}, {Name: "bucket", Fingerprint: "c"}}); err != nil {
		t.Fatal(err)
	}
	c1 := store.Conversation{Seq: 0, ID: "c1", Source: "a.jsonl", ContentSHA: "s1",
		MetaJSON: `{"list":[1,2],"model":"gpt-4","nested":{"x":1},"nothing":null,"score":0.5,"tags":["x"],"toxic":false,"turns":3,"value":"v!"}`}
	c2 := store.Conversation{Seq: 1, ID: "c2,\"x\"\nnew", Source: "b.jsonl", ContentSHA: "s2",
		MetaJSON: `{"big":12345678901234567890,"flag":true,"model":"日本語, \"q\"\nline","note":""}`}
	c3 := store.Conversation{Seq: 2, ID: "c3", Source: "a.jsonl", ContentSHA: "s3"}
	c4 := store.Conversation{Seq: 3, ID: "c4", Source: "a.jsonl", ContentSHA: "s4", MetaJSON: `{"tags":"y","turns":10}`}
	label := func(f, v string) store.Annotation { return store.Annotation{Field: f, Value: v, IsLabel: true} }
	batch := []store.Result{
		// Written out of stage order: the export orders by stage position.
		{Conv: c1, Stage: "bucket", Err: "boom: timeout"},
		{Conv: c1, Stage: "values", Items: []store.Annotation{
			{Field: "value", Value: "honesty", AttrsJSON: `{"evidence":"said \"truth\", twice"}`},
			{Field: "value", Value: "care"},
		}},
		{Conv: c1, Stage: "lang", Items: []store.Annotation{label("language", "en")}},
		{Conv: c2, Stage: "bucket", Items: []store.Annotation{label("bucket", "b1")}},
		{Conv: c2, Stage: "lang", Items: []store.Annotation{label("language", "ja")}},
		{Conv: c2, Stage: "values", Items: []store.Annotation{
			{Field: "value", Value: "誠実, \"honest\"\nline2", AttrsJSON: `{"k":[1,2]}`},
		}},
		{Conv: c3, Stage: "lang", Items: []store.Annotation{label("language", "fr")}},
		{Conv: c4, Stage: "lang", Err: "bad, \"very\"\nbad"},
	}
	if err := st.Write(ctx, batch); err != nil {
		t.Fatal(err)
	}
	if err := st.AddBadRecords(ctx, []store.BadRecord{
		{File: "b.jsonl", Record: 7, Line: 9, Reason: "invalid JSON: unexpected , at col 3"},
		{File: "a.jsonl", Record: 2, Line: 2, Reason: `missing "id"`},
	}); err != nil {
		t.Fatal(err)
	}
	return st
}

var (
	wantMeta = []string{"big", "flag", "model", "note", "score", "tags", "toxic", "turns", "meta.value"}

	// metadata of each conversation as written in CSV; nil: null in Parquet
	c1Meta = []any{nil, nil, "gpt-4", nil, "0.5", nil, "false", "3", "v!"}
	c2Meta = []any{"12345678901234567890", "true", "日本語, \"q\"\nline", "", nil, nil, nil, nil, nil}
	c3Meta = []any{nil, nil, nil, nil, nil, nil, nil, nil, nil}
	c4Meta = []any{nil, nil, nil, nil, nil, "y", nil, "10", nil}

	wantAnnotations = [][]any{
		row([]any{"c1", "a.jsonl", "lang", "language", "en", "label", ""}, c1Meta),
		row([]any{"c1", "a.jsonl", "values", "value", "honesty", "item", `{"evidence":"said \"truth\", twice"}`}, c1Meta),
		row([]any{"c1", "a.jsonl", "values", "value", "care", "item", ""}, c1Meta),
		row([]any{"c2,\"x\"\nnew", "b.jsonl", "lang", "language", "ja", "label", ""}, c2Meta),
		row([]any{"c2,\"x\"\nnew", "b.jsonl", "values", "value", "誠実, \"honest\"\nline2", "item", `{"k":[1,2]}`}, c2Meta),
		row([]any{"c2,\"x\"\nnew", "b.jsonl", "bucket", "bucket", "b1", "label", ""}, c2Meta),
		row([]any{"c3", "a.jsonl", "lang", "language", "fr", "label", ""}, c3Meta),
	}
	wantConversations = [][]any{
		row([]any{"c1", "a.jsonl", "ok", "ok", "error"}, c1Meta),
		row([]any{"c2,\"x\"\nnew", "b.jsonl", "ok", "ok", "ok"}, c2Meta),
		row([]any{"c3", "a.jsonl", "ok", "", ""}, c3Meta),
		row([]any{"c4", "a.jsonl", "error", "", ""}, c4Meta),
	}
	wantErrors = [][]string{
		{"kind", "conversation_id", "source", "stage", "line", "record", "error"},
		{"stage", "c1", "a.jsonl", "bucket", "", "", "boom: timeout"},
		{"stage", "c4", "a.jsonl", "lang", "", "", "bad, \"very\"\nbad"},
		{"bad_record", "", "a.jsonl", "", "2", "2", `missing "id"`},
		{"bad_record", "", "b.jsonl", "", "9", "7", "invalid JSON: unexpected , at col 3"},
	}
)

func row(fixed, meta []any) []any { return append(slices.Clip(fixed), meta...) }

// asCSV is a table as CSV reads it back: a header then rows, nulls as "".
func asCSV(header []string, rows [][]any) [][]string {
	out := [][]string{header}
	for _, r := range rows {
		rec := make([]string, len(r))
		for i, v := range r {
			if v != nil {
				rec[i] = v.(string)
			}
		}
		out = append(out, rec)
	}
	return out
}

func TestWrite(t *testing.T) {
	st := fixture(t)
	dir := filepath.Join(t.TempDir(), "export") // created by Write
	sum, err := Write(context.Background(), st, dir)
	if err != nil {
		t.Fatal(err)
	}
	want := Summary{Annotations: 7, Conversations: 4, Errors: 4, StageErrors: 2, BadRecords: 2, MetaColumns: wantMeta}
	if !reflect.DeepEqual(sum, want) {
		t.Errorf("summary\n got %+v\nwant %+v", sum, want)
	}
	annHeader := append(slices.Clip(annotationColumns), wantMeta...)
	checkCSV(t, filepath.Join(dir, AnnotationsCSV), asCSV(annHeader, wantAnnotations))
	checkCSV(t, filepath.Join(dir, ConversationsCSV), asCSV(
		append([]string{"conversation_id", "source", "lang_status", "values_status", "bucket_status"}, wantMeta...),
		wantConversations))
	checkCSV(t, filepath.Join(dir, ErrorsCSV), wantErrors)
	checkParquet(t, filepath.Join(dir, AnnotationsParquet), annHeader, wantAnnotations)
	checkDir(t, dir)
}

// TestWriteReplaces exports over a previous export (and stray files of the
// same names): the new files replace them.
func TestWriteReplaces(t *testing.T) {
	ctx := context.Background()
	st := fixture(t)
	dir := t.TempDir()
	for _, name := range []string{AnnotationsCSV, AnnotationsParquet, ConversationsCSV, ErrorsCSV} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("stale,old\n1,2\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := Write(ctx, st, dir); err != nil {
		t.Fatal(err)
	}
	// The run goes on: one more conversation, with a new metadata key.
	c5 := store.Conversation{Seq: 4, ID: "c5", Source: "c.jsonl", ContentSHA: "s5", MetaJSON: `{"added":1}`}
	if err := st.Write(ctx, []store.Result{{Conv: c5, Stage: "lang", Items: []store.Annotation{{Field: "language", Value: "de", IsLabel: true}}}}); err != nil {
		t.Fatal(err)
	}
	sum, err := Write(ctx, st, dir)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Annotations != 8 || sum.Conversations != 5 || sum.MetaColumns[0] != "added" {
		t.Errorf("summary %+v", sum)
	}
	meta := append([]string{"added"}, wantMeta...)
	var ann [][]any
	for _, r := range wantAnnotations {
		ann = append(ann, append([]any{r[0], r[1], r[2], r[3], r[4], r[5], r[6], nil}, r[7:]...))
	}
	ann = append(ann, row([]any{"c5", "c.jsonl", "lang", "language", "de", "label", "", "1"}, c3Meta))
	annHeader := append(slices.Clip(annotationColumns), meta...)
	checkCSV(t, filepath.Join(dir, AnnotationsCSV), asCSV(annHeader, ann))
	checkParquet(t, filepath.Join(dir, AnnotationsParquet), annHeader, ann)
	var convs [][]any
	for _, r := range wantConversations {
		convs = append(convs, append([]any{r[0], r[1], r[2], r[3], r[4], nil}, r[5:]...))
	}
	convs = append(convs, row([]any{"c5", "c.jsonl", "ok", "", "", "1"}, c3Meta))
	checkCSV(t, filepath.Join(dir, ConversationsCSV), asCSV(
		append([]string{"conversation_id", "source", "lang_status", "values_status", "bucket_status"}, meta...), convs))
	checkCSV(t, filepath.Join(dir, ErrorsCSV), wantErrors)
	checkDir(t, dir)
}

// TestWriteFailure: an export that fails leaves no temporary files behind.
func TestWriteFailure(t *testing.T) {
	st := fixture(t)
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, ErrorsCSV), 0o755); err != nil { // the rename onto it fails
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ErrorsCSV, "x"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Write(context.Background(), st, dir); err == nil {
		t.Fatal("no error")
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".tmp") {
			t.Errorf("left behind: %s", e.Name())
		}
	}

	// Metadata that is not JSON is reported, naming the conversation.
	st = fixture(t)
	c9 := store.Conversation{Seq: 9, ID: "c9", Source: "a.jsonl", ContentSHA: "s9", MetaJSON: `{"a":`}
	if err := st.Write(context.Background(), []store.Result{{Conv: c9, Stage: "lang"}}); err != nil {
		t.Fatal(err)
	}
	dir = t.TempDir()
	if _, err := Write(context.Background(), st, dir); err == nil || !strings.Contains(err.Error(), "c9") {
		t.Errorf("err = %v, want one naming c9", err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("files left: %v", ents)
	}
}

// TestEmpty exports a store with nothing in it: headers only.
func TestEmpty(t *testing.T) {
	st, err := store.Open(filepath.Join(t.TempDir(), "run.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	dir := t.TempDir()
	sum, err := Write(context.Background(), st, dir)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(sum, Summary{}) {
		t.Errorf("summary %+v", sum)
	}
	checkCSV(t, filepath.Join(dir, AnnotationsCSV), [][]string{annotationColumns})
	checkCSV(t, filepath.Join(dir, ConversationsCSV), [][]string{{"conversation_id", "source"}})
	checkCSV(t, filepath.Join(dir, ErrorsCSV), [][]string{errorColumns})
	checkParquet(t, filepath.Join(dir, AnnotationsParquet), annotationColumns, nil)
}

func TestMetaColumnNames(t *testing.T) {
	keys := map[string]bool{"value": true, "meta.value": true, "stage": true, "zeta": true, "lang_status": true}
	m := newMetaSchema(keys, []string{"conversation_id", "source", "stage", "value", "lang_status"})
	want := []string{"meta.lang_status", "meta.value", "meta.stage", "meta.meta.value", "zeta"}
	if !slices.Equal(m.columns, want) {
		t.Errorf("columns %q, want %q (keys %q)", m.columns, want, m.keys)
	}
}

func TestScanMeta(t *testing.T) {
	for js, want := range map[string]string{
		``:                             ``,
		`null`:                         ``,
		`[1,2]`:                        ``,
		`{}`:                           ``,
		`{"a":"x\u00e9\n","b":-1.5e3}`: "a=xé\n;b=-1.5e3;",
		`{"t":true,"f":false,"n":null,"o":{"a":1},"l":[{"b":2}],"i":0}`: `t=true;f=false;i=0;`,
	} {
		var b strings.Builder
		if err := scanMeta(js, func(k, v string) { fmt.Fprintf(&b, "%s=%s;", k, v) }); err != nil {
			t.Errorf("%s: %v", js, err)
		}
		if b.String() != want {
			t.Errorf("%s: got %q, want %q", js, b.String(), want)
		}
	}
	for _, js := range []string{`{"a":`, `{"a" 1}`, `{"a":tru}`} {
		if err := scanMeta(js, func(k, v string) {}); err == nil {
			t.Errorf("%s: no error", js)
		}
	}
}

func checkCSV(t *testing.T, path string, want [][]string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = len(want[0])
	got, err := r.ReadAll()
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got %q\nwant %q", filepath.Base(path), got, want)
	}
}

// checkParquet reads path back: the columns (names, order, types), zstd, and
// every row, a null read as nil.
func checkParquet(t *testing.T, path string, header []string, want [][]any) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	pf, err := parquet.OpenFile(f, st.Size())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for i, fl := range pf.Schema().Fields() {
		names = append(names, fl.Name())
		if _, utf8 := fl.Type().LogicalType().Value.(*format.StringType); !fl.Leaf() || !utf8 {
			t.Errorf("column %s: type %v, want a UTF-8 string", fl.Name(), fl.Type())
		}
		if meta := i >= len(annotationColumns); fl.Optional() != meta || fl.Required() == meta {
			t.Errorf("column %s: optional %v", fl.Name(), fl.Optional())
		}
	}
	if !slices.Equal(names, header) {
		t.Errorf("parquet columns %q, want %q", names, header)
	}
	var got [][]any
	for _, rg := range pf.Metadata().RowGroups {
		for _, cc := range rg.Columns {
			if cc.MetaData.Codec != format.Zstd {
				t.Errorf("column %q: codec %v, want zstd", cc.MetaData.PathInSchema, cc.MetaData.Codec)
			}
		}
	}
	for _, rg := range pf.RowGroups() {
		rows := rg.Rows()
		buf := make([]parquet.Row, 3)
		for {
			n, err := rows.ReadRows(buf)
			for _, r := range buf[:n] {
				rec := make([]any, len(header))
				for _, v := range r {
					if !v.IsNull() {
						rec[v.Column()] = string(v.ByteArray())
					}
				}
				got = append(got, rec)
			}
			if err != nil {
				break
			}
		}
		rows.Close()
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got %q\nwant %q", filepath.Base(path), got, want)
	}
	if pf.NumRows() != int64(len(want)) {
		t.Errorf("NumRows %d, want %d", pf.NumRows(), len(want))
	}
}

// checkDir: the four files, nothing else (no temporary files), readable by
// everyone.
func checkDir(t *testing.T, dir string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
		if info, err := e.Info(); err != nil || info.Mode().Perm() != 0o644 {
			t.Errorf("%s: mode %v", e.Name(), info.Mode())
		}
	}
	if want := []string{AnnotationsCSV, AnnotationsParquet, ConversationsCSV, ErrorsCSV}; !slices.Equal(names, want) {
		t.Errorf("files %q, want %q", names, want)
	}
}
