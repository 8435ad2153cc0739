// Package fakehub is a Hugging Face Hub served on loopback for tests: the
// endpoints and response shapes the official huggingface_hub client reads
// (revision info, the paged recursive tree, resolve with its X-Repo-Commit,
// ETag, X-Linked-Etag and X-Linked-Size headers and a redirect to a CDN for
// LFS files, Range requests, X-Error-Code and X-Error-Message on errors),
// with knobs to break it: a connection dropped mid-download, bytes that are
// not the listed file, gated and private datasets.
package fakehub

import (
	"cmp"
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// File is one file of a commit. LFS files are served, as on the Hub, by a
// redirect to the CDN, and listed with their SHA-256.
type File struct {
	Path string
	Data []byte
	LFS  bool
}

// Request is one request the hub received.
type Request struct {
	Method, Path, Range, Auth string
	// Served: the answer carried file bytes (a download).
	Served bool
}

// Hub is the fake Hub. Its fields may be set between requests.
type Hub struct {
	// Server is the Hub; CDN serves LFS files' bytes, on another host name
	// (localhost) as the real CDN is, so that a client's token is not sent
	// there.
	Server, CDN *httptest.Server
	// PageSize is how many tree entries a page holds (the Hub: 1,000).
	PageSize int
	// CDNHost, if set, is the host name the redirect to the CDN names
	// (with the CDN's port), e.g. a subdomain of the Hub's as
	// cdn-lfs.huggingface.co is; the client must then dial it to loopback.
	// "": localhost.
	CDNHost string

	mu       sync.Mutex
	repos    map[string]*repo
	drop     map[string]int64 // path -> bytes after which the next download of it breaks off
	stall    map[string]int64 // path -> bytes after which downloads of it hang until the client goes
	corrupt  map[string]bool  // path -> serve other bytes
	requests []*Request
}

type repo struct {
	branches map[string]string
	commits  map[string][]File
	gated    bool
	private  bool
	tokens   []string // tokens with access (gated, private)
}

// New starts a hub, closed when the test ends.
func New(tb testing.TB) *Hub {
	h := &Hub{PageSize: 1000, repos: map[string]*repo{}, drop: map[string]int64{}, stall: map[string]int64{}, corrupt: map[string]bool{}}
	h.Server = httptest.NewServer(http.HandlerFunc(h.serve))
	tb.Cleanup(h.Server.Close)
	h.CDN = httptest.NewServer(http.HandlerFunc(h.serve))
	tb.Cleanup(h.CDN.Close)
	return h
}

// URL is the hub's endpoint (HF_ENDPOINT).
func (h *Hub) URL() string { return h.Server.URL }

// Commit makes a commit of files on branch of dataset repo (OWNER/NAME),
// creating the dataset, and returns its id.
func (h *Hub) Commit(repoID, branch string, files ...File) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	r := h.repos[repoID]
	if r == nil {
		r = &repo{branches: map[string]string{}, commits: map[string][]File{}}
		h.repos[repoID] = r
	}
	s := sha1.New()
	fmt.Fprintf(s, "%s\x00%s\x00%d", repoID, r.branches[branch], len(r.commits))
	for _, f := range files {
		fmt.Fprintf(s, "\x00%s\x00%s", f.Path, gitOID(f.Data))
	}
	id := hex.EncodeToString(s.Sum(nil))
	fs := slices.Clone(files)
	slices.SortFunc(fs, func(a, b File) int { return strings.Compare(a.Path, b.Path) })
	r.commits[id] = fs
	r.branches[branch] = id
	return id
}

// Gate makes a dataset gated: downloads need a token among tokens (an
// account that accepted its terms); listings stay public, as on the Hub.
func (h *Hub) Gate(repoID string, tokens ...string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.repos[repoID].gated, h.repos[repoID].tokens = true, tokens
}

// Private makes a dataset answer as missing to any token not among tokens.
func (h *Hub) Private(repoID string, tokens ...string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.repos[repoID].private, h.repos[repoID].tokens = true, tokens
}

// DropAfter makes the next download of path break off (the connection
// closed) after n bytes of the body.
func (h *Hub) DropAfter(path string, n int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.drop[path] = n
}

// StallAfter makes downloads of path hang after n bytes of the body until
// the client goes away (a process killed mid-download); n < 0 ends that.
func (h *Hub) StallAfter(path string, n int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if n < 0 {
		delete(h.stall, path)
		return
	}
	h.stall[path] = n
}

// Corrupt makes downloads of path serve other bytes of the same length.
func (h *Hub) Corrupt(path string, on bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.corrupt[path] = on
}

// Requests returns the requests so far and forgets them.
func (h *Hub) Requests() []Request {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []Request
	for _, r := range h.requests {
		out = append(out, *r)
	}
	h.requests = nil
	return out
}

// Downloads counts the requests among rs that carried file bytes.
func Downloads(rs []Request) int {
	n := 0
	for _, r := range rs {
		if r.Served {
			n++
		}
	}
	return n
}

type recKey struct{}

func gitOID(b []byte) string {
	s := sha1.New()
	fmt.Fprintf(s, "blob %d\x00", len(b))
	s.Write(b)
	return hex.EncodeToString(s.Sum(nil))
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func pointer(f File) []byte {
	return fmt.Appendf(nil, "version https://git-lfs.github.com/spec/v1\noid sha256:%s\nsize %d\n", sha(f.Data), len(f.Data))
}

// fail answers as the Hub does: the error's code and message in headers and
// a JSON body.
func fail(w http.ResponseWriter, status int, code, msg string) {
	if code != "" {
		w.Header().Set("X-Error-Code", code)
	}
	w.Header().Set("X-Error-Message", msg)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

func (h *Hub) serve(w http.ResponseWriter, r *http.Request) {
	rec := &Request{Method: r.Method, Path: r.URL.Path, Range: r.Header.Get("Range"), Auth: r.Header.Get("Authorization")}
	h.mu.Lock()
	h.requests = append(h.requests, rec)
	h.mu.Unlock()
	r = r.WithContext(context.WithValue(r.Context(), recKey{}, rec))
	p := r.URL.EscapedPath()
	switch {
	case strings.HasPrefix(p, "/api/datasets/"):
		h.api(w, r, strings.TrimPrefix(p, "/api/datasets/"))
	case strings.HasPrefix(p, "/datasets/"):
		h.resolve(w, r, strings.TrimPrefix(p, "/datasets/"))
	case strings.HasPrefix(p, "/cdn/"):
		h.cdn(w, r, strings.TrimPrefix(p, "/cdn/"))
	default:
		fail(w, http.StatusNotFound, "", "Not Found")
	}
}

// lookup finds the repository and the commit a revision names, answering
// the Hub's errors itself when there is none.
func (h *Hub) lookup(w http.ResponseWriter, r *http.Request, repoID, rev string) (*repo, string, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	rp := h.repos[repoID]
	token := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	if token == "bad" {
		fail(w, http.StatusUnauthorized, "", "Invalid credentials in Authorization header")
		return nil, "", false
	}
	if rp == nil || (rp.private && !slices.Contains(rp.tokens, token)) {
		fail(w, http.StatusUnauthorized, "RepoNotFound", "Repository not found")
		return nil, "", false
	}
	commit := rp.branches[rev]
	if commit == "" {
		if _, ok := rp.commits[rev]; ok {
			commit = rev
		}
	}
	if commit == "" {
		fail(w, http.StatusNotFound, "RevisionNotFound", "Invalid rev id: "+rev)
		return nil, "", false
	}
	return rp, commit, true
}

// splitRepo takes OWNER/NAME/WHAT/REV/REST... apart (REV path-escaped).
func splitRepo(p string) (repoID, what, rev, rest string, ok bool) {
	parts := strings.SplitN(p, "/", 5)
	if len(parts) < 4 {
		return "", "", "", "", false
	}
	rev, err := url.PathUnescape(parts[3])
	if err != nil {
		return "", "", "", "", false
	}
	if len(parts) == 5 {
		if rest, err = url.PathUnescape(parts[4]); err != nil {
			return "", "", "", "", false
		}
	}
	return parts[0] + "/" + parts[1], parts[2], rev, rest, true
}

func (h *Hub) api(w http.ResponseWriter, r *http.Request, p string) {
	repoID, what, rev, rest, ok := splitRepo(p)
	if !ok {
		fail(w, http.StatusNotFound, "", "Not Found")
		return
	}
	rp, commit, ok := h.lookup(w, r, repoID, rev)
	if !ok {
		return
	}
	h.mu.Lock()
	files, gated := rp.commits[commit], rp.gated
	h.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	switch what {
	case "revision":
		sib := []map[string]string{}
		for _, f := range files {
			sib = append(sib, map[string]string{"rfilename": f.Path})
		}
		var g any = false
		if gated {
			g = "manual"
		}
		owner, name, _ := strings.Cut(repoID, "/")
		json.NewEncoder(w).Encode(map[string]any{
			"_id": commit[:24], "id": repoID, "author": owner, "sha": commit,
			"lastModified": time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), "private": false, "gated": g,
			"disabled": false, "downloads": 0, "likes": 0, "tags": []string{}, "description": name,
			"cardData": map[string]any{}, "siblings": sib, "createdAt": time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC),
		})
	case "tree":
		h.tree(w, r, files, strings.Trim(rest, "/"))
	default:
		fail(w, http.StatusNotFound, "", "Not Found")
	}
}

// tree lists files and folders under dir, recursively when asked, paged
// by a cursor in the Link header.
func (h *Hub) tree(w http.ResponseWriter, r *http.Request, files []File, dir string) {
	recursive := r.URL.Query().Get("recursive") == "true"
	var entries []map[string]any
	dirs := map[string]bool{}
	for _, f := range files {
		rel := f.Path
		if dir != "" {
			var ok bool
			if rel, ok = strings.CutPrefix(f.Path, dir+"/"); !ok {
				continue
			}
		}
		parts := strings.Split(rel, "/")
		for i := 1; i < len(parts); i++ {
			d := strings.Join(parts[:i], "/")
			if dir != "" {
				d = dir + "/" + d
			}
			if !dirs[d] && (recursive || i == 1) {
				dirs[d] = true
				entries = append(entries, map[string]any{"type": "directory", "oid": gitOID([]byte(d)), "size": 0, "path": d})
			}
		}
		if !recursive && len(parts) > 1 {
			continue
		}
		e := map[string]any{"type": "file", "path": f.Path}
		if f.LFS {
			ptr := pointer(f)
			e["oid"], e["size"] = gitOID(ptr), len(f.Data)
			e["lfs"] = map[string]any{"oid": sha(f.Data), "size": len(f.Data), "pointerSize": len(ptr)}
		} else {
			e["oid"], e["size"] = gitOID(f.Data), len(f.Data)
		}
		entries = append(entries, e)
	}
	start, _ := strconv.Atoi(r.URL.Query().Get("cursor"))
	end := min(start+max(h.PageSize, 1), len(entries))
	if start > len(entries) {
		start = len(entries)
	}
	if end < len(entries) {
		q := r.URL.Query()
		q.Set("cursor", strconv.Itoa(end))
		next := *r.URL
		next.RawQuery = q.Encode()
		w.Header().Set("Link", fmt.Sprintf(`<%s%s>; rel="next"`, h.Server.URL, next.RequestURI()))
	}
	page := entries[start:end]
	if page == nil {
		page = []map[string]any{}
	}
	json.NewEncoder(w).Encode(page)
}

// resolve serves /datasets/OWNER/NAME/resolve/REV/PATH: a small file
// itself, an LFS file by a 302 to the CDN.
func (h *Hub) resolve(w http.ResponseWriter, r *http.Request, p string) {
	repoID, what, rev, path, ok := splitRepo(p)
	if !ok || what != "resolve" {
		fail(w, http.StatusNotFound, "", "Not Found")
		return
	}
	rp, commit, ok := h.lookup(w, r, repoID, rev)
	if !ok {
		return
	}
	h.mu.Lock()
	files, gated, tokens := rp.commits[commit], rp.gated, rp.tokens
	h.mu.Unlock()
	token := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	if gated && !slices.Contains(tokens, token) {
		if token == "" {
			fail(w, http.StatusUnauthorized, "GatedRepo", fmt.Sprintf("Access to dataset %s is restricted. You must have access to it and be authenticated to access it. Please log in.", repoID))
		} else {
			fail(w, http.StatusForbidden, "GatedRepo", fmt.Sprintf("Access to dataset %s is restricted and you are not in the authorized list. Visit %s/datasets/%s to ask for access.", repoID, h.Server.URL, repoID))
		}
		return
	}
	i := slices.IndexFunc(files, func(f File) bool { return f.Path == path })
	if i < 0 {
		fail(w, http.StatusNotFound, "EntryNotFound", fmt.Sprintf("%s does not exist on %q", path, rev))
		return
	}
	f := files[i]
	w.Header().Set("X-Repo-Commit", commit)
	if f.LFS {
		w.Header().Set("ETag", `"`+gitOID(pointer(f))+`"`)
		w.Header().Set("X-Linked-Etag", `"`+sha(f.Data)+`"`)
		w.Header().Set("X-Linked-Size", strconv.Itoa(len(f.Data)))
		h.mu.Lock()
		host := h.CDNHost
		h.mu.Unlock()
		cdn := strings.Replace(h.CDN.URL, "127.0.0.1", cmp.Or(host, "localhost"), 1)
		w.Header().Set("Location", fmt.Sprintf("%s/cdn/%s?repo=%s&commit=%s&path=%s", cdn, sha(f.Data), url.QueryEscape(repoID), commit, url.QueryEscape(path)))
		w.WriteHeader(http.StatusFound)
		return
	}
	w.Header().Set("ETag", `"`+gitOID(f.Data)+`"`)
	h.send(w, r, f)
}

// cdn serves an LFS file's bytes by its SHA-256, as the Hub's CDN does
// (no token needed: the URL is the permission).
func (h *Hub) cdn(w http.ResponseWriter, r *http.Request, oid string) {
	h.mu.Lock()
	var found *File
	for _, rp := range h.repos {
		for _, fs := range rp.commits {
			for i := range fs {
				if fs[i].LFS && sha(fs[i].Data) == oid {
					found = &fs[i]
				}
			}
		}
	}
	h.mu.Unlock()
	if found == nil {
		http.Error(w, "NoSuchKey", http.StatusNotFound)
		return
	}
	w.Header().Set("ETag", `"`+oid+`"`)
	h.send(w, r, *found)
}

// send writes a file's bytes, honouring "Range: bytes=N-", breaking off or
// corrupting them when told to.
func (h *Hub) send(w http.ResponseWriter, r *http.Request, f File) {
	h.mu.Lock()
	data := f.Data
	if h.corrupt[f.Path] && len(data) > 0 {
		data = slices.Clone(data)
		data[len(data)/2] ^= 0xff
	}
	drop, dropping := h.drop[f.Path]
	delete(h.drop, f.Path)
	stall, stalling := h.stall[f.Path]
	h.mu.Unlock()
	w.Header().Set("Accept-Ranges", "bytes")
	status := http.StatusOK
	body := data
	if rg := r.Header.Get("Range"); rg != "" {
		from, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimPrefix(rg, "bytes="), "-"), 10, 64)
		if err != nil || from < 0 {
			http.Error(w, "bad range", http.StatusBadRequest)
			return
		}
		if from >= int64(len(data)) {
			w.Header().Set("Content-Range", fmt.Sprintf("bytes */%d", len(data)))
			w.WriteHeader(http.StatusRequestedRangeNotSatisfiable)
			return
		}
		body = data[from:]
		status = http.StatusPartialContent
		w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", from, len(data)-1, len(data)))
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	if r.Method == http.MethodHead {
		return
	}
	h.mu.Lock()
	r.Context().Value(recKey{}).(*Request).Served = true
	h.mu.Unlock()
	if stalling && stall < int64(len(body)) {
		w.Write(body[:stall])
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
		case <-time.After(time.Minute):
		}
		panic(http.ErrAbortHandler)
	}
	if dropping && drop < int64(len(body)) {
		w.Write(body[:drop])
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler) // the server closes the connection mid-body
	}
	w.Write(body)
}
