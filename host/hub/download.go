package hub

import (
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/gofrs/flock"
	"github.com/valuescope/valuescope/internal/atomicfile"
)

// HashError is a download whose bytes are not the file the Hub listed: it
// is refused, and nothing of it is kept.
type HashError struct {
	Ref       Ref
	Path      string
	What      string // "sha256", "git blob id" or "size"
	Got, Want string
}

func (e *HashError) Error() string {
	return fmt.Sprintf("%s: downloaded %s has %s %s, the Hub lists %s: refused, not cached (a proxy or CDN serving other bytes? try again)", e.Ref, e.Path, e.What, e.Got, e.Want)
}

// Download brings one file of ref at commit into the cache and returns its
// snapshot path and the bytes fetched (0 when it was cached already).
func (c *Client) Download(ctx context.Context, ref Ref, commit string, f File) (string, int64, error) {
	repo := filepath.Join(c.Cache, ref.folder())
	etag := f.etag()
	if !validEtag(etag) || !validRepoPath(f.Path) {
		return "", 0, fmt.Errorf("%s: %s has no usable hash (%q)", ref, f.Path, etag)
	}
	if !isCommit(commit) {
		return "", 0, fmt.Errorf("%s: %q is not a commit id (40 hex digits) to download %s at", ref, commit, f.Path)
	}
	blob := filepath.Join(repo, "blobs", etag)
	pointer := filepath.Join(repo, "snapshots", commit, filepath.FromSlash(f.Path))
	if st, err := os.Stat(pointer); err == nil && st.Size() == f.Size {
		return pointer, 0, nil
	}
	var fetched int64
	if st, err := os.Stat(blob); err != nil || st.Size() != f.Size {
		lockDir := filepath.Join(c.Cache, ".locks", ref.folder())
		if err := os.MkdirAll(lockDir, 0o755); err != nil {
			return "", 0, fmt.Errorf("%s: cache: %w", ref, err)
		}
		lock := flock.New(filepath.Join(lockDir, etag+".lock"))
		if _, err := lock.TryLockContext(ctx, 100*time.Millisecond); err != nil {
			return "", 0, fmt.Errorf("%s: waiting for the cache lock of %s: %w", ref, f.Path, err)
		}
		// Another pull may have fetched it while this one waited.
		if st, err := os.Stat(blob); err != nil || st.Size() != f.Size {
			if c.Log != nil {
				c.Log.Info("downloading from the Hub", "dataset", ref.Repo, "commit", commit, "file", f.Path, "bytes", f.Size)
			}
			fetched, err = c.fetch(ctx, ref, commit, f, blob)
			if err != nil {
				lock.Unlock()
				return "", 0, err
			}
		}
		lock.Unlock()
	}
	if err := link(blob, pointer); err != nil {
		return "", 0, fmt.Errorf("%s: cache: %w", ref, err)
	}
	return pointer, fetched, nil
}

// link points the snapshot's path at the blob, by a relative symlink as the
// official client makes it, replacing whatever was there in one rename.
func link(blob, pointer string) error {
	if err := os.MkdirAll(filepath.Dir(pointer), 0o755); err != nil {
		return err
	}
	rel, err := filepath.Rel(filepath.Dir(pointer), blob)
	if err != nil {
		return err
	}
	tmp := fmt.Sprintf("%s.%d.%x.tmp", pointer, os.Getpid(), rand.Uint64()) // unique among pulls at once, in this process or another
	if err := os.Symlink(rel, tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, pointer); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// writeRef records the commit a revision was, as refs/REVISION.
func (c *Client) writeRef(ref Ref, commit string) error {
	if err := checkRevision(ref.Revision); err != nil {
		return fmt.Errorf("%s: %w", ref, err)
	}
	if !isCommit(commit) {
		return fmt.Errorf("%s: %q is not a commit id to record for revision %q", ref, commit, ref.Revision)
	}
	p := filepath.Join(c.Cache, ref.folder(), "refs", filepath.FromSlash(ref.Revision))
	if b, err := os.ReadFile(p); err == nil && string(b) == commit {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("%s: cache: %w", ref, err)
	}
	if err := atomicfile.WriteBytes(p, []byte(commit)); err != nil {
		return fmt.Errorf("%s: cache: recording revision %q in %s: %w", ref, ref.Revision, p, err)
	}
	return nil
}

// fetch downloads f into blob, through blob.incomplete: resumed from what
// is there, retried after a broken connection, checked, then renamed.
func (c *Client) fetch(ctx context.Context, ref Ref, commit string, f File, blob string) (int64, error) {
	if err := os.MkdirAll(filepath.Dir(blob), 0o755); err != nil {
		return 0, fmt.Errorf("%s: cache: %w", ref, err)
	}
	part := blob + ".incomplete"
	out, err := os.OpenFile(part, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return 0, fmt.Errorf("%s: cache: %w", ref, err)
	}
	defer func() {
		// A download refused before any byte came leaves nothing behind.
		if st, err := out.Stat(); err == nil && st.Size() == 0 {
			os.Remove(part)
		}
		out.Close()
	}()
	h, err := resumeHash(out, f)
	if err != nil {
		return 0, fmt.Errorf("%s: cache: reading %s: %w", ref, part, err)
	}
	u := c.resolveURL(ref, commit, f.Path)
	var fetched int64
	for attempt := 0; ; attempt++ {
		n, err := c.get(ctx, ref, commit, f, u, out, &h)
		fetched += n
		if err == nil {
			break
		}
		if !c.retry(ctx, attempt, err) {
			return fetched, err // a Hub's refusal is not a broken connection
		}
	}
	if err := c.verify(ref, f, out, h); err != nil {
		if _, ok := err.(*HashError); !ok {
			return fetched, fmt.Errorf("%s: cache: %s: %w", ref, part, err)
		}
		out.Close()
		os.Remove(part)
		return fetched, err
	}
	if err := out.Sync(); err != nil {
		return fetched, fmt.Errorf("%s: cache: %w", ref, err)
	}
	if err := os.Rename(part, blob); err != nil {
		return fetched, fmt.Errorf("%s: cache: %w", ref, err)
	}
	return fetched, nil
}

// resumeHash positions out at its end (truncating what is longer than the
// file) and returns a hash of the bytes there already.
func resumeHash(out *os.File, f File) (hash.Hash, error) {
	st, err := out.Stat()
	if err != nil {
		return nil, err
	}
	if st.Size() > f.Size {
		if err := out.Truncate(0); err != nil {
			return nil, err
		}
	}
	h := newHash(f)
	if _, err := out.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	if _, err := io.Copy(h, out); err != nil {
		return nil, err
	}
	return h, nil
}

// newHash is the hash the file is checked with: SHA-256 for an LFS file, the
// git blob id (SHA-1 of "blob SIZE\x00" and the bytes) otherwise.
func newHash(f File) hash.Hash {
	if f.SHA256 != "" {
		return sha256.New()
	}
	h := sha1.New()
	fmt.Fprintf(h, "blob %d\x00", f.Size)
	return h
}

// get makes one request for the rest of the file (from out's length on) and
// appends what comes to out and to *h. A 200 to a range request restarts the
// file; a 416 when the file is whole is success.
func (c *Client) get(ctx context.Context, ref Ref, commit string, f File, u string, out *os.File, h *hash.Hash) (int64, error) {
	have, err := out.Seek(0, io.SeekEnd)
	if err != nil {
		return 0, fmt.Errorf("%s: cache: %s: %w", ref, out.Name(), err)
	}
	// A server that stops sending (a stalled connection) ends the request
	// after the idle timeout, which fetch resumes as a broken one.
	ctx, w := c.watch(ctx)
	defer w.stop()
	req, err := c.request(ctx, http.MethodGet, u)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Accept-Encoding", "identity")
	if have > 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", have))
	}
	// The Hub's first answer (a redirect to the CDN for an LFS file) says
	// which commit and which file it serves; the CDN's says neither.
	var first http.Header
	hc := c.following(&first)
	resp, err := hc.Do(req)
	if err != nil {
		return 0, fmt.Errorf("%s: downloading %s: %w", ref, f.Path, w.err(err))
	}
	defer resp.Body.Close()
	if first == nil {
		first = resp.Header
	}
	if err := checkServed(ref, commit, f, first); err != nil {
		return 0, err
	}
	switch resp.StatusCode {
	case http.StatusOK:
		if have > 0 { // the server ignored the range: start over
			if err := out.Truncate(0); err != nil {
				return 0, fmt.Errorf("%s: cache: %s: %w", ref, out.Name(), err)
			}
			if _, err := out.Seek(0, io.SeekStart); err != nil {
				return 0, fmt.Errorf("%s: cache: %s: %w", ref, out.Name(), err)
			}
			*h = newHash(f)
			have = 0
		}
	case http.StatusPartialContent:
		if start, ok := rangeStart(resp.Header.Get("Content-Range")); !ok || start != have {
			return 0, fmt.Errorf("%s: downloading %s: asked for bytes from %d, the server sent Content-Range %q", ref, f.Path, have, resp.Header.Get("Content-Range"))
		}
	case http.StatusRequestedRangeNotSatisfiable:
		if have == f.Size {
			return 0, nil
		}
		return 0, fmt.Errorf("%s: downloading %s: the server refused bytes from %d of %d (416)", ref, f.Path, have, f.Size)
	default:
		return 0, c.statusError(ref, resp)
	}
	// Never more than the listed size: a server sending more is wrong,
	// and the check after says so.
	n, err := io.Copy(io.MultiWriter(out, *h), io.LimitReader(w.reader(resp.Body), f.Size-have+1))
	if err != nil {
		return n, fmt.Errorf("%s: downloading %s: broke off after %d of %d bytes: %w", ref, f.Path, have+n, f.Size, w.err(err))
	}
	if have+n < f.Size {
		// A body that ended cleanly but short (no length said) is resumed,
		// not refused: the bytes there are the file's start.
		return n, fmt.Errorf("%s: downloading %s: the answer ended after %d of %d bytes", ref, f.Path, have+n, f.Size)
	}
	return n, nil
}

// errNotAsked is an answer for another commit or file than asked for:
// asking again would not change it.
var errNotAsked = errors.New("not the file asked for")

// errStalled is a request that got no byte for the idle timeout.
var errStalled = errors.New("no byte came")

// idleWatch ends a request (through its context) once no byte came for
// the client's idle timeout: ResponseHeaderTimeout alone lets a body that
// stops coming hang for ever.
type idleWatch struct {
	ctx    context.Context
	cancel context.CancelCauseFunc
	timer  *time.Timer
	idle   time.Duration
}

// watch returns the context to make a request with, and its watch.
func (c *Client) watch(ctx context.Context) (context.Context, *idleWatch) {
	w := &idleWatch{idle: c.idleTimeout()}
	w.ctx, w.cancel = context.WithCancelCause(ctx)
	w.timer = time.AfterFunc(w.idle, func() { w.cancel(errStalled) })
	return w.ctx, w
}

func (w *idleWatch) stop() {
	w.timer.Stop()
	w.cancel(nil)
}

// reader is r, each read that brings bytes restarting the timeout.
func (w *idleWatch) reader(r io.Reader) io.Reader { return &idleReader{r: r, w: w} }

// err says, of a request's error, when it is the watch that ended it.
func (w *idleWatch) err(err error) error {
	if context.Cause(w.ctx) == errStalled {
		return fmt.Errorf("%w for %s (HF_HUB_DOWNLOAD_TIMEOUT): %w", errStalled, w.idle, err)
	}
	return err
}

type idleReader struct {
	r io.Reader
	w *idleWatch
}

func (r *idleReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if n > 0 {
		r.w.timer.Reset(r.w.idle)
	}
	return n, err
}

// checkServed compares the Hub's X-Repo-Commit and X-Linked-Etag (else
// ETag) with the commit and file asked for, when it sent them.
func checkServed(ref Ref, commit string, f File, h http.Header) error {
	if got := h.Get("X-Repo-Commit"); got != "" && got != commit {
		return fmt.Errorf("%s: asked for %s at commit %s, the Hub served commit %s: %w", ref, f.Path, commit, got, errNotAsked)
	}
	etag := h.Get("X-Linked-Etag")
	if etag == "" {
		etag = h.Get("ETag")
	}
	etag = strings.Trim(strings.TrimPrefix(etag, "W/"), `"`)
	if validEtag(etag) && etag != f.etag() && !(f.SHA256 != "" && len(etag) == 40) {
		// An LFS file's ETag (without X-Linked-Etag) may be its pointer's git id.
		return fmt.Errorf("%s: asked for %s (etag %s), the Hub served etag %s: %w", ref, f.Path, f.etag(), etag, errNotAsked)
	}
	return nil
}

// rangeStart reads the first byte of a Content-Range "bytes START-END/SIZE".
func rangeStart(cr string) (int64, bool) {
	s, ok := strings.CutPrefix(cr, "bytes ")
	if !ok {
		return 0, false
	}
	s, _, ok = strings.Cut(s, "-")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

// verify checks the downloaded file's size and hash against the listing.
func (c *Client) verify(ref Ref, f File, out *os.File, h hash.Hash) error {
	st, err := out.Stat()
	if err != nil {
		return err
	}
	if st.Size() != f.Size {
		return &HashError{Ref: ref, Path: f.Path, What: "size", Got: strconv.FormatInt(st.Size(), 10), Want: strconv.FormatInt(f.Size, 10)}
	}
	got := hex.EncodeToString(h.Sum(nil))
	if got != f.etag() {
		what := "sha256"
		if f.SHA256 == "" {
			what = "git blob id"
		}
		return &HashError{Ref: ref, Path: f.Path, What: what, Got: got, Want: f.etag()}
	}
	return nil
}
