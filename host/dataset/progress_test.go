package dataset

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Progress goes from 0 to the dataset's size as reading goes, file after
// file, for JSONL (bytes read) and Parquet (rows read as their share).
func TestProgress(t *testing.T) {
	dir := t.TempDir()
	demo, err := os.ReadFile(filepath.Join("..", "..", "data", "demo", "conversations.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	// Big enough that the first file is not read in one buffer fill.
	var big strings.Builder
	for big.Len() < 3<<20 {
		big.Write(demo)
	}
	os.WriteFile(filepath.Join(dir, "a.jsonl"), []byte(big.String()), 0o644)
	os.WriteFile(filepath.Join(dir, "b.jsonl"), demo, 0o644)
	r, err := Open([]string{filepath.Join(dir, "a.jsonl"), filepath.Join(dir, "b.jsonl")}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	_, size := r.Progress()
	if want := int64(big.Len() + len(demo)); size != want {
		t.Fatalf("size %d, want %d", size, want)
	}
	var seen []int64
	for {
		_, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil && !IsBad(err) {
			t.Fatal(err)
		}
		read, _ := r.Progress()
		if n := len(seen); n > 0 && read < seen[n-1] {
			t.Fatalf("progress went back: %d after %d", read, seen[n-1])
		}
		seen = append(seen, read)
	}
	if read, _ := r.Progress(); read != size {
		t.Fatalf("at the end: %d of %d", read, size)
	}
	if mid := seen[len(seen)/3]; mid <= 0 || mid >= int64(big.Len()) {
		t.Fatalf("a third of the way through the records: %d of %d", mid, size)
	}
}

func TestProgressParquet(t *testing.T) {
	path := filepath.Join("testdata", "wildchat_built.parquet")
	r, err := Open([]string{path}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var reads []int64
	for {
		_, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil && !IsBad(err) {
			t.Fatal(err)
		}
		read, _ := r.Progress()
		reads = append(reads, read)
	}
	read, size := r.Progress()
	if len(reads) < 3 || read != size || reads[0] <= 0 || reads[0] >= size || reads[len(reads)/2] >= size {
		t.Fatalf("%d records: first at %d, middle at %d, end %d of %d", len(reads), reads[0], reads[len(reads)/2], read, size)
	}
}
