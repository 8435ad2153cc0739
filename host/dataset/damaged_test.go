package dataset

import (
	"bytes"
	"compress/gzip"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"
)

var buildDamagedFixtures = flag.Bool("build-damaged-fixtures", false, "rewrite testdata/damaged/")

const damagedDir = "testdata/damaged"

// The damaged folder: good shards around a truncated .jsonl.gz, a truncated
// .jsonl.zst, a Parquet file with a corrupt data page in its second row group
// and a Parquet file cut before its footer. Built from the project's demo
// conversations and the built Parquet fixtures (see testdata/README.md).
var damagedShards = []struct {
	name  string
	lines [2]int // demo lines [from, to) the shard holds, for JSONL shards
}{
	{"1-good.jsonl", [2]int{0, 20}},
	{"2-truncated.jsonl.gz", [2]int{20, 50}},
	{"3-truncated.jsonl.zst", [2]int{50, 70}},
	{"4-damaged-page.parquet", [2]int{}},
	{"5-no-footer.parquet", [2]int{}},
	{"6-good.jsonl", [2]int{70, 80}},
}

func TestDamagedFixtures(t *testing.T) {
	if !*buildDamagedFixtures {
		t.Skip("run with -build-damaged-fixtures to rewrite testdata/damaged/")
	}
	demo := firstLines(t, "../../data/demo/conversations.jsonl", 80)
	if err := os.MkdirAll(damagedDir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, s := range damagedShards {
		var plain bytes.Buffer
		for _, l := range demo[s.lines[0]:s.lines[1]] {
			plain.Write(l)
			plain.WriteByte('\n')
		}
		var out []byte
		switch {
		case strings.HasSuffix(s.name, ".gz"):
			var b bytes.Buffer
			zw := gzip.NewWriter(&b)
			zw.Write(plain.Bytes())
			zw.Close()
			out = b.Bytes()[:b.Len()*3/5]
		case strings.HasSuffix(s.name, ".zst"):
			// Small blocks, as a streaming writer makes them: a cut loses
			// only the block it falls in and those after.
			var b bytes.Buffer
			zw, _ := zstd.NewWriter(&b, zstd.WithWindowSize(4096))
			zw.Write(plain.Bytes())
			zw.Close()
			out = b.Bytes()[:b.Len()*3/5]
		case s.name == "4-damaged-page.parquet":
			data, err := os.ReadFile(pqWildChatFile)
			if err != nil {
				t.Fatal(err)
			}
			// Flip the first bytes of the body of the first data page of
			// conversation content in row group 1 (rows 6 to 11).
			body, meta := pqFooter(t, data)
			m := &meta.RowGroups[1].Columns[pqColumn(t, meta, "content")].MetaData
			start := chunkStart(m)
			h := new(format.PageHeader)
			rd := bytes.NewReader(body[start:])
			if err := thrift.NewDecoder(new(thrift.CompactProtocol).NewReader(rd)).Decode(h); err != nil {
				t.Fatal(err)
			}
			n := int64(len(body[start:]) - rd.Len()) // the header's length
			out = bytes.Clone(data)
			for i := range 16 {
				out[start+n+int64(i)] ^= 0x5A
			}
		case s.name == "5-no-footer.parquet":
			data, err := os.ReadFile(pqLMSYSFile)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := pqFooter(t, data)
			out = body // the row groups, no footer
		default:
			out = plain.Bytes()
		}
		if err := os.WriteFile(filepath.Join(damagedDir, s.name), out, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// pqColumn returns the index of the leaf column whose path ends in name.
func pqColumn(t *testing.T, meta *format.FileMetaData, name string) int {
	t.Helper()
	for i, c := range meta.RowGroups[0].Columns {
		if p := c.MetaData.PathInSchema; p[len(p)-1] == name {
			return i
		}
	}
	t.Fatalf("no column %q", name)
	return 0
}

// completeLines returns how many whole lines the undamaged part of a
// truncated compressed shard holds: what a reader can recover from it.
func completeLines(t *testing.T, path string) int {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var zr io.Reader
	if strings.HasSuffix(path, ".gz") {
		if zr, err = gzip.NewReader(f); err != nil {
			t.Fatal(err)
		}
	} else {
		d, err := zstd.NewReader(f)
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		zr = d
	}
	data, err := io.ReadAll(zr)
	if err == nil {
		t.Fatalf("%s is not truncated", path)
	}
	return bytes.Count(data, []byte{'\n'})
}

// A folder of good shards with damaged ones among them reads to the end:
// every conversation before the damage is kept, the damage is one bad record
// naming the file and where, and the shards after it are read.
func TestDamagedShards(t *testing.T) {
	gz := completeLines(t, filepath.Join(damagedDir, "2-truncated.jsonl.gz"))
	zs := completeLines(t, filepath.Join(damagedDir, "3-truncated.jsonl.zst"))
	if gz == 0 || gz >= 30 || zs == 0 || zs >= 20 {
		t.Fatalf("fixtures: %d and %d whole lines survive; rebuild them", gz, zs)
	}
	r, err := Open([]string{damagedDir}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var ids []string
	var bads []*BadRecord
	for {
		c, err := r.Next()
		if err == io.EOF {
			break
		}
		var bad *BadRecord
		if errors.As(err, &bad) {
			bads = append(bads, bad)
			continue
		}
		if err != nil {
			t.Fatalf("after %d conversations: %v", len(ids), err)
		}
		ids = append(ids, c.Source+" "+c.ID)
	}
	// What survives of the compressed shards is the lines before the cut,
	// in order; the Parquet file keeps row groups 0, 2 and 3.
	demo := firstLines(t, "../../data/demo/conversations.jsonl", 80)
	var want []string
	add := func(file string, from, to int) {
		for _, l := range demo[from:to] {
			want = append(want, file+" "+string(l[8:bytes.IndexByte(l[8:], '"')+8]))
		}
	}
	add("1-good.jsonl", 0, 20)
	add("2-truncated.jsonl.gz", 20, 20+gz)
	add("3-truncated.jsonl.zst", 50, 50+zs)
	for _, c := range pqWildChat(20, 0) {
		want = append(want, "4-damaged-page.parquet "+c.ConversationHash)
	}
	want = append(want[:len(want)-14], want[len(want)-8:]...) // rows 6 to 11 lost
	add("6-good.jsonl", 70, 80)
	if strings.Join(ids, "\n") != strings.Join(want, "\n") {
		t.Errorf("read %d conversations, want %d:\n%s", len(ids), len(want), strings.Join(ids, "\n"))
	}

	wantBad := []struct{ where, reason string }{
		{filepath.Join(damagedDir, "2-truncated.jsonl.gz") + ":" + strconv.Itoa(gz+1), "unexpected EOF"},
		{filepath.Join(damagedDir, "3-truncated.jsonl.zst") + ":" + strconv.Itoa(zs+1), "unexpected EOF"},
		{filepath.Join(damagedDir, "4-damaged-page.parquet") + ": row 6", "row group 1: rows 6 to 11 set aside"},
		{filepath.Join(damagedDir, "5-no-footer.parquet"), "parquet: unreadable file"},
	}
	if len(bads) != len(wantBad) {
		t.Fatalf("%d bad records, want %d: %v", len(bads), len(wantBad), bads)
	}
	for i, w := range wantBad {
		b := bads[i]
		t.Logf("%v", b)
		if !b.Damaged || b.Location.String() != w.where || !strings.Contains(b.Reason, w.reason) {
			t.Errorf("bad record %d: %v (damaged %v); want at %q saying %q", i, b, b.Damaged, w.where, w.reason)
		}
	}
	for _, f := range r.Files() {
		damaged := !strings.Contains(f.Path, "good")
		if damaged != (f.Damaged != "") || damaged != (f.Bad == 1) {
			t.Errorf("file %s: %d bad, damaged %q", f.Path, f.Bad, f.Damaged)
		}
	}

	// Strict: the first damage ends the read.
	r2, err := Open([]string{damagedDir}, Options{Strict: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	n := 0
	for ; ; n++ {
		if _, err = r2.Next(); err != nil {
			break
		}
	}
	if n != 20+gz || !strings.Contains(err.Error(), "strict: ") || !strings.Contains(err.Error(), "2-truncated.jsonl.gz") {
		t.Fatalf("strict: %d conversations, then %v", n, err)
	}
}

// datasets inspect's summary names each damaged file and why.
func TestDamagedSummary(t *testing.T) {
	s := summarize(t, []string{damagedDir}, Options{})
	out := s.String()
	if s.BadRecords != 4 || len(s.Files) != len(damagedShards) {
		t.Fatalf("summary:\n%s", out)
	}
	for _, name := range []string{"2-truncated.jsonl.gz", "3-truncated.jsonl.zst", "4-damaged-page.parquet", "5-no-footer.parquet"} {
		if !strings.Contains(out, name+": damaged: ") {
			t.Errorf("summary does not say %s is damaged:\n%s", name, out)
		}
	}
}
