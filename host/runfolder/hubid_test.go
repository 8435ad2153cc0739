package runfolder_test

import (
	"strings"
	"testing"

	"github.com/valuescope/valuescope/host/hub"
	"github.com/valuescope/valuescope/host/runfolder"
)

// The same Hub file in two caches is one file; another commit, path or
// hash is not; a local file keeps its path.
func TestNameHubFiles(t *testing.T) {
	commit := strings.Repeat("a", 40)
	snap := func(cache string) []*hub.Snapshot {
		return []*hub.Snapshot{{Repo: "o/n", Commit: commit, Files: []hub.File{{Path: "data/x.jsonl", Local: cache + "/datasets--o--n/snapshots/" + commit + "/data/x.jsonl"}}}}
	}
	id := func(p, sha string) []runfolder.FileID {
		return []runfolder.FileID{{Path: p, Size: 3, SHA256: sha}, {Path: "/local/y.jsonl", Size: 1, SHA256: "b"}}
	}
	a := runfolder.NameHubFiles(id("/c1/datasets--o--n/snapshots/"+commit+"/data/x.jsonl", "s"), snap("/c1"))
	b := runfolder.NameHubFiles(id("/c2/datasets--o--n/snapshots/"+commit+"/data/x.jsonl", "s"), snap("/c2"))
	var f runfolder.Folder = "/run"
	if err := f.CheckDataset(a, b); err != nil {
		t.Errorf("one Hub file in two caches: %v", err)
	}
	if a[0].Path != "hf://o/n@"+commit+"/data/x.jsonl" || a[1].Path != "/local/y.jsonl" {
		t.Errorf("names %q, %q", a[0].Path, a[1].Path)
	}
	c := runfolder.NameHubFiles(id("/c2/datasets--o--n/snapshots/"+commit+"/data/x.jsonl", "other"), snap("/c2"))
	if err := f.CheckDataset(a, c); err == nil {
		t.Error("another hash under the same Hub name passed")
	}
}
