package hub_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gofrs/flock"
	"github.com/valuescope/valuescope/host/hub"
	"github.com/valuescope/valuescope/internal/fakehub"
)

// proxy serves the fake hub through change, which may alter the request or
// answer by itself (returning true).
func proxy(t *testing.T, h *fakehub.Hub, change func(w http.ResponseWriter, r *http.Request) bool) *hub.Client {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !change(w, r) {
			h.Server.Config.Handler.ServeHTTP(w, r)
		}
	}))
	t.Cleanup(s.Close)
	return &hub.Client{Endpoint: s.URL, Cache: t.TempDir()}
}

// A server that ignores Range answers the whole file: the part already
// fetched is dropped and the file still verifies.
func TestRangeIgnored(t *testing.T) {
	h := fakehub.New(t)
	files := realFiles(t)
	h.Commit("o/n", "main", files...)
	c := proxy(t, h, func(w http.ResponseWriter, r *http.Request) bool { r.Header.Del("Range"); return false })
	c.Retries = -1
	const path = "extra/small.json" // served by the Hub itself (an LFS file's bytes come from the CDN)
	h.DropAfter(path, 20)
	ref, _ := hub.Parse("hf://o/n/" + path)
	if _, err := c.Pull(context.Background(), ref, nil); err == nil {
		t.Fatal("dropped download succeeded")
	}
	s, err := c.Pull(context.Background(), ref, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(s.Files[0].Local); !bytes.Equal(got, files[4].Data) || s.FetchedBytes != int64(len(files[4].Data)) {
		t.Errorf("restarted download: %d bytes fetched, equal %v", s.FetchedBytes, bytes.Equal(got, files[4].Data))
	}
}

// A leftover .incomplete longer than the file (not this file's start) is
// started over, not trusted.
func TestOversizedIncomplete(t *testing.T) {
	h := fakehub.New(t)
	files := realFiles(t)
	h.Commit("o/n", "main", files...)
	c := newClient(t, h)
	ref, _ := hub.Parse("hf://o/n/extra/small.json")
	list, err := c.List(context.Background(), ref, nil)
	if err != nil {
		t.Fatal(err)
	}
	blobs := filepath.Join(c.Cache, "datasets--o--n", "blobs")
	os.MkdirAll(blobs, 0o755)
	os.WriteFile(filepath.Join(blobs, list.Files[0].GitOID+".incomplete"), bytes.Repeat([]byte("x"), 10_000), 0o644)
	s := pull(t, c, "hf://o/n/extra/small.json")
	if got, _ := os.ReadFile(s.Files[0].Local); !bytes.Equal(got, files[4].Data) {
		t.Errorf("got %q", got)
	}
}

// Answers that are not the commit or the file asked for are refused.
func TestServedOtherThanAsked(t *testing.T) {
	h := fakehub.New(t)
	files := realFiles(t)
	h.Commit("o/n", "main", files...)
	other := strings.Repeat("f", 40)
	for name, tc := range map[string]struct {
		change func(w http.ResponseWriter, r *http.Request) bool
		says   string
	}{
		"other commit": {func(w http.ResponseWriter, r *http.Request) bool {
			if strings.Contains(r.URL.Path, "/resolve/") {
				w.Header().Set("X-Repo-Commit", other)
				w.WriteHeader(http.StatusOK)
				return true
			}
			return false
		}, "the Hub served commit " + other},
		"other etag": {func(w http.ResponseWriter, r *http.Request) bool {
			if strings.Contains(r.URL.Path, "/resolve/") {
				w.Header().Set("ETag", `"`+other+`"`)
				w.WriteHeader(http.StatusOK)
				return true
			}
			return false
		}, "the Hub served etag " + other},
		"longer than listed": {func(w http.ResponseWriter, r *http.Request) bool {
			if strings.Contains(r.URL.Path, "/resolve/") {
				body := append(append([]byte(nil), files[4].Data...), "trailing junk"...)
				w.Header().Set("Content-Length", strconv.Itoa(len(body)))
				w.Write(body)
				return true
			}
			return false
		}, "has size " + strconv.Itoa(len(files[4].Data)+1)},
		"path out of the repository": {func(w http.ResponseWriter, r *http.Request) bool {
			if strings.Contains(r.URL.Path, "/tree/") {
				w.Write([]byte(`[{"type":"file","path":"../../../etc/cron.d/x","oid":"` + other + `","size":3}]`))
				return true
			}
			return false
		}, `file path "../../../etc/cron.d/x" that is not a relative path`},
		"no hash": {func(w http.ResponseWriter, r *http.Request) bool {
			if strings.Contains(r.URL.Path, "/tree/") {
				w.Write([]byte(`[{"type":"file","path":"extra/small.json","oid":"../../x","size":3}]`))
				return true
			}
			return false
		}, "no usable hash"},
	} {
		c := proxy(t, h, tc.change)
		ref, _ := hub.Parse("hf://o/n/extra/small.json")
		_, err := c.Pull(context.Background(), ref, nil)
		if err == nil || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("%s: err %v, want %q", name, err, tc.says)
		}
		var he *hub.HashError
		if name == "longer than listed" && !errors.As(err, &he) {
			t.Errorf("%s: not a HashError", name)
		}
		if entries, _ := os.ReadDir(filepath.Join(c.Cache, "datasets--o--n", "blobs")); len(entries) != 0 {
			t.Errorf("%s: left %v in the cache", name, entries)
		}
	}
}

// A download another pull holds (its lock) is waited for, not done twice
// at once; the wait ends with the context.
func TestLockHeld(t *testing.T) {
	h := fakehub.New(t)
	h.Commit("o/n", "main", realFiles(t)...)
	c := newClient(t, h)
	ref, _ := hub.Parse("hf://o/n/extra/small.json")
	list, err := c.List(context.Background(), ref, nil)
	if err != nil {
		t.Fatal(err)
	}
	lockDir := filepath.Join(c.Cache, ".locks", "datasets--o--n")
	os.MkdirAll(lockDir, 0o755)
	other := flock.New(filepath.Join(lockDir, list.Files[0].GitOID+".lock"))
	if err := other.Lock(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if _, err := c.Pull(ctx, ref, nil); err == nil || !strings.Contains(err.Error(), "waiting for the cache lock") {
		t.Errorf("pull while the lock is held: %v", err)
	}
	if n := fakehub.Downloads(h.Requests()); n != 0 {
		t.Errorf("downloaded %d times under another's lock", n)
	}
	other.Unlock()
	pull(t, c, "hf://o/n/extra/small.json")
}

// A revision that would climb out of refs/ (or name no single file there)
// is refused by Parse, and by the client for a Ref made by hand; a refs/
// file that does not hold a commit id is not followed.
func TestRevisionTraversal(t *testing.T) {
	for _, bad := range []string{
		"hf://o/n@..%2F..%2Fescaped", "hf://o/n@..", "hf://o/n@%2Fetc", "hf://o/n@a%2F%2Fb", "hf://o/n@a%2F",
		"hf://o/n@a%5Cb", "hf://o/n@a%0Ab", "hf://o/n@.%2Fx", "hf://o/n/data/[a-", "hf://o/n/{a,b",
	} {
		if r, err := hub.Parse(bad); err == nil {
			t.Errorf("Parse(%q) accepted: %+v", bad, r)
		}
	}
	if _, err := hub.Parse("hf://o/n@refs/pr/1/data/*.parquet"); err == nil || !strings.Contains(err.Error(), "%2F") {
		t.Errorf("unescaped refs/pr/1: %v, want a hint to write %%2F", err)
	}
	h := fakehub.New(t)
	h.Commit("o/n", "main", realFiles(t)...)
	root := t.TempDir()
	c := &hub.Client{Endpoint: h.URL(), Cache: filepath.Join(root, "cache")}
	ref := hub.Ref{Repo: "o/n", Revision: "../../../escaped", Glob: "extra/*"}
	if _, err := c.Pull(context.Background(), ref, nil); err == nil {
		t.Error("Pull of a hand-made ref with revision ../../../escaped succeeded")
	}
	off := &hub.Client{Endpoint: "http://127.0.0.1:1", Cache: c.Cache, Offline: true}
	if _, err := off.List(context.Background(), ref, nil); err == nil {
		t.Error("offline List of revision ../../../escaped succeeded")
	}
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && !strings.HasPrefix(p, c.Cache) && p != root {
			t.Errorf("%s written outside the cache", p)
		}
		return nil
	})
	// refs/main naming a path, not a commit, is refused offline.
	refs := filepath.Join(c.Cache, "datasets--o--n", "refs")
	os.MkdirAll(refs, 0o755)
	os.MkdirAll(filepath.Join(c.Cache, "datasets--o--n", "snapshots", "..", "..", "elsewhere"), 0o755)
	os.WriteFile(filepath.Join(refs, "main"), []byte("../../elsewhere"), 0o644)
	main, _ := hub.Parse("hf://o/n")
	if _, err := off.List(context.Background(), main, nil); err == nil || !strings.Contains(err.Error(), "not a commit id") {
		t.Errorf("offline List with refs/main = ../../elsewhere: %v", err)
	}
	if _, _, err := c.Download(context.Background(), main, "../../elsewhere", hub.File{Path: "x", Size: 1, GitOID: strings.Repeat("a", 40)}); err == nil {
		t.Error("Download at commit ../../elsewhere accepted")
	}
}
