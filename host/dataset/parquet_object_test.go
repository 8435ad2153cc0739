package dataset

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"testing"

	"github.com/go-json-experiment/json"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress/snappy"
	"github.com/valuescope/valuescope/host/conversation"
)

// pqObjects reads every row of path both ways: as Go values (the fast path)
// and as JSON decoded generically (the reference). Where the fast path takes
// a row, the two must be equal. It returns how many rows it took.
func pqObjects(t *testing.T, path string) (fast, rows int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	src, err := openParquet(f, path)
	if err != nil {
		t.Fatal(err)
	}
	for {
		rec, err := src.next()
		if err == io.EOF {
			return fast, rows
		}
		if err != nil {
			t.Fatal(err)
		}
		rows++
		data, err := rec.parquet.json()
		if err != nil {
			t.Fatal(err)
		}
		var want any
		jerr := json.Unmarshal(data, &want)
		got, ok := rec.parquet.object()
		if !ok {
			continue
		}
		fast++
		if jerr != nil {
			t.Fatalf("row %d: the fast path took a row whose JSON does not decode (%v): %s", rows-1, jerr, data)
		}
		if !reflect.DeepEqual(any(got), want) {
			t.Fatalf("row %d:\n fast %#v\n json %#v", rows-1, got, want)
		}
	}
}

// pqConversations reads path's conversations with the fast path on or off.
func pqConversations(t *testing.T, path string, fast bool) []any {
	t.Helper()
	defer func(old bool) { fastParquet = old }(fastParquet)
	fastParquet = fast
	r, err := Open([]string{path}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var out []any
	for {
		c, err := r.Next()
		switch {
		case err == io.EOF:
			return out
		case IsBad(err):
			out = append(out, err.Error())
		case err != nil:
			t.Fatal(err)
		default:
			out = append(out, *c)
		}
	}
}

// The fast path gives the same values and conversations as the JSON way, on
// the WildChat and LMSYS layouts and on a file of every other type it takes.
func TestParquetFastPathAgrees(t *testing.T) {
	type inner struct {
		A int32   `parquet:"a"`
		B *string `parquet:"b,optional"`
	}
	type row struct {
		ID      string            `parquet:"conversation_id"`
		Date    int32             `parquet:"date,date"`
		Dec     int64             `parquet:"dec,decimal(2:18)"`
		U       [16]byte          `parquet:"u,uuid"`
		F32     float32           `parquet:"f32"`
		F64     float64           `parquet:"f64"`
		U32     uint32            `parquet:"u32"`
		U64     uint64            `parquet:"u64"`
		Big     int64             `parquet:"big"`
		Tags    []string          `parquet:"tags,list"`
		Opt     []*int64          `parquet:"opt,list"`
		Nested  [][]int32         `parquet:"nested,list"`
		Counts  map[string]int64  `parquet:"counts"`
		In      *inner            `parquet:"in,optional"`
		Ins     []inner           `parquet:"ins"`
		Empty   map[string]string `parquet:"empty"`
		Conv    []pqLMSYSTurn     `parquet:"conversation,optional,list" parquet-element:",optional"`
		Control string            `parquet:"control"`
	}
	one := int64(1)
	rows := []row{{
		ID: "a", Date: 19456, Dec: -12345, U: [16]byte{0x12, 0x34, 15: 8}, F32: 0.1, F64: 1e-300, U32: 4000000000,
		U64: 1<<64 - 1, Big: 1<<62 + 1, Tags: []string{"a", "b\"c"}, Opt: []*int64{&one, nil},
		Nested: [][]int32{{1, 2}, {}, {3}}, Counts: map[string]int64{"x": 1, "y": 2}, In: &inner{A: 1},
		Ins:  []inner{{A: 2, B: pqStr("β")}, {A: 3}},
		Conv: []pqLMSYSTurn{{Role: "user", Content: "hi\u2028\x00"}, {Role: "assistant", Content: ""}}, Control: "\x01\t\"\\",
	}, {ID: "b", Conv: []pqLMSYSTurn{{Role: "human", Content: "q"}}}, {ID: "", Conv: []pqLMSYSTurn{{Role: "user", Content: "no id"}}},
		{ID: "bad role", Conv: []pqLMSYSTurn{{Role: "narrator", Content: "x"}}}, {ID: "no turns"}}
	dir := t.TempDir()
	types := filepath.Join(dir, "types.parquet")
	pqWrite(t, types, rows)
	big := filepath.Join(dir, "wildchat.parquet")
	pqWrite(t, big, pqWildChat(200, 50), parquet.MaxRowsPerRowGroup(64), parquet.Compression(&snappy.Codec{}))
	for _, path := range []string{pqWildChatFile, pqLMSYSFile, types, big} {
		fast, n := pqObjects(t, path)
		if fast != n {
			t.Errorf("%s: the fast path took %d of %d rows", path, fast, n)
		}
		on, off := pqConversations(t, path, true), pqConversations(t, path, false)
		if !reflect.DeepEqual(on, off) {
			for i := range min(len(on), len(off)) {
				if !reflect.DeepEqual(on[i], off[i]) {
					t.Fatalf("%s: record %d:\n fast %#v\n json %#v", path, i, on[i], off[i])
				}
			}
			t.Fatalf("%s: %d records the fast way, %d the JSON way", path, len(on), len(off))
		}
	}
}

// Rows the fast path does not mirror go the JSON way: invalid UTF-8 (then
// replaced and flagged), JSON columns, numeric IDs.
func TestParquetFastPathDeclines(t *testing.T) {
	type row struct {
		ID   int64         `parquet:"conversation_id"`
		Conv []pqLMSYSTurn `parquet:"conversation,list"`
		JS   string        `parquet:"js,json"`
	}
	path := filepath.Join(t.TempDir(), "odd.parquet")
	pqWrite(t, path, []row{{ID: 7, Conv: []pqLMSYSTurn{{Role: "user", Content: "bad \xff byte"}}, JS: `{"j":1}`}})
	on, off := pqConversations(t, path, true), pqConversations(t, path, false)
	if !reflect.DeepEqual(on, off) || len(on) != 1 {
		t.Fatalf("fast %#v\njson %#v", on, off)
	}
	c := on[0].(conversation.Conversation)
	if c.ID != "7" || c.Meta["invalid_utf8"] != true || c.Meta["js"].(map[string]any)["j"] != 1.0 {
		t.Fatalf("%#v", c)
	}
}

// pqPeakHeap reads path's conversations and returns the peak live heap seen
// (collected and sampled every 250 conversations, so that garbage awaiting
// collection does not count) and how many there were.
func pqPeakHeap(tb testing.TB, path string) (peak uint64, n int) {
	tb.Helper()
	runtime.GC()
	r, err := Open([]string{path}, Options{})
	if err != nil {
		tb.Fatal(err)
	}
	defer r.Close()
	var ms runtime.MemStats
	for ; ; n++ {
		_, err := r.Next()
		if err == io.EOF {
			return peak, n
		}
		if err != nil {
			tb.Fatal(err)
		}
		if n%250 == 0 {
			runtime.GC()
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapAlloc)
		}
	}
}

// pqWildChatFileOf writes n WildChat-shaped conversations in row groups of
// 500, as the benchmark's.
func pqWildChatFileOf(tb testing.TB, n int) string {
	path := filepath.Join(tb.TempDir(), fmt.Sprintf("wildchat-%d.parquet", n))
	pqWrite(tb, path, pqWildChat(n, 600), parquet.MaxRowsPerRowGroup(500), parquet.Compression(&snappy.Codec{}))
	return path
}

// Reading a Parquet file holds one row group's pages and one batch of rows,
// whatever the file's size: the peak heap reading a file eight times larger
// stays within a quarter and 4 MiB of the smaller one's (holding the conversations, or
// the file, would take hundreds of MiB).
func TestParquetMemoryFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 10 MB")
	}
	small, large := pqWildChatFileOf(t, 1000), pqWildChatFileOf(t, 8000)
	ps, ns := pqPeakHeap(t, small)
	pl, nl := pqPeakHeap(t, large)
	st, _ := os.Stat(large)
	t.Logf("peak heap %d MiB reading %d conversations, %d MiB reading %d (%d MiB file)", ps>>20, ns, pl>>20, nl, st.Size()>>20)
	if ns != 1000 || nl != 8000 {
		t.Fatalf("read %d and %d conversations", ns, nl)
	}
	if pl > ps+ps/4+4<<20 {
		t.Errorf("peak heap %d MiB on the large file, %d MiB on the small one: memory grows with the file", pl>>20, ps>>20)
	}
}

// BenchmarkParquetMemory reports the peak live heap and the bytes allocated
// per conversation reading WildChat-shaped files of growing size: both flat
// in the rows. What grows, slowly, is the footer's metadata (statistics and
// offsets for every column chunk of every row group), which parquet-go holds
// from opening the file, as any Parquet reader must.
//
//	go test -run XXX -bench ParquetMemory -benchtime 1x ./host/dataset/
func BenchmarkParquetMemory(b *testing.B) {
	for _, n := range []int{1000, 8000, 32000} {
		b.Run(fmt.Sprintf("conversations=%d", n), func(b *testing.B) {
			path := pqWildChatFileOf(b, n)
			var ms0, ms1 runtime.MemStats
			var peak uint64
			runtime.ReadMemStats(&ms0)
			for b.Loop() {
				peak, _ = pqPeakHeap(b, path)
			}
			runtime.ReadMemStats(&ms1)
			b.ReportMetric(float64(peak)/(1<<20), "peak-live-heap-MiB")
			b.ReportMetric(float64(ms1.TotalAlloc-ms0.TotalAlloc)/float64(b.N*n), "B/conversation")
		})
	}
}
