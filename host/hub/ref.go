// Package hub reads datasets from the Hugging Face Hub into the Hub's own
// local cache, so that a dataset path hf://OWNER/NAME[@REVISION][/GLOB]
// becomes files the dataset reader opens like any other.
//
// It speaks the Hub's public HTTP API as the official huggingface_hub
// client does: a revision (branch, tag or commit) is resolved to its commit
// (GET /api/datasets/REPO/revision/REV), the commit's files are listed
// (GET /api/datasets/REPO/tree/COMMIT?recursive=true, paged by Link
// headers), and each file is downloaded from
// /datasets/REPO/resolve/COMMIT/PATH, which redirects large (LFS) files to a
// CDN. The cache is the official layout under HF_HUB_CACHE, so files
// fetched by the Hugging Face tools are reused here and the other way round:
//
//	datasets--OWNER--NAME/blobs/ETAG                 the file's bytes
//	datasets--OWNER--NAME/snapshots/COMMIT/PATH  ->  ../../blobs/ETAG
//	datasets--OWNER--NAME/refs/REVISION              the commit REVISION was
//
// ETAG is the file's SHA-256 for LFS files and its git blob id (SHA-1)
// otherwise; every download is checked against it (and its size) before it
// becomes a blob, so the cache never holds a file that is not the Hub's. A
// download in progress lives in blobs/ETAG.incomplete, resumed with an HTTP
// Range request after a broken connection or a killed process, and is held
// under a lock (.locks/datasets--OWNER--NAME/ETAG.lock) so that two pulls at
// once share one download.
package hub

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"unicode"

	"github.com/bmatcuk/doublestar/v4"
)

// Scheme begins every Hub dataset path.
const Scheme = "hf://"

// IsURL says whether a dataset path names a Hub dataset.
func IsURL(s string) bool { return strings.HasPrefix(s, Scheme) }

// Ref is a parsed hf:// dataset path.
type Ref struct {
	// Repo is OWNER/NAME.
	Repo string
	// Revision is a branch, tag or commit; "main" when the path gives none.
	Revision string
	// Glob selects files by their path in the repository ("**" crosses
	// folders); "" takes every data file (dataset.IsDataFile).
	Glob string
}

var namePart = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// Parse reads hf://OWNER/NAME[@REVISION][/GLOB]. The official client's
// hf://datasets/OWNER/NAME form is accepted too. A revision holding a slash
// (refs/pr/1) is written with %2F, as in the Hub's own URLs.
func Parse(s string) (Ref, error) {
	bad := func(why string) (Ref, error) {
		return Ref{}, fmt.Errorf("dataset path %q: %s (want hf://OWNER/NAME[@REVISION][/GLOB])", s, why)
	}
	if !IsURL(s) {
		return bad("not an hf:// path")
	}
	rest := strings.TrimPrefix(strings.TrimPrefix(s, Scheme), "datasets/")
	parts := strings.SplitN(rest, "/", 3)
	if len(parts) < 2 {
		return bad("no dataset name")
	}
	owner, name := parts[0], parts[1]
	r := Ref{Revision: "main"}
	if i := strings.IndexByte(name, '@'); i >= 0 {
		rev, err := url.PathUnescape(name[i+1:])
		if err != nil || rev == "" {
			return bad("empty or malformed revision after @")
		}
		if rev == "refs" && len(parts) == 3 {
			// hf://o/n@refs/pr/1/GLOB: the revision's own slashes end it.
			return bad(fmt.Sprintf("a revision holding a slash (refs/pr/1, refs/convert/parquet) is written with %%2F after @, as hf://%s/%s@refs%%2Fpr%%2F1/GLOB", owner, name[:i]))
		}
		if err := checkRevision(rev); err != nil {
			return bad(err.Error())
		}
		name, r.Revision = name[:i], rev
	}
	if !namePart.MatchString(owner) || !namePart.MatchString(name) || strings.Contains(owner+name, "..") {
		return bad(fmt.Sprintf("%q is not a repository OWNER/NAME", owner+"/"+name))
	}
	r.Repo = owner + "/" + name
	if len(parts) == 3 {
		r.Glob = strings.Trim(parts[2], "/")
		if strings.Contains("/"+r.Glob+"/", "/../") {
			return bad("the file pattern must not climb out of the repository (..)")
		}
		if !doublestar.ValidatePattern(r.Glob) {
			return bad(fmt.Sprintf("%q is not a valid file pattern (unclosed [ or {, or a trailing \\)", r.Glob))
		}
	}
	return r, nil
}

// String writes r back in the form Parse reads.
func (r Ref) String() string {
	s := Scheme + r.Repo
	if r.Revision != "" && r.Revision != "main" {
		s += "@" + url.PathEscape(r.Revision)
	}
	if r.Glob != "" {
		s += "/" + r.Glob
	}
	return s
}

// folder is the repository's folder in the cache (datasets--OWNER--NAME).
func (r Ref) folder() string { return "datasets--" + strings.ReplaceAll(r.Repo, "/", "--") }

var commitID = regexp.MustCompile(`^[0-9a-f]{40}$`)

// isCommit says whether a revision is a full commit id, which never moves.
func isCommit(rev string) bool { return commitID.MatchString(rev) }

// checkRevision refuses a revision that would not stay one file under
// refs/ (it names the file the cache records the revision's commit in):
// an empty, "." or ".." segment, a leading or trailing slash, a backslash
// or a control character.
func checkRevision(rev string) error {
	if rev == "" {
		return errors.New("empty revision")
	}
	if strings.ContainsFunc(rev, func(r rune) bool { return r == '\\' || unicode.IsControl(r) }) {
		return fmt.Errorf("revision %q holds a backslash or a control character", rev)
	}
	for _, seg := range strings.Split(rev, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return fmt.Errorf("revision %q has an empty, . or .. part (a branch, tag or commit, refs/pr/N)", rev)
		}
	}
	return nil
}

// Pinned says whether the revision is a commit, so that the path always
// names the same files (a branch or tag may move).
func (r Ref) Pinned() bool { return isCommit(r.Revision) }

// At is r at another revision (a commit its branch was, to pin it).
func (r Ref) At(revision string) Ref { r.Revision = revision; return r }

// Selection is the path without its revision: which files of which
// dataset, whatever commit they are read at. A run keys its selection on it
// (the commit is the files' identity), so a run begun on a branch is
// resumed over the branch's commit, pinned.
func (r Ref) Selection() string { return r.At("main").String() }
