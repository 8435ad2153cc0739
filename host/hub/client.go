package hub

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// DefaultEndpoint is the Hub's address when HF_ENDPOINT is not set.
const DefaultEndpoint = "https://huggingface.co"

// Client talks to one Hub and keeps one cache. The zero value is not
// usable; FromEnv makes one as the official tools would.
type Client struct {
	// Endpoint is the Hub's base URL (HF_ENDPOINT).
	Endpoint string
	// Token is sent as a bearer token when set (HF_TOKEN, or the token file
	// the official login writes); it is needed for gated and private datasets.
	Token string
	// Cache is the cache folder (HF_HUB_CACHE).
	Cache string
	// Offline answers from the cache only (HF_HUB_OFFLINE=1): a revision is
	// what refs/REVISION says, the files those of its snapshot.
	Offline bool
	// HTTP is the client requests go through; nil: one with no overall
	// timeout (downloads are long), a 30 s response header timeout.
	HTTP *http.Client
	// Retries is how many times a request is tried again after a broken
	// connection, or an answer saying the Hub is busy (429) or failing
	// (5xx), before giving up; a download resumes where it broke off (the
	// .incomplete file stays for the next call). 0 or negative: never.
	Retries int
	// Backoff is the wait before the first retry, doubled for each next
	// (at most 30 s); 0: 1 s.
	Backoff time.Duration
	// IdleTimeout is how long a request (a download, a listing) may go
	// without a byte before it counts as broken off, and is tried again (a
	// download resumed) as after a dropped connection; 0:
	// DefaultIdleTimeout (HF_HUB_DOWNLOAD_TIMEOUT, in seconds, sets it).
	IdleTimeout time.Duration
	// Log, if set, is told of each download.
	Log *slog.Logger

	// envErr is a malformed environment variable FromEnv found; List
	// returns it, so that no call goes on with a setting not asked for.
	envErr error
}

// DefaultIdleTimeout is the official client's HF_HUB_DOWNLOAD_TIMEOUT default.
const DefaultIdleTimeout = 10 * time.Second

// FromEnv returns a client configured by the official environment
// variables: HF_ENDPOINT, HF_TOKEN (else the legacy HUGGING_FACE_HUB_TOKEN,
// else the file HF_TOKEN_PATH or $HF_HOME/token), HF_HUB_CACHE (else the
// legacy HUGGINGFACE_HUB_CACHE, else $HF_HOME/hub, HF_HOME defaulting to
// $XDG_CACHE_HOME/huggingface, then ~/.cache/huggingface; a leading ~ is the
// home folder, as the official client expands it), HF_HUB_OFFLINE,
// HF_HUB_DOWNLOAD_TIMEOUT.
func FromEnv() *Client {
	c := &Client{Endpoint: strings.TrimRight(os.Getenv("HF_ENDPOINT"), "/"), Retries: 3}
	if c.Endpoint == "" {
		c.Endpoint = DefaultEndpoint
	}
	home := expandHome(os.Getenv("HF_HOME"))
	if home == "" {
		cache := os.Getenv("XDG_CACHE_HOME")
		if cache == "" {
			if h, err := os.UserHomeDir(); err == nil {
				cache = filepath.Join(h, ".cache")
			}
		}
		home = filepath.Join(cache, "huggingface")
	}
	c.Cache = expandHome(cmp.Or(os.Getenv("HF_HUB_CACHE"), os.Getenv("HUGGINGFACE_HUB_CACHE")))
	if c.Cache == "" {
		c.Cache = filepath.Join(home, "hub")
	}
	c.Token = strings.TrimSpace(cmp.Or(os.Getenv("HF_TOKEN"), os.Getenv("HUGGING_FACE_HUB_TOKEN")))
	if c.Token == "" {
		tokenPath := expandHome(os.Getenv("HF_TOKEN_PATH"))
		if tokenPath == "" {
			tokenPath = filepath.Join(home, "token")
		}
		if b, err := os.ReadFile(tokenPath); err == nil {
			c.Token = strings.TrimSpace(string(b))
		}
	}
	switch strings.ToLower(os.Getenv("HF_HUB_OFFLINE")) {
	case "1", "true", "yes", "on":
		c.Offline = true
	}
	if v := os.Getenv("HF_HUB_DOWNLOAD_TIMEOUT"); v != "" {
		secs, err := strconv.ParseFloat(v, 64)
		if err != nil || !(secs > 0) || secs > 1e6 {
			c.envErr = fmt.Errorf("HF_HUB_DOWNLOAD_TIMEOUT=%q: want a number of seconds over 0", v)
		} else {
			c.IdleTimeout = time.Duration(secs * float64(time.Second))
		}
	}
	return c
}

// expandHome replaces a leading ~ by the user's home folder.
func expandHome(p string) string {
	if p != "~" && !strings.HasPrefix(p, "~/") {
		return p
	}
	h, err := os.UserHomeDir()
	if err != nil {
		return p
	}
	return filepath.Join(h, p[1:])
}

func (c *Client) idleTimeout() time.Duration {
	if c.IdleTimeout > 0 {
		return c.IdleTimeout
	}
	return DefaultIdleTimeout
}

var defaultHTTP = &http.Client{Transport: &http.Transport{
	Proxy:                 http.ProxyFromEnvironment,
	ResponseHeaderTimeout: 30 * time.Second,
	TLSHandshakeTimeout:   30 * time.Second,
	MaxIdleConnsPerHost:   4,
}}

func (c *Client) http() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return defaultHTTP
}

// following returns the HTTP client to send a request to the Hub with: on a
// redirect to any other host than the request's own, the token is dropped
// (Go's client would keep it for a subdomain, such as the CDN's
// cdn-lfs.huggingface.co, whose signed URLs need none), as the official
// client does. When first is not nil, it is set to the first redirect's
// response headers (the Hub's own answer, before the CDN's).
func (c *Client) following(first *http.Header) *http.Client {
	hc := *c.http()
	prev := hc.CheckRedirect
	hc.CheckRedirect = func(r *http.Request, via []*http.Request) error {
		if first != nil && *first == nil && r.Response != nil {
			*first = r.Response.Header
		}
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		if r.URL.Host != via[0].URL.Host {
			r.Header.Del("Authorization")
		}
		if prev != nil {
			return prev(r, via)
		}
		return nil
	}
	return &hc
}

// request makes a GET (or HEAD) request to the Hub with the client's token
// (send it with following, which keeps the token from other hosts).
func (c *Client) request(ctx context.Context, method, u string) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", "valuescope (huggingface_hub compatible)")
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	return req, nil
}

// retryable says whether a failed request may succeed when tried again:
// after a broken connection, or the Hub answering that it is busy (429) or
// failing (5xx); not after any other answer of the Hub, or bytes that are
// not the file asked for.
func retryable(err error) bool {
	var he *Error
	if errors.As(err, &he) {
		return he.Status == http.StatusTooManyRequests || he.Status >= 500
	}
	var hash *HashError
	return !errors.As(err, &hash) && !errors.Is(err, errNotAsked)
}

// retry waits before try attempt+1 (Backoff, doubled for each try), or
// returns false when no more tries are left or the context ends.
func (c *Client) retry(ctx context.Context, attempt int, err error) bool {
	if attempt >= c.Retries || ctx.Err() != nil || !retryable(err) {
		return false
	}
	d := min(cmp.Or(c.Backoff, time.Second)<<min(attempt, 16), 30*time.Second)
	if c.Log != nil {
		c.Log.Warn("asking the Hub again", "after", d, "error", err)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// getJSON fetches an API URL into v, tried again as retry says; its second
// result is the response's Link rel="next" URL, if any (the Hub pages long
// listings so).
func (c *Client) getJSON(ctx context.Context, ref Ref, u string, v any) (string, error) {
	for attempt := 0; ; attempt++ {
		next, err := c.getJSONOnce(ctx, ref, u, v)
		if err == nil || !c.retry(ctx, attempt, err) {
			return next, err
		}
	}
}

func (c *Client) getJSONOnce(ctx context.Context, ref Ref, u string, v any) (string, error) {
	ctx, w := c.watch(ctx)
	defer w.stop()
	req, err := c.request(ctx, http.MethodGet, u)
	if err != nil {
		return "", err
	}
	resp, err := c.following(nil).Do(req)
	if err != nil {
		return "", fmt.Errorf("%s: asking the Hub (HF_ENDPOINT %s): %w", ref, c.Endpoint, w.err(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", c.statusError(ref, resp)
	}
	if err := json.NewDecoder(io.LimitReader(w.reader(resp.Body), 1<<30)).Decode(v); err != nil {
		return "", fmt.Errorf("%s: reading the Hub's answer to GET %s: %w", ref, u, w.err(err))
	}
	return nextLink(resp.Header.Values("Link")), nil
}

// nextLink returns the URL of a Link header's rel="next" entry.
func nextLink(links []string) string {
	for _, h := range links {
		for _, l := range strings.Split(h, ",") {
			u, params, ok := strings.Cut(strings.TrimSpace(l), ";")
			if !ok || !strings.Contains(strings.ReplaceAll(params, " ", ""), `rel="next"`) {
				continue
			}
			return strings.Trim(strings.TrimSpace(u), "<>")
		}
	}
	return ""
}

// Error is an answer of the Hub that is not the file or listing asked
// for. Its message says what to do; Code is the Hub's X-Error-Code
// (GatedRepo, RepoNotFound, RevisionNotFound, EntryNotFound) when it sent one.
type Error struct {
	Ref     Ref
	URL     string
	Status  int
	Code    string
	Message string
	// hint says what to do about it.
	hint string
}

func (e *Error) Error() string {
	msg := fmt.Sprintf("%s: the Hub answered %d %s to GET %s", e.Ref, e.Status, http.StatusText(e.Status), e.URL)
	if e.Code != "" {
		msg += " (" + e.Code + ")"
	}
	if e.Message != "" {
		msg += ": " + e.Message
	}
	if e.hint != "" {
		msg += "\n" + e.hint
	}
	return msg
}

// Gated says whether the dataset asks its users to accept terms first.
func (e *Error) Gated() bool { return e.Code == "GatedRepo" }

// statusError reads an error answer: the X-Error-Code and X-Error-Message
// headers the Hub sets, else the body's {"error": ...}.
func (c *Client) statusError(ref Ref, resp *http.Response) error {
	e := &Error{Ref: ref, URL: resp.Request.URL.String(), Status: resp.StatusCode,
		Code: resp.Header.Get("X-Error-Code"), Message: resp.Header.Get("X-Error-Message")}
	if e.Message == "" {
		var body struct {
			Error string `json:"error"`
		}
		if json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&body) == nil {
			e.Message = body.Error
		}
	}
	page := c.Endpoint + "/datasets/" + ref.Repo
	switch {
	case e.Code == "GatedRepo" || (e.Status == http.StatusForbidden && strings.Contains(strings.ToLower(e.Message), "gated")):
		e.Code = "GatedRepo"
		if c.Token == "" {
			e.hint = fmt.Sprintf("%s is a gated dataset: log in at %s, accept its terms there, then set HF_TOKEN to an access token of that account (%s/settings/tokens)", ref.Repo, page, c.Endpoint)
		} else {
			e.hint = fmt.Sprintf("%s is a gated dataset and the account of HF_TOKEN has no access to it yet: accept its terms at %s with that account (some datasets also wait for their authors' approval), or set HF_TOKEN to a token of an account that has", ref.Repo, page)
		}
	case e.Code == "RepoNotFound" || (e.Status == http.StatusUnauthorized && e.Code == "" && c.Token == ""):
		e.hint = fmt.Sprintf("no dataset %s on %s (check the name; a private dataset needs HF_TOKEN set to a token with access)", ref.Repo, c.Endpoint)
	case e.Code == "RevisionNotFound":
		e.hint = fmt.Sprintf("dataset %s has no revision %q (a branch, tag or commit; see %s/tree/main)", ref.Repo, ref.Revision, page)
	case e.Code == "EntryNotFound":
		e.hint = fmt.Sprintf("the file is not in dataset %s at revision %q", ref.Repo, ref.Revision)
	case e.Status == http.StatusUnauthorized:
		e.hint = "the Hub refused HF_TOKEN: set it to a valid access token (" + c.Endpoint + "/settings/tokens)"
	case e.Status == http.StatusTooManyRequests:
		e.hint = "the Hub limits requests: wait and try again (with HF_TOKEN set the limit is higher)"
	}
	return e
}

// IsNotFound says whether err is the Hub saying a repository, revision
// or file does not exist.
func IsNotFound(err error) bool {
	var e *Error
	return errors.As(err, &e) && (e.Code == "RepoNotFound" || e.Code == "RevisionNotFound" || e.Code == "EntryNotFound" || e.Status == http.StatusNotFound)
}

// apiURL is an API address under the repository: /api/datasets/REPO/WHAT/REV...
func (c *Client) apiURL(ref Ref, what, rev string, rest ...string) string {
	u := c.Endpoint + "/api/datasets/" + ref.Repo + "/" + what + "/" + url.PathEscape(rev)
	for _, r := range rest {
		u += "/" + r
	}
	return u
}

// resolveURL is a file's download address, as hf_hub_url makes it.
func (c *Client) resolveURL(ref Ref, commit, path string) string {
	segs := strings.Split(path, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return c.Endpoint + "/datasets/" + ref.Repo + "/resolve/" + url.PathEscape(commit) + "/" + strings.Join(segs, "/")
}
