package dataset

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/valuescope/valuescope/internal/shareddata"
)

// BenchmarkJSONL compares the reader with the floor every JSONL reader pays:
// encoding/json decoding the same lines into map[string]any, measured in the
// same run. Compare the sub-benchmarks' conv/s (or ns/op) for the ratio:
//
//	go test -run XXX -bench JSONL -benchmem ./host/dataset/
func BenchmarkJSONL(b *testing.B) {
	for _, file := range []string{
		"chatbot-arena/chatbot_arena_messages.jsonl",
		"sharegpt/sharegpt_zh_1K_format.jsonl",
	} {
		path := shareddata.Path(b, file)
		data, err := os.ReadFile(path)
		if err != nil {
			b.Fatal(err)
		}
		name := filepath.Base(filepath.Dir(file))
		b.Run(name+"/floor=encoding-json-map", func(b *testing.B) {
			var n int
			for b.Loop() {
				n = 0
				sc := bufio.NewScanner(bytes.NewReader(data))
				sc.Buffer(nil, 64<<20)
				for sc.Scan() {
					var m map[string]any
					if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
						b.Fatal(err)
					}
					n++
				}
			}
			report(b, n, len(data))
		})
		b.Run(name+"/reader", func(b *testing.B) {
			var n int
			for b.Loop() {
				n = countAll(b, path, Options{})
			}
			report(b, n, len(data))
		})
	}
}

// BenchmarkJSONArray reads the ShareGPT array file element by element.
func BenchmarkJSONArray(b *testing.B) {
	path := shareddata.Path(b, "sharegpt/sg_90k_part1_html_cleaned_lang_first_sampled_sorted.json")
	st, _ := os.Stat(path)
	var n int
	for b.Loop() {
		n = countAll(b, path, Options{})
	}
	report(b, n, int(st.Size()))
}

func countAll(b *testing.B, path string, opts Options) int {
	r, err := Open([]string{path}, opts)
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	n := 0
	for {
		_, err := r.Next()
		if err == io.EOF {
			return n
		}
		if err != nil {
			b.Fatal(err)
		}
		n++
	}
}

func report(b *testing.B, convs, bytes int) {
	sec := b.Elapsed().Seconds() / float64(b.N)
	b.ReportMetric(float64(convs)/sec, "conv/s")
	b.ReportMetric(float64(bytes)/1e6/sec, "MB/s")
	b.SetBytes(int64(bytes))
}

// BenchmarkStreamingMemory reads generated JSONL files of growing size and
// reports the peak heap: it stays flat as the file grows, because nothing is
// kept from one record to the next. The 1 GB case needs ~1 GB of temp disk:
//
//	go test -run XXX -bench StreamingMemory -benchtime 1x ./host/dataset/
func BenchmarkStreamingMemory(b *testing.B) {
	for _, mb := range []int{16, 128, 1024} {
		b.Run(fmt.Sprintf("size=%dMB", mb), func(b *testing.B) {
			path := generateJSONL(b, mb<<20)
			var peak uint64
			for b.Loop() {
				peak = peakHeapReading(b, path)
			}
			b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
		})
	}
}

// TestStreamingMemory is the small version of the benchmark above: reading a
// 96 MB file must not hold it in memory.
func TestStreamingMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 96 MB")
	}
	path := generateJSONL(t, 96<<20)
	if peak := peakHeapReading(t, path); peak > 48<<20 {
		t.Fatalf("peak heap %d MiB reading a 96 MiB file: the reader is not streaming", peak>>20)
	}
}

// generateJSONL writes size bytes of varied chat records, the real arena
// records repeated with fresh ids.
func generateJSONL(tb testing.TB, size int) string {
	tb.Helper()
	lines := firstLines(tb, shareddata.Path(tb, "chatbot-arena/chatbot_arena_messages.jsonl"), 500)
	path := filepath.Join(tb.TempDir(), "big.jsonl")
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	for i, n := 0, 0; n < size; i++ {
		line := lines[i%len(lines)]
		k, _ := fmt.Fprintf(w, `{"id":"g%d",%s`+"\n", i, line[bytes.IndexByte(line, ',')+1:])
		n += k
	}
	if err := w.Flush(); err != nil {
		tb.Fatal(err)
	}
	f.Close()
	return path
}

func peakHeapReading(tb testing.TB, path string) uint64 {
	runtime.GC()
	r, err := Open([]string{path}, Options{})
	if err != nil {
		tb.Fatal(err)
	}
	defer r.Close()
	var peak uint64
	var ms runtime.MemStats
	for i := 0; ; i++ {
		_, err := r.Next()
		if err == io.EOF {
			return peak
		}
		if err != nil {
			tb.Fatal(err)
		}
		if i%2000 == 0 {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapAlloc)
		}
	}
}
