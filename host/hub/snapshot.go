package hub

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/bmatcuk/doublestar/v4"
)

// File is one file of a dataset at a commit.
type File struct {
	// Path is the file's path in the repository.
	Path string `json:"path"`
	// Local is the file in the cache (snapshots/COMMIT/PATH), once pulled.
	Local string `json:"local,omitempty"`
	Size  int64  `json:"size"`
	// SHA256 is set for LFS files (the Hub's large files), GitOID (the git
	// blob id) for the others; it is what the download is checked against.
	SHA256 string `json:"sha256,omitempty"`
	GitOID string `json:"git_oid,omitempty"`
}

// etag is the file's name in blobs/, as the official client names it.
func (f File) etag() string {
	if f.SHA256 != "" {
		return f.SHA256
	}
	return f.GitOID
}

// Snapshot is an hf:// path resolved: the commit its revision is and the
// files its pattern selects there, in path order.
type Snapshot struct {
	// URL is the dataset path as written.
	URL      string `json:"url"`
	Repo     string `json:"repo"`
	Revision string `json:"revision"`
	Commit   string `json:"commit"`
	Endpoint string `json:"endpoint"`
	Files    []File `json:"files"`
	// Fetched counts the files and bytes Pull downloaded (the rest were cached).
	Fetched      int   `json:"-"`
	FetchedBytes int64 `json:"-"`
}

// List resolves ref's revision to a commit and lists the files its glob
// selects (every data file, by isData, when it has none; isData nil: every
// file). Offline, both come from the cache. A pattern that selects nothing is
// an error that names the files there are.
func (c *Client) List(ctx context.Context, ref Ref, isData func(string) bool) (*Snapshot, error) {
	if c.envErr != nil {
		return nil, c.envErr
	}
	s := &Snapshot{URL: ref.String(), Repo: ref.Repo, Revision: ref.Revision, Endpoint: c.Endpoint}
	var all []File
	var err error
	if c.Offline {
		s.Commit, all, err = c.cached(ref)
	} else {
		s.Commit, all, err = c.remote(ctx, ref)
	}
	if err != nil {
		return nil, err
	}
	for _, f := range all {
		if ref.Glob != "" {
			if ok, _ := doublestar.Match(ref.Glob, f.Path); !ok {
				continue
			}
		} else if isData != nil && !isData(path.Base(f.Path)) {
			continue
		}
		s.Files = append(s.Files, f)
	}
	if len(s.Files) == 0 {
		var names []string
		for _, f := range all {
			names = append(names, f.Path)
		}
		if len(names) > 20 {
			names = append(names[:20], fmt.Sprintf("... (%d more)", len(names)-20))
		}
		what := "no data file (.jsonl, .json, .parquet, optionally .gz or .zst); name the files with a pattern, hf://" + ref.Repo + "/PATTERN"
		if ref.Glob != "" {
			what = fmt.Sprintf("no file matching %q", ref.Glob)
		}
		return nil, fmt.Errorf("%s: commit %s holds %s; its files: %s", ref, s.Commit, what, strings.Join(names, ", "))
	}
	return s, nil
}

// treeEntry is one entry of the Hub's tree listing.
type treeEntry struct {
	Type string `json:"type"`
	Path string `json:"path"`
	OID  string `json:"oid"`
	Size int64  `json:"size"`
	LFS  *struct {
		OID  string `json:"oid"`
		Size int64  `json:"size"`
	} `json:"lfs"`
}

// remote asks the Hub for the revision's commit and lists the commit's
// files (listing the commit, not the branch, so both answers agree).
func (c *Client) remote(ctx context.Context, ref Ref) (string, []File, error) {
	var info struct {
		SHA string `json:"sha"`
	}
	if _, err := c.getJSON(ctx, ref, c.apiURL(ref, "revision", ref.Revision), &info); err != nil {
		return "", nil, err
	}
	if !isCommit(info.SHA) {
		return "", nil, fmt.Errorf("%s: the Hub named no commit for revision %q (sha %q)", ref, ref.Revision, info.SHA)
	}
	var files []File
	next := c.apiURL(ref, "tree", info.SHA) + "?recursive=true"
	for pages := 0; next != ""; pages++ {
		if pages > 100_000 {
			return "", nil, fmt.Errorf("%s: the Hub's file listing does not end", ref)
		}
		var page []treeEntry
		var err error
		if next, err = c.getJSON(ctx, ref, next, &page); err != nil {
			return "", nil, err
		}
		for _, e := range page {
			if e.Type != "file" {
				continue
			}
			if !validRepoPath(e.Path) {
				return "", nil, fmt.Errorf("%s: the Hub listed a file path %q that is not a relative path", ref, e.Path)
			}
			f := File{Path: e.Path, Size: e.Size, GitOID: e.OID}
			if e.LFS != nil {
				f.SHA256, f.Size = e.LFS.OID, e.LFS.Size
			}
			if !validEtag(f.etag()) {
				return "", nil, fmt.Errorf("%s: the Hub listed %s with no usable hash (oid %q)", ref, e.Path, f.etag())
			}
			files = append(files, f)
		}
	}
	slices.SortFunc(files, func(a, b File) int { return strings.Compare(a.Path, b.Path) })
	return info.SHA, files, nil
}

// validRepoPath refuses a listed path that would land outside the snapshot.
func validRepoPath(p string) bool {
	return p != "" && !strings.HasPrefix(p, "/") && !strings.Contains(p, "\\") && path.Clean(p) == p && !strings.HasPrefix(p, "../") && p != ".."
}

func validEtag(s string) bool {
	if len(s) != 40 && len(s) != 64 {
		return false
	}
	for _, r := range s {
		if !strings.ContainsRune("0123456789abcdef", r) {
			return false
		}
	}
	return true
}

// cached resolves ref from the cache alone: the commit refs/REVISION names
// (or the revision itself, a commit), its files those of its snapshot.
func (c *Client) cached(ref Ref) (string, []File, error) {
	repo := filepath.Join(c.Cache, ref.folder())
	commit := ref.Revision
	if !isCommit(commit) {
		if err := checkRevision(ref.Revision); err != nil {
			return "", nil, fmt.Errorf("%s: %w", ref, err)
		}
		p := filepath.Join(repo, "refs", filepath.FromSlash(ref.Revision))
		b, err := os.ReadFile(p)
		if err != nil {
			return "", nil, fmt.Errorf("%s: HF_HUB_OFFLINE is set and revision %q of it is not in the cache %s (pull it while online: valuescope datasets pull %s)", ref, ref.Revision, c.Cache, ref)
		}
		commit = strings.TrimSpace(string(b))
		if !isCommit(commit) {
			return "", nil, fmt.Errorf("%s: the cache's %s holds %.80q, not a commit id (40 hex digits): pull the dataset again while online", ref, p, commit)
		}
	}
	snap := filepath.Join(repo, "snapshots", commit)
	var files []File
	err := filepath.WalkDir(snap, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(snap, p)
		st, err := os.Stat(p)
		if err != nil {
			return nil // a link to a blob that is gone is not a file of the snapshot
		}
		f := File{Path: filepath.ToSlash(rel), Local: p, Size: st.Size()}
		if target, err := os.Readlink(p); err == nil {
			switch etag := filepath.Base(target); len(etag) {
			case 64:
				f.SHA256 = etag
			case 40:
				f.GitOID = etag
			}
		}
		files = append(files, f)
		return nil
	})
	if errors.Is(err, fs.ErrNotExist) || (err == nil && len(files) == 0) {
		return "", nil, fmt.Errorf("%s: HF_HUB_OFFLINE is set and commit %s of it is not in the cache %s (pull it while online: valuescope datasets pull %s)", ref, commit, c.Cache, ref)
	}
	if err != nil {
		return "", nil, fmt.Errorf("%s: reading the cache: %w", ref, err)
	}
	return commit, files, nil
}

// Pull lists ref's files and brings each into the cache (those there
// already are not fetched again); each File's Local is then set.
func (c *Client) Pull(ctx context.Context, ref Ref, isData func(string) bool) (*Snapshot, error) {
	s, err := c.List(ctx, ref, isData)
	if err != nil {
		return nil, err
	}
	for i := range s.Files {
		f := &s.Files[i]
		if c.Offline {
			continue // List set Local from the snapshot itself
		}
		local, n, err := c.Download(ctx, ref, s.Commit, *f)
		if err != nil {
			return nil, err
		}
		f.Local = local
		if n > 0 {
			s.Fetched++
			s.FetchedBytes += n
		}
	}
	if !isCommit(ref.Revision) && !c.Offline {
		if err := c.writeRef(ref, s.Commit); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Resolve replaces each hf:// path among paths by the local files of its
// snapshot (pulled first), keeping the other paths as they are and in
// place; it returns the snapshots, in the order of their paths.
func (c *Client) Resolve(ctx context.Context, paths []string, isData func(string) bool) ([]string, []*Snapshot, error) {
	var out []string
	var snaps []*Snapshot
	for _, p := range paths {
		if !IsURL(p) {
			out = append(out, p)
			continue
		}
		ref, err := Parse(p)
		if err != nil {
			return nil, nil, err
		}
		s, err := c.Pull(ctx, ref, isData)
		if err != nil {
			return nil, nil, err
		}
		s.URL = p
		for _, f := range s.Files {
			out = append(out, f.Local)
		}
		snaps = append(snaps, s)
	}
	return out, snaps, nil
}

// HasURL says whether any of paths is an hf:// path.
func HasURL(paths []string) bool { return slices.ContainsFunc(paths, IsURL) }

// Name is f's name on the Hub, whatever cache holds it:
// hf://OWNER/NAME@COMMIT/PATH (a glob that names just the file).
func (s *Snapshot) Name(f File) string {
	return Ref{Repo: s.Repo, Revision: s.Commit, Glob: f.Path}.String()
}
