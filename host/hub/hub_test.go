package hub_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valuescope/valuescope/host/dataset"
	"github.com/valuescope/valuescope/host/hub"
	"github.com/valuescope/valuescope/internal/fakehub"
	"github.com/valuescope/valuescope/internal/shareddata"
)

// realFiles are real public files served by the test Hub: Chatbot Arena
// conversations (JSONL, an LFS file as on the Hub), the built WildChat-shaped
// Parquet fixture (LFS), and a small README (a plain git file).
func realFiles(t *testing.T) []fakehub.File { return realFilesTB(t) }

func realFilesTB(t testing.TB) []fakehub.File {
	t.Helper()
	arena, err := os.ReadFile(shareddata.Path(t, "chatbot-arena/chatbot_arena_messages.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	wild, err := os.ReadFile("../dataset/testdata/wildchat_built.parquet")
	if err != nil {
		t.Fatal(err)
	}
	return []fakehub.File{
		{Path: "README.md", Data: []byte("---\nlicense: cc-by-4.0\n---\n# test dataset\n")},
		{Path: ".gitattributes", Data: []byte("*.parquet filter=lfs diff=lfs merge=lfs -text\n")},
		{Path: "data/train-00000-of-00001.jsonl", Data: arena, LFS: true},
		{Path: "wildchat/train-00000.parquet", Data: wild, LFS: true},
		{Path: "extra/small.json", Data: []byte(`[{"conversations":[{"from":"human","value":"hi"},{"from":"gpt","value":"hello"}]}]`)},
	}
}

func newClient(t *testing.T, h *fakehub.Hub) *hub.Client {
	return &hub.Client{Endpoint: h.URL(), Cache: t.TempDir(), Retries: 3, Backoff: time.Millisecond}
}

func pull(t *testing.T, c *hub.Client, path string) *hub.Snapshot {
	t.Helper()
	ref, err := hub.Parse(path)
	if err != nil {
		t.Fatal(err)
	}
	s, err := c.Pull(context.Background(), ref, dataset.IsDataFile)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestParse(t *testing.T) {
	for in, want := range map[string]hub.Ref{
		"hf://allenai/WildChat-1M":                          {Repo: "allenai/WildChat-1M", Revision: "main"},
		"hf://datasets/lmsys/lmsys-chat-1m@v1.0/data/*":     {Repo: "lmsys/lmsys-chat-1m", Revision: "v1.0", Glob: "data/*"},
		"hf://o/n@refs%2Fpr%2F3/**/*.parquet":               {Repo: "o/n", Revision: "refs/pr/3", Glob: "**/*.parquet"},
		"hf://o/n@0123456789abcdef0123456789abcdef01234567": {Repo: "o/n", Revision: "0123456789abcdef0123456789abcdef01234567"},
	} {
		got, err := hub.Parse(in)
		if err != nil || got != want {
			t.Errorf("Parse(%q) = %+v, %v; want %+v", in, got, err, want)
		}
		if back, _ := hub.Parse(got.String()); back != got {
			t.Errorf("%q: String %q does not parse back", in, got.String())
		}
	}
	for _, bad := range []string{"hf://", "hf://onlyowner", "hf://o/n@", "hf://../n", "hf://o/n/../../x", "hf://o/n%2F/x", "/local/path"} {
		if _, err := hub.Parse(bad); err == nil {
			t.Errorf("Parse(%q) accepted", bad)
		}
	}
}

// A pull lays the files out as the official client does, and a second
// pull downloads nothing.
func TestPullCacheLayout(t *testing.T) {
	h := fakehub.New(t)
	files := realFiles(t)
	commit := h.Commit("lmsys/arena", "main", files...)
	c := newClient(t, h)
	s := pull(t, c, "hf://lmsys/arena")
	if s.Commit != commit || len(s.Files) != 3 || s.Fetched != 3 {
		t.Fatalf("snapshot %+v: want commit %s, the 3 data files fetched", s, commit)
	}
	repo := filepath.Join(c.Cache, "datasets--lmsys--arena")
	if b, err := os.ReadFile(filepath.Join(repo, "refs", "main")); err != nil || string(b) != commit {
		t.Errorf("refs/main = %q, %v; want %s", b, err, commit)
	}
	for _, f := range s.Files {
		want := filepath.Join(repo, "snapshots", commit, filepath.FromSlash(f.Path))
		if f.Local != want {
			t.Errorf("%s at %s, want %s", f.Path, f.Local, want)
		}
		etag := f.SHA256 // an LFS file's blob is named by its SHA-256, a plain one's by its git blob id
		if etag == "" {
			etag = f.GitOID
		}
		target, err := os.Readlink(f.Local)
		if err != nil || filepath.IsAbs(target) || filepath.Join(filepath.Dir(f.Local), target) != filepath.Join(repo, "blobs", etag) {
			t.Errorf("%s: link %q (%v), want a relative link to blobs/ETAG", f.Path, target, err)
		}
		got, _ := os.ReadFile(f.Local)
		for _, src := range files {
			if src.Path == f.Path && !bytes.Equal(got, src.Data) {
				t.Errorf("%s: cached bytes differ from the Hub's", f.Path)
			}
		}
	}
	h.Requests()
	again := pull(t, c, "hf://lmsys/arena")
	if n := fakehub.Downloads(h.Requests()); n != 0 || again.Fetched != 0 {
		t.Errorf("second pull downloaded %d files (Fetched %d), want none", n, again.Fetched)
	}
	// A pattern selects any file, data or not, "**" across folders.
	g := pull(t, c, "hf://lmsys/arena/**/*.json*")
	if len(g.Files) != 2 || g.Files[0].Path != "data/train-00000-of-00001.jsonl" || g.Files[1].Path != "extra/small.json" {
		t.Errorf("glob selected %+v", g.Files)
	}
}

// Files the Hugging Face tools left in the cache (blobs and snapshot
// links, the official layout) are used without a download.
func TestReusesOfficialCache(t *testing.T) {
	h := fakehub.New(t)
	data := []byte(`{"id":"1","messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"hello"}]}` + "\n")
	commit := h.Commit("o/n", "main", fakehub.File{Path: "train.jsonl", Data: data, LFS: true})
	c := newClient(t, h)
	ref, _ := hub.Parse("hf://o/n")
	list, err := c.List(context.Background(), ref, dataset.IsDataFile)
	if err != nil {
		t.Fatal(err)
	}
	// Laid out by hand as huggingface_hub's hf_hub_download does.
	repo := filepath.Join(c.Cache, "datasets--o--n")
	os.MkdirAll(filepath.Join(repo, "blobs"), 0o755)
	os.MkdirAll(filepath.Join(repo, "snapshots", commit), 0o755)
	os.WriteFile(filepath.Join(repo, "blobs", list.Files[0].SHA256), data, 0o644)
	os.Symlink("../../blobs/"+list.Files[0].SHA256, filepath.Join(repo, "snapshots", commit, "train.jsonl"))
	h.Requests()
	s := pull(t, c, "hf://o/n")
	if n := fakehub.Downloads(h.Requests()); n != 0 || s.Fetched != 0 {
		t.Errorf("downloaded %d files over the official cache's copy", n)
	}
}

// A connection dropped mid-download leaves only the .incomplete file; the
// next call asks for the rest with Range and the file verifies.
func TestResumeAfterDrop(t *testing.T) {
	h := fakehub.New(t)
	files := realFiles(t)
	h.Commit("o/n", "main", files...)
	c := newClient(t, h)
	c.Retries = -1
	const path = "data/train-00000-of-00001.jsonl"
	h.DropAfter(path, 1_000_000)
	ref, _ := hub.Parse("hf://o/n/" + path)
	if _, err := c.Pull(context.Background(), ref, nil); err == nil || !strings.Contains(err.Error(), "broke off after 1000000") {
		t.Fatalf("dropped download: err %v", err)
	}
	blobs := filepath.Join(c.Cache, "datasets--o--n", "blobs")
	entries, _ := os.ReadDir(blobs)
	if len(entries) != 1 || !strings.HasSuffix(entries[0].Name(), ".incomplete") {
		t.Fatalf("after a broken download the cache holds %v, want one .incomplete", entries)
	}
	if st, _ := os.Stat(filepath.Join(blobs, entries[0].Name())); st.Size() != 1_000_000 {
		t.Errorf(".incomplete holds %d bytes", st.Size())
	}
	if _, err := os.Stat(filepath.Join(c.Cache, "datasets--o--n", "snapshots")); err == nil {
		t.Error("a snapshot link exists for a file not downloaded")
	}
	h.Requests()
	s := pull(t, c, "hf://o/n/"+path)
	var ranges []string
	for _, r := range h.Requests() {
		if r.Range != "" {
			ranges = append(ranges, r.Range)
		}
	}
	if len(ranges) == 0 || ranges[len(ranges)-1] != "bytes=1000000-" {
		t.Errorf("resume sent ranges %v, want bytes=1000000-", ranges)
	}
	if s.FetchedBytes != int64(len(files[2].Data))-1_000_000 {
		t.Errorf("resume fetched %d bytes, want the rest %d", s.FetchedBytes, len(files[2].Data)-1_000_000)
	}
	if got, _ := os.ReadFile(s.Files[0].Local); !bytes.Equal(got, files[2].Data) {
		t.Error("resumed file differs from the Hub's")
	}

	// With retries the same call resumes by itself.
	c2 := newClient(t, h)
	h.DropAfter("wildchat/train-00000.parquet", 5000)
	s2 := pull(t, c2, "hf://o/n/wildchat/*.parquet")
	if got, _ := os.ReadFile(s2.Files[0].Local); !bytes.Equal(got, files[3].Data) {
		t.Error("file resumed within the call differs from the Hub's")
	}
}

// Bytes that are not the listed file are refused and nothing is kept, for
// an LFS file (SHA-256) and a plain one (git blob id).
func TestWrongHashRefused(t *testing.T) {
	h := fakehub.New(t)
	h.Commit("o/n", "main", realFiles(t)...)
	c := newClient(t, h)
	for _, path := range []string{"wildchat/train-00000.parquet", "extra/small.json"} {
		h.Corrupt(path, true)
		ref, _ := hub.Parse("hf://o/n/" + path)
		_, err := c.Pull(context.Background(), ref, nil)
		var he *hub.HashError
		if !errors.As(err, &he) || !strings.Contains(err.Error(), "refused, not cached") {
			t.Fatalf("%s corrupt: err %v, want a HashError", path, err)
		}
		if path == "extra/small.json" && he.What != "git blob id" {
			t.Errorf("plain file checked by %s", he.What)
		}
		entries, _ := os.ReadDir(filepath.Join(c.Cache, "datasets--o--n", "blobs"))
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), he.Want) {
				t.Errorf("%s: corrupt download left %s in blobs", path, e.Name())
			}
		}
		h.Corrupt(path, false)
		s := pull(t, c, "hf://o/n/"+path)
		if s.Fetched != 1 {
			t.Errorf("%s: fetched %d after the fault cleared", path, s.Fetched)
		}
	}
}

func TestGated(t *testing.T) {
	h := fakehub.New(t)
	h.Commit("meta/gated", "main", realFiles(t)...)
	h.Gate("meta/gated", "accepted-token")
	ref, _ := hub.Parse("hf://meta/gated")
	for _, tc := range []struct {
		token, status, says string
	}{
		{"", "401", "accept its terms there, then set HF_TOKEN"},
		{"other-token", "403", "the account of HF_TOKEN has no access to it yet: accept its terms at " + h.URL() + "/datasets/meta/gated"},
	} {
		c := newClient(t, h)
		c.Token = tc.token
		_, err := c.Pull(context.Background(), ref, dataset.IsDataFile)
		t.Logf("token %q: %v", tc.token, err)
		var he *hub.Error
		if !errors.As(err, &he) || !he.Gated() || !strings.Contains(err.Error(), tc.status) || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("token %q: err %v; want %s GatedRepo saying %q", tc.token, err, tc.status, tc.says)
		}
		if entries, _ := os.ReadDir(filepath.Join(c.Cache, "datasets--meta--gated", "blobs")); len(entries) != 0 {
			t.Errorf("refused download left %v", entries)
		}
	}
	c := newClient(t, h)
	c.Token = "accepted-token"
	if _, err := c.Pull(context.Background(), ref, dataset.IsDataFile); err != nil {
		t.Errorf("with an accepted token: %v", err)
	}
	for _, r := range h.Requests() {
		if strings.HasPrefix(r.Path, "/cdn/") && r.Auth != "" {
			t.Errorf("the token was sent to the CDN (%s)", r.Path)
		}
	}
}

func TestNotFound(t *testing.T) {
	h := fakehub.New(t)
	h.Commit("o/n", "main", realFiles(t)...)
	h.Commit("o/private", "main", realFiles(t)...)
	h.Private("o/private", "owner-token")
	c := newClient(t, h)
	for path, says := range map[string]string{
		"hf://o/n@v9":            `404 Not Found to GET ` + h.URL() + `/api/datasets/o/n/revision/v9 (RevisionNotFound): Invalid rev id: v9` + "\n" + `dataset o/n has no revision "v9"`,
		"hf://o/missing":         "(RepoNotFound): Repository not found\nno dataset o/missing on " + h.URL(),
		"hf://o/private":         "a private dataset needs HF_TOKEN",
		"hf://o/n/nothing/*.csv": `holds no file matching "nothing/*.csv"; its files: .gitattributes, README.md, data/train-00000-of-00001.jsonl`,
		"hf://o/n/README.md/x":   `no file matching "README.md/x"`,
	} {
		ref, _ := hub.Parse(path)
		_, err := c.Pull(context.Background(), ref, dataset.IsDataFile)
		if err == nil || !strings.Contains(err.Error(), says) {
			t.Errorf("%s: err %v\nwant it to say %q", path, err, says)
		}
	}
	h2 := fakehub.New(t)
	h2.Commit("o/docs", "main", fakehub.File{Path: "README.md", Data: []byte("# x\n")})
	ref, _ := hub.Parse("hf://o/docs")
	if _, err := newClient(t, h2).Pull(context.Background(), ref, dataset.IsDataFile); err == nil || !strings.Contains(err.Error(), "no data file") {
		t.Errorf("dataset without data files: %v", err)
	}
	bad := newClient(t, h)
	bad.Token = "bad"
	ref, _ = hub.Parse("hf://o/n")
	if _, err := bad.Pull(context.Background(), ref, nil); err == nil || !strings.Contains(err.Error(), "the Hub refused HF_TOKEN") {
		t.Errorf("invalid token: %v", err)
	}
}

// A branch that moves resolves to the new commit; the old commit stays
// reachable pinned, from the cache, with no download.
func TestBranchMovesPinnedStays(t *testing.T) {
	h := fakehub.New(t)
	first := h.Commit("o/n", "main", fakehub.File{Path: "a.jsonl", Data: []byte(`{"id":"1","messages":[{"role":"user","content":"v1"}]}` + "\n"), LFS: true})
	c := newClient(t, h)
	s1 := pull(t, c, "hf://o/n")
	second := h.Commit("o/n", "main", fakehub.File{Path: "a.jsonl", Data: []byte(`{"id":"1","messages":[{"role":"user","content":"v2"}]}` + "\n"), LFS: true})
	s2 := pull(t, c, "hf://o/n")
	if s1.Commit != first || s2.Commit != second || s1.Files[0].Local == s2.Files[0].Local || s1.Files[0].SHA256 == s2.Files[0].SHA256 {
		t.Fatalf("moved branch: %s then %s (%s, %s)", s1.Commit, s2.Commit, s1.Files[0].Local, s2.Files[0].Local)
	}
	h.Requests()
	p := pull(t, c, "hf://o/n@"+first)
	if p.Commit != first || p.Files[0].Local != s1.Files[0].Local || fakehub.Downloads(h.Requests()) != 0 {
		t.Errorf("pinned pull: %+v", p)
	}
	// Offline, the branch is what refs/main says, and nothing is asked.
	off := &hub.Client{Endpoint: "http://127.0.0.1:1", Cache: c.Cache, Offline: true}
	o := pull(t, off, "hf://o/n")
	if o.Commit != second || o.Files[0].Local != s2.Files[0].Local || o.Files[0].SHA256 != s2.Files[0].SHA256 {
		t.Errorf("offline: %+v, want %+v", o, s2)
	}
	ref, _ := hub.Parse("hf://o/other")
	if _, err := off.Pull(context.Background(), ref, nil); err == nil || !strings.Contains(err.Error(), "HF_HUB_OFFLINE is set") {
		t.Errorf("offline, not cached: %v", err)
	}
}

func TestTreePages(t *testing.T) {
	h := fakehub.New(t)
	h.PageSize = 2
	var files []fakehub.File
	for _, n := range []string{"a", "b", "c", "d", "e"} {
		files = append(files, fakehub.File{Path: "part/" + n + ".jsonl", Data: []byte(`{"id":"` + n + `","messages":[]}` + "\n")})
	}
	h.Commit("o/n", "main", files...)
	s := pull(t, newClient(t, h), "hf://o/n")
	if len(s.Files) != 5 || s.Files[4].Path != "part/e.jsonl" {
		t.Errorf("paged listing gave %+v", s.Files)
	}
}

// Two pulls at once share the downloads (a lock per blob) and both end
// with whole files.
func TestConcurrentPulls(t *testing.T) {
	h := fakehub.New(t)
	files := realFiles(t)
	h.Commit("o/n", "main", files...)
	cache := t.TempDir()
	var wg sync.WaitGroup
	errs := make([]error, 4)
	snaps := make([]*hub.Snapshot, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &hub.Client{Endpoint: h.URL(), Cache: cache}
			ref, _ := hub.Parse("hf://o/n")
			snaps[i], errs[i] = c.Pull(context.Background(), ref, dataset.IsDataFile)
		}()
	}
	wg.Wait()
	total := 0
	for i, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
		total += snaps[i].Fetched
		for _, f := range snaps[i].Files {
			got, _ := os.ReadFile(f.Local)
			if f.Size != int64(len(got)) {
				t.Errorf("pull %d: %s holds %d bytes, want %d", i, f.Path, len(got), f.Size)
			}
		}
	}
	if n := fakehub.Downloads(h.Requests()); n != 3 || total != 3 {
		t.Errorf("4 pulls at once downloaded %d times (%d counted), want each of the 3 files once", n, total)
	}
}

func TestFromEnv(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HF_ENDPOINT", "http://hub.example/")
	t.Setenv("HF_HOME", home)
	t.Setenv("HF_HUB_CACHE", "")
	t.Setenv("HF_TOKEN", "")
	t.Setenv("HF_TOKEN_PATH", "")
	t.Setenv("HF_HUB_OFFLINE", "1")
	os.WriteFile(filepath.Join(home, "token"), []byte("hf_fromfile\n"), 0o600)
	c := hub.FromEnv()
	if c.Endpoint != "http://hub.example" || c.Cache != filepath.Join(home, "hub") || c.Token != "hf_fromfile" || !c.Offline {
		t.Errorf("FromEnv = %+v", c)
	}
	t.Setenv("HF_HUB_CACHE", "/elsewhere")
	t.Setenv("HF_TOKEN", "hf_env")
	t.Setenv("HF_HUB_OFFLINE", "")
	t.Setenv("HF_ENDPOINT", "")
	c = hub.FromEnv()
	if c.Endpoint != hub.DefaultEndpoint || c.Cache != "/elsewhere" || c.Token != "hf_env" || c.Offline {
		t.Errorf("FromEnv = %+v", c)
	}
}
