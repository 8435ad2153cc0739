package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/valuescope/valuescope/host/explore"
	"github.com/valuescope/valuescope/host/runfolder"
	"github.com/valuescope/valuescope/internal/fakehub"
	"github.com/valuescope/valuescope/internal/shareddata"
)

// testHub serves real files as the Hub would and points the environment
// (HF_ENDPOINT, HF_HUB_CACHE) at it; it returns the commit of main.
func testHub(t *testing.T) (*fakehub.Hub, string, map[string]string) {
	t.Helper()
	h := fakehub.New(t)
	local := map[string]string{
		"data/train-00000-of-00001.jsonl": shareddata.Path(t, "chatbot-arena/chatbot_arena_messages.jsonl"),
		"wildchat/train-00000.parquet":    "../../host/dataset/testdata/wildchat_built.parquet",
	}
	files := []fakehub.File{{Path: "README.md", Data: []byte("# arena, as a Hub dataset for tests\n")}}
	for p, l := range local {
		b, err := os.ReadFile(l)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, fakehub.File{Path: p, Data: b, LFS: true})
	}
	commit := h.Commit("lmsys/arena", "main", files...)
	t.Setenv("HF_ENDPOINT", h.URL())
	t.Setenv("HF_HUB_CACHE", filepath.Join(t.TempDir(), "hub"))
	t.Setenv("HF_HOME", t.TempDir())
	t.Setenv("HF_TOKEN", "")
	t.Setenv("HF_HUB_OFFLINE", "")
	return h, commit, local
}

// inspectJSON is inspect --json's summary without the fields that name
// where the files are.
func inspectJSON(t *testing.T, path string) map[string]any {
	t.Helper()
	code, out, errs := valuescope(t, "datasets", "inspect", "--json", path)
	if code != 0 {
		t.Fatalf("inspect %s: exit %d: %s", path, code, errs)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf("%v in %s", err, out)
	}
	delete(m, "files")
	delete(m, "paths")
	return m
}

// The "done when": inspect of an hf:// path gives the local file's
// counts, and a second call downloads nothing.
func TestInspectHub(t *testing.T) {
	h, _, local := testHub(t)
	total := 0.0
	for glob, file := range map[string]string{"data/*.jsonl": local["data/train-00000-of-00001.jsonl"], "wildchat/*.parquet": local["wildchat/train-00000.parquet"]} {
		want := inspectJSON(t, file)
		total += want["conversations"].(float64)
		got := inspectJSON(t, "hf://lmsys/arena/"+glob)
		wb, _ := json.Marshal(want)
		gb, _ := json.Marshal(got)
		if !bytes.Equal(wb, gb) || want["conversations"] == nil {
			t.Errorf("%s:\n hub   %s\n local %s", glob, gb, wb)
		}
		if n := fakehub.Downloads(h.Requests()); n != 1 {
			t.Errorf("%s: first inspect downloaded %d files, want 1", glob, n)
		}
		inspectJSON(t, "hf://lmsys/arena/"+glob)
		if n := fakehub.Downloads(h.Requests()); n != 0 {
			t.Errorf("%s: second inspect downloaded %d files, want none", glob, n)
		}
	}
	// Without a pattern: the data files, README.md left out.
	all := inspectJSON(t, "hf://lmsys/arena")
	if all["conversations"].(float64) != total || total < 2129 {
		t.Errorf("hf://lmsys/arena: %v conversations, want the local files' %v", all["conversations"], total)
	}
}

// pull prints the cached files; a Hub refusal is explained.
func TestPullHub(t *testing.T) {
	h, commit, _ := testHub(t)
	code, out, errs := valuescope(t, "datasets", "pull", "hf://lmsys/arena@main/**/*.parquet")
	if code != 0 || !strings.HasSuffix(strings.TrimSpace(out), filepath.Join("snapshots", commit, "wildchat", "train-00000.parquet")) ||
		!strings.Contains(errs, "1 downloaded") {
		t.Fatalf("pull: exit %d\n%s\n%s", code, out, errs)
	}
	h.Gate("lmsys/arena", "hf_accepted")
	for token, want := range map[string]string{
		"":            "401 Unauthorized",
		"hf_notyet":   "403 Forbidden",
		"hf_accepted": "",
	} {
		t.Setenv("HF_TOKEN", token)
		t.Setenv("HF_HUB_CACHE", t.TempDir())
		code, _, errs := valuescope(t, "datasets", "inspect", "hf://lmsys/arena/data/*")
		if want == "" {
			if code != 0 {
				t.Errorf("accepted token: exit %d: %s", code, errs)
			}
			continue
		}
		if code != 1 || !strings.Contains(errs, want) || !strings.Contains(errs, "GatedRepo") || !strings.Contains(errs, "accept its terms") || !strings.Contains(errs, h.URL()+"/datasets/lmsys/arena") {
			t.Errorf("token %q: exit %d: %s", token, code, errs)
		}
	}
	for argv, want := range map[string]string{
		"hf://lmsys/arena@v2":    "has no revision \"v2\"",
		"hf://lmsys/arena/*.csv": `no file matching "*.csv"`,
		"hf://lmsys":             "no dataset name",
		"/not/an/hf/path":        "not an hf:// dataset path",
	} {
		code, _, errs := valuescope(t, "datasets", "pull", argv)
		if code == 0 || !strings.Contains(errs, want) {
			t.Errorf("pull %s: exit %d: %s", argv, code, errs)
		}
	}
}

// A pull killed mid-download leaves only the .incomplete file, which the
// next pull resumes with a Range request.
func TestPullKilledResumes(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildValuescope(t)
	h, commit, local := testHub(t)
	const path = "data/train-00000-of-00001.jsonl"
	const at = 2_000_000
	h.StallAfter(path, at)
	cmd := exec.Command(bin, "datasets", "pull", "hf://lmsys/arena/"+path)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	repo := filepath.Join(os.Getenv("HF_HUB_CACHE"), "datasets--lmsys--arena")
	var part string
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if m, _ := filepath.Glob(filepath.Join(repo, "blobs", "*.incomplete")); len(m) == 1 {
			if st, err := os.Stat(m[0]); err == nil && st.Size() == at {
				part = m[0]
				break
			}
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("no .incomplete of %d bytes\n%s", at, stderr.String())
		}
	}
	cmd.Process.Kill()
	cmd.Wait()
	entries, _ := os.ReadDir(filepath.Join(repo, "blobs"))
	if len(entries) != 1 || filepath.Join(repo, "blobs", entries[0].Name()) != part {
		t.Errorf("killed pull left %v in blobs, want only %s", entries, filepath.Base(part))
	}
	if _, err := os.Stat(filepath.Join(repo, "snapshots")); err == nil {
		t.Error("killed pull left a snapshot")
	}
	h.StallAfter(path, -1)
	h.Requests()
	code, out, errs := valuescope(t, "datasets", "pull", "hf://lmsys/arena/"+path)
	if code != 0 {
		t.Fatalf("resumed pull: exit %d: %s", code, errs)
	}
	resumed := false
	for _, r := range h.Requests() {
		resumed = resumed || r.Range == "bytes=2000000-"
	}
	if !resumed {
		t.Error("the second pull did not resume with Range: bytes=2000000-")
	}
	got, _ := os.ReadFile(strings.TrimSpace(out))
	want, _ := os.ReadFile(local[path])
	if !bytes.Equal(got, want) || !strings.Contains(out, commit) {
		t.Errorf("resumed file (%s, %d bytes) is not the Hub's (%d bytes)", out, len(got), len(want))
	}
}

// A run over an hf:// path records the repository, commit and hashes; a
// branch that moved is refused on resume; a pinned one is not affected.
func TestRunHub(t *testing.T) {
	h, commit, local := testHub(t)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "run.toml")
	os.WriteFile(cfgPath, []byte("[dataset]\npaths = [\"hf://lmsys/arena/data/*.jsonl\"]\nlimit = 40\n"+
		"[[stages]]\nname = \"values\"\nplugin = \"builtin:cue-values\"\n"), 0o644)
	out := filepath.Join(dir, "run")
	if code, _, errs := valuescope(t, "run", "--quiet", "--out", out, cfgPath); code != 0 {
		t.Fatalf("run: exit %d: %s", code, errs)
	}
	// The report reads the run's dataset (its languages) from the cache.
	if page, err := os.ReadFile(filepath.Join(out, "report.html")); err != nil || bytes.Contains(page, []byte("languages not checked")) {
		t.Errorf("report.html (%v) did not read the hf:// dataset: %s", err, regexpNote.Find(page))
	}
	// So does the explorer's text index.
	e, err := explore.Open(context.Background(), []string{out}, explore.Options{Text: true})
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(time.Minute); !e.Status().Done && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	if st := e.Status(); !st.Done || st.Error != "" || st.Read == 0 {
		t.Errorf("explore's text index over the hf:// run: %+v", st)
	}
	e.Close()
	m, err := runfolder.Folder(out).ReadManifest()
	if err != nil {
		t.Fatal(err)
	}
	want, _ := os.ReadFile(local["data/train-00000-of-00001.jsonl"])
	if len(m.Dataset.Hub) != 1 || m.Dataset.Hub[0].Commit != commit || m.Dataset.Hub[0].Repo != "lmsys/arena" ||
		len(m.Dataset.Hub[0].Files) != 1 || m.Dataset.Hub[0].Files[0].SHA256 != m.Dataset.Files[0].SHA256 ||
		m.Dataset.Files[0].Size != int64(len(want)) || m.Dataset.Paths[0] != "hf://lmsys/arena/data/*.jsonl" {
		t.Fatalf("manifest dataset: %+v\nhub %+v", m.Dataset, m.Dataset.Hub)
	}
	// The same run again resumes over the same commit.
	if code, _, errs := valuescope(t, "run", "--quiet", "--no-report", "--out", out, cfgPath); code != 0 {
		t.Fatalf("rerun: exit %d: %s", code, errs)
	}
	// main moves on: the folder's run began on the other commit.
	moved := h.Commit("lmsys/arena", "main", fakehub.File{Path: "data/train-00000-of-00001.jsonl", Data: want[:len(want)/2], LFS: true})
	h.Requests()
	pinnedPath := "hf://lmsys/arena@" + commit + "/data/*.jsonl"
	code, _, errs := valuescope(t, "run", "--quiet", "--no-report", "--out", out, cfgPath)
	if code == 0 || !strings.Contains(errs, "the dataset changed") || !strings.Contains(errs, moved) || !strings.Contains(errs, "run over "+pinnedPath) {
		t.Errorf("run after main moved: exit %d: %s", code, errs)
	}
	if n := fakehub.Downloads(h.Requests()); n != 0 {
		t.Errorf("the refused run downloaded %d files of the new commit", n)
	}
	// Pinned to the new commit, it is refused too, with no branch hint.
	code, _, errs = valuescope(t, "run", "--quiet", "--no-report", "--out", out, "--dataset", "hf://lmsys/arena@"+moved+"/data/*.jsonl", cfgPath)
	if code == 0 || !strings.Contains(errs, "the dataset changed") || strings.Contains(errs, "a branch moves") {
		t.Errorf("run pinned to the new commit: exit %d: %s", code, errs)
	}
	if n := fakehub.Downloads(h.Requests()); n != 0 {
		t.Errorf("the refused pinned run downloaded %d files", n)
	}
	// The pinned path the refusal names finishes the run in the same
	// folder, and so it does with another HF_HUB_CACHE (the files are
	// the Hub's, whichever cache holds them).
	if code, _, errs := valuescope(t, "run", "--quiet", "--no-report", "--out", out, "--dataset", pinnedPath, cfgPath); code != 0 {
		t.Errorf("pinned rerun into the branch's folder: exit %d: %s", code, errs)
	}
	t.Setenv("HF_HUB_CACHE", filepath.Join(t.TempDir(), "other-cache"))
	if code, _, errs := valuescope(t, "run", "--quiet", "--no-report", "--out", out, "--dataset", pinnedPath, cfgPath); code != 0 {
		t.Errorf("pinned rerun with another HF_HUB_CACHE: exit %d: %s", code, errs)
	}
	// --offline asks the Hub nothing: from the cache it runs; from an
	// empty cache it fails saying so.
	h.Requests()
	if code, _, errs := valuescope(t, "run", "--quiet", "--no-report", "--offline", "--out", out, "--dataset", pinnedPath, cfgPath); code != 0 {
		t.Errorf("offline rerun from the cache: exit %d: %s", code, errs)
	}
	t.Setenv("HF_HUB_CACHE", filepath.Join(t.TempDir(), "empty-cache"))
	if code, _, errs := valuescope(t, "run", "--quiet", "--no-report", "--offline", "--out", filepath.Join(dir, "offline"), cfgPath); code == 0 || !strings.Contains(errs, "not in the cache") {
		t.Errorf("offline run with an empty cache: exit %d: %s", code, errs)
	}
	if rs := h.Requests(); len(rs) != 0 {
		t.Errorf("run --offline asked the Hub %d times (%s ...)", len(rs), rs[0].Path)
	}
	// Pinned to the first commit, a new run reads the first commit's file.
	pinned := filepath.Join(dir, "pinned")
	if code, _, errs := valuescope(t, "run", "--quiet", "--no-report", "--out", pinned, "--dataset", "hf://lmsys/arena@"+commit+"/data/*.jsonl", cfgPath); code != 0 {
		t.Fatalf("pinned run: exit %d: %s", code, errs)
	}
	p, _ := runfolder.Folder(pinned).ReadManifest()
	if p.Dataset.Hub[0].Commit != commit || p.Dataset.Files[0].SHA256 != m.Dataset.Files[0].SHA256 {
		t.Errorf("pinned run read %+v", p.Dataset.Hub[0])
	}
}

var regexpNote = regexp.MustCompile(`[^<>]*languages not checked[^<>]*`)

// Shards of an hf:// run pulled into different caches (two machines) are
// one run's: merge joins them.
func TestMergeHubShardsOtherCaches(t *testing.T) {
	_, commit, _ := testHub(t)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "run.toml")
	os.WriteFile(cfgPath, []byte("[dataset]\npaths = [\"hf://lmsys/arena/data/*.jsonl\"]\nlimit = 40\n"+
		"[[stages]]\nname = \"values\"\nplugin = \"builtin:cue-values\"\n"), 0o644)
	var shards []string
	for i, path := range []string{"hf://lmsys/arena/data/*.jsonl", "hf://lmsys/arena@" + commit + "/data/*.jsonl"} {
		t.Setenv("HF_HUB_CACHE", filepath.Join(t.TempDir(), "cache"))
		out := filepath.Join(dir, fmt.Sprintf("shard%d", i))
		if code, _, errs := valuescope(t, "run", "--quiet", "--no-report", "--shard", fmt.Sprintf("%d/2", i), "--dataset", path, "--out", out, cfgPath); code != 0 {
			t.Fatalf("shard %d: exit %d: %s", i+1, code, errs)
		}
		shards = append(shards, out)
	}
	if code, out, errs := valuescope(t, append([]string{"merge", "--no-report", filepath.Join(dir, "merged")}, shards...)...); code != 0 {
		t.Errorf("merge of shards from two caches: exit %d: %s%s", code, out, errs)
	}
}

// A config naming a malformed hf:// path is refused by config.Load with
// the key and line.
func TestConfigHubPath(t *testing.T) {
	testHub(t)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "run.toml")
	os.WriteFile(cfgPath, []byte("[dataset]\npaths = [\"hf://only-owner\"]\n[[stages]]\nname = \"values\"\nplugin = \"builtin:cue-values\"\n"), 0o644)
	code, _, errs := valuescope(t, "validate", cfgPath)
	if code == 0 || !strings.Contains(errs, "dataset.paths[0]") || !strings.Contains(errs, "no dataset name") {
		t.Errorf("validate: exit %d: %s", code, errs)
	}
}
