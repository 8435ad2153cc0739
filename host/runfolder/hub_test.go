package runfolder

import (
	"slices"
	"testing"

	"github.com/valuescope/valuescope/host/hub"
)

func TestReadPathsHub(t *testing.T) {
	d := DatasetInfo{
		Paths: []string{"/data/a.jsonl", "hf://o/n/data/*.parquet", "/data/b"},
		Hub: []*hub.Snapshot{{URL: "hf://o/n/data/*.parquet", Commit: "c", Files: []hub.File{
			{Path: "data/1.parquet", Local: "/cache/snapshots/c/data/1.parquet"},
			{Path: "data/2.parquet", Local: "/cache/snapshots/c/data/2.parquet"},
		}}},
	}
	want := []string{"/data/a.jsonl", "/cache/snapshots/c/data/1.parquet", "/cache/snapshots/c/data/2.parquet", "/data/b"}
	if got := d.ReadPaths(); !slices.Equal(got, want) {
		t.Errorf("ReadPaths = %v, want %v", got, want)
	}
}
