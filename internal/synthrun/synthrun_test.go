package synthrun

import (
	"bufio"
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestDatasetDeterministicAndZipf(t *testing.T) {
	p := Default(5000)
	var a, b bytes.Buffer
	if err := WriteDataset(&a, p); err != nil {
		t.Fatal(err)
	}
	if err := WriteDataset(&b, p); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatal("the same parameters gave different datasets")
	}
	counts := map[string]int{}
	lines, noUser := 0, 0
	sc := bufio.NewScanner(&a)
	for sc.Scan() {
		var r record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("line %d: %v", lines+1, err)
		}
		lines++
		if r.Meta.UserID == "" {
			noUser++
		}
		n := 0
		for _, l := range strings.Split(r.Turns[1].Content, "\n") {
			if v, ok := strings.CutPrefix(l, "value: "); ok {
				counts[v]++
				n++
			}
		}
		if n < 1 || n > p.MaxPerConv {
			t.Fatalf("line %d: %d values, want 1..%d", lines, n, p.MaxPerConv)
		}
	}
	if lines != p.Conversations {
		t.Fatalf("%d lines, want %d", lines, p.Conversations)
	}
	// Zipf: the first values are the most frequent, in order, and the tail
	// is long.
	if !(counts[ValueName(0)] > counts[ValueName(1)] && counts[ValueName(1)] > counts[ValueName(3)] && counts[ValueName(3)] > counts[ValueName(30)]) {
		t.Errorf("not Zipf-like: %d %d %d %d", counts[ValueName(0)], counts[ValueName(1)], counts[ValueName(3)], counts[ValueName(30)])
	}
	if len(counts) < 1000 {
		t.Errorf("only %d distinct values of %d", len(counts), p.Values)
	}
	if share := float64(noUser) / float64(lines); share < 0.03 || share > 0.07 {
		t.Errorf("%.3f without user, want about %.2f", share, p.NoUserShare)
	}
}

func TestDatasetRefusesBadParams(t *testing.T) {
	for _, p := range []Params{
		{},
		func() Params { p := Default(10); p.ZipfS = 1; return p }(),
		func() Params { p := Default(10); p.NoUserShare = 2; return p }(),
		func() Params { p := Default(10); p.Users = 0; return p }(),
	} {
		if err := WriteDataset(&bytes.Buffer{}, p); err == nil {
			t.Errorf("%s: no error", p.Key())
		}
	}
}
